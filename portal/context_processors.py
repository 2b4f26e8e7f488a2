from django.conf import settings
from django.http import HttpRequest

from portal.roles import role_of


def portal(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "portal_role": role_of(user) if user is not None else None,
        "refresh_seconds": settings.PORTAL_REFRESH_SECONDS,
        "allow_self_token": settings.PORTAL_ALLOW_SELF_TOKEN,
    }
