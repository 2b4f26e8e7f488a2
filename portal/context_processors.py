from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse

from portal.roles import role_of


@dataclass(frozen=True)
class MenuLink:
    href: str
    label: str
    current: bool


# The main menu: (label, url name, the permission it needs or None, the url names or app it
# marks as the current page). A link the user may not follow is not shown.
MENU: list[tuple[str, str, str | None, tuple[str, ...]]] = [
    ("Devices", "devices:list", "view_devices", ("app:devices",)),
    ("Jobs", "fleet:jobs", "view_devices", ("prefix:job", "bulk")),
    ("Firmware library", "fleet:library", "view_devices", ("prefix:library",)),
    ("Rollouts", "fleet:rollouts", "view_devices", ("prefix:rollout",)),
    ("Tokens", "team:tokens", "manage_tokens", ("prefix:token",)),
    ("Users", "team:users", "manage_users", ("prefix:user",)),
    ("Audit log", "team:audit", "view_audit", ("audit",)),
    ("My activity", "team:my_activity", None, ("my_activity",)),
    ("My API token", "team:my_token", None, ("my_token",)),
]


@lru_cache(maxsize=64)
def _href(script_prefix: str, url_name: str) -> str:
    """reverse() once per prefix: the menu's links are the same on every page."""
    return reverse(url_name)


def _is_current(marks: tuple[str, ...], request: HttpRequest) -> bool:
    match = request.resolver_match
    if match is None:
        return False
    for mark in marks:
        kind, _, value = mark.rpartition(":")
        if kind == "app" and match.app_name == value:
            return True
        if kind == "prefix" and match.url_name and match.url_name.startswith(value):
            return True
        if not kind and match.url_name == value:
            return True
    return False


def menu(request: HttpRequest) -> list[MenuLink]:
    """The main menu's links for the signed-in user, the current page's marked."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    prefix = get_script_prefix()
    return [
        MenuLink(_href(prefix, url_name), label, _is_current(marks, request))
        for label, url_name, needs, marks in MENU
        if (needs is None or user.has_perm(f"portal.{needs}"))
        and (url_name != "team:my_token" or settings.PORTAL_ALLOW_SELF_TOKEN)
    ]


def portal(request: HttpRequest) -> dict[str, object]:
    """The role, the menu and the refresh interval, worked out once per request.

    Every template rendered with the request runs this: a device's page with its panels
    drawn in it renders five, and the menu's permission checks are the same for all of
    them. Worked out again if the request's user changes (a sign-in, a sign-out) or their
    permissions are reloaded (portal.services.set_role drops them).
    """
    user = getattr(request, "user", None)
    kept = getattr(request, "_portal_context", None)
    if kept is not None and kept[0] is user and kept[1] is getattr(user, "_perm_cache", None):
        return kept[2]
    found = {
        "portal_role": role_of(user) if user is not None else None,
        "menu": menu(request),
        "refresh_seconds": settings.PORTAL_REFRESH_SECONDS,
    }
    # Keyed to the permissions as the checks above left them (the first check loads them).
    request._portal_context = (user, getattr(user, "_perm_cache", None), found)
    return found
