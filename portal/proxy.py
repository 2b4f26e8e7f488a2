"""The client's address behind the reverse proxies in front of the portal.

The sign-in lockout (django-axes, through `AXES_CLIENT_IP_CALLABLE`) and the audit log both
take the address from `client_address`, so they always agree.

Each proxy appends the address it received the request from to `X-Forwarded-For`; whatever a
client wrote there itself stays on the left. With `PORTAL_PROXY_COUNT` = N, the last N entries
are the ones our own proxies wrote, and the Nth from the right is the address the first proxy
saw: the client. Nothing left of it is trusted. With N = 0 the header is not read at all.

django-ipware, which django-axes can use, counts differently: it expects the proxies' own
addresses in the header too, and with django-axes' default settings it looks at REMOTE_ADDR
only, so one honest proxy gave no address at all. docs/security.md, "Behind a proxy".
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The client's address, or None when there is no usable one (a Unix socket)."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    hops = settings.PORTAL_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [
        entry.strip()
        for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if entry.strip()
    ]
    if not forwarded:
        # Not through the proxies (a probe on the portal's own port): the peer is the client.
        return remote
    # Fewer entries than proxies: the request came through fewer hops than configured; the
    # leftmost entry is the furthest hop known.
    candidate = forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    # Our first proxy writes a bare address; anything else means a proxy is misconfigured,
    # and the peer is then the one address still known to be real.
    return _address(candidate) or remote


def _address(text: str) -> str | None:
    """`text` as a normalised IP address (a port or brackets dropped), or None."""
    host = text.strip()
    if host.startswith("["):  # "[2001:db8::1]:443"
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:  # "203.0.113.5:51234"
        host = host.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # no IPv6 zone in the database
    except ValueError:
        return None
    return str(address)
