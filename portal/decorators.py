"""View decorators: the role check that guards every portal action."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal import outcomes
from portal.roles import refusal

View = Callable[..., HttpResponse]


def requires(codename: str, action: str | None = None) -> Callable[[View], View]:
    """Refuse with 403 and a sentence naming the role needed, before any upstream call.

    With `action`, a refused attempt is also recorded in the audit log.
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
            template = "portal/forbidden.html"
            if getattr(request, "htmx", False):
                template += "#message"
            return render(request, template, {"message": message}, status=403)

        return wrapper

    return decorator
