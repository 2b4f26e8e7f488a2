"""View decorators: the role check that guards every portal action."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal import outcomes
from portal.roles import refusal, role_of

NO_ROLE = "Your account has no role yet: ask an admin to give you one."

View = Callable[..., HttpResponse]


def requires(codename: str, action: str | None = None) -> Callable[[View], View]:
    """Refuse with 403 and a sentence naming the role needed, before any upstream call.

    With `action`, a refused attempt is also recorded in the audit log. A user with no role
    gets the "no role yet" page instead.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.user.has_perm(f"portal.{codename}"):
                return view(request, *args, **kwargs)
            message = refusal(codename)
            if action:
                # Any uid as typed in the address, NUL included: the row escapes it.
                outcomes.refuse(request, action, message, device_uid=str(kwargs.get("uid", "")))
            # No role at all: one page that says so, with nowhere to go but sign-out (a
            # refusal's "Back to the devices" would lead to the same refusal).
            no_role = role_of(request.user) is None and not _any_portal_permission(request.user)
            template = "portal/no_role.html" if no_role else "portal/forbidden.html"
            if getattr(request, "htmx", False):
                template += "#message"
            context = {"message": message, "no_role": NO_ROLE}
            return render(request, template, context, status=403)

        return wrapper

    return decorator


def _any_portal_permission(user) -> bool:
    # A site's own groups (not one of the four roles) may still grant some portal actions.
    return any(name.startswith("portal.") for name in user.get_all_permissions())
