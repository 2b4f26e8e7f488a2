"""Portal-wide middleware: request context for logs, caching, time zones, and upstream errors."""

from __future__ import annotations

import json
import logging
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from portal.iot import InvalidIdentifier, IoTError, NotFound, NoToken
from portal.logs import request_context
from portal.streaming import StreamedPage

logger = logging.getLogger("portal.request")


class RequestLogMiddleware:
    """Gives each request an id and logs one line for it: user, method, path, status, time."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        request.request_id = request_id
        context_token = request_context.set({"request_id": request_id})
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(context_token)
        user = getattr(request, "user", None)
        extra = {
            "request_id": request_id,
            "user": user.get_username() if user and user.is_authenticated else "",
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
        }

        def log() -> None:
            extra["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
            logger.info("%s %s %s", request.method, request.path, response.status_code, extra=extra)

        if isinstance(response, StreamedPage):  # its line says when the whole page has left
            response.streaming_content = _then(response.streaming_content, log)
        else:
            log()
        response["X-Request-ID"] = request_id
        return response


def _then(parts: Iterable[bytes], done: Callable[[], None]) -> Iterator[bytes]:
    """`parts`, then `done()`: also when the client goes away before the end."""
    try:
        yield from parts
    finally:
        done()


class NoStoreForSignedInMiddleware:
    """Every answer to a signed-in user is `Cache-Control: no-store`: pages and partials show
    device data and the audit log, which must not stay in a shared cache or in the browser's
    history after sign-out. Static files never get here (whitenoise answers them earlier).

    Signed in before the view or after it: the sign-out answer counts, and so does the one
    right after a sign-in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        signed_in = request.user.is_authenticated
        response = self.get_response(request)
        if signed_in or request.user.is_authenticated:
            add_never_cache_headers(response)
        return response


class FormEncodingMiddleware:
    """Refuses a form body in another encoding than UTF-8 with a page that says so.

    Django refuses such a body with BadRequest when it is read, but its 400 handler runs the
    CSRF check again, which reads the body again: a 500. This answers before any view hook.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        charset = request.content_params.get("charset", "utf-8").lower()
        if request.content_type == "application/x-www-form-urlencoded" and charset not in (
            "utf-8",
            "utf8",
        ):
            reason = "The form was sent in an encoding other than UTF-8, which the portal reads."
            template = "400.html#message" if request.headers.get("HX-Request") else "400.html"
            return render(request, template, {"reason": reason}, status=400)
        return self.get_response(request)


class TimezoneMiddleware:
    """Shows times in the viewer's time zone, which the browser reports in a cookie."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.COOKIES.get("portal_tz", "")
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        return self.get_response(request)


class IoTErrorMiddleware:
    """The one handler for upstream errors a view did not handle itself.

    It renders the error as a clear message in the page frame, or as a fragment for htmx,
    so a misbehaving upstream never becomes a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, IoTError):
            return None
        return render_iot_error(request, exception)


def render_iot_error(request: HttpRequest, error: IoTError) -> HttpResponse:
    if isinstance(error, NotFound | InvalidIdentifier):
        status = 404
    elif isinstance(error, NoToken):
        status = error.status or 403
    else:
        status = 502
    template = "portal/upstream_error.html"
    if getattr(request, "htmx", False):
        template += "#message"
    return render(request, template, {"error": error}, status=status)


class HtmxSignInRedirectMiddleware:
    """What a request from a signed-out user gets when its view sends it to sign in.

    An htmx request (an ended session's refresh, a panel, a Reboot clicked after expiry)
    gets 401 with an `HX-Trigger` event (`portal:signed-out`) and nothing to swap: the page
    stays as it is, typed text and all, and the portal's script says the session ended, that
    the action was not sent, and offers to sign in again in a new tab or in place.

    Any other request gets the usual redirect to the sign-in page, which says why the user
    is there when their session ended (`reason=ended`). A form sent then was not done, and
    its address takes only a post: the sign-in page says so (`unsent=1`) and leads back to
    the page the form was on.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        had_session = settings.SESSION_COOKIE_NAME in request.COOKIES
        response = self.get_response(request)
        if response.status_code != 302:
            return response
        if urlsplit(response.get("Location", "")).path != resolve_url(settings.LOGIN_URL):
            return response
        htmx = getattr(request, "htmx", None)
        if htmx:
            page = urlsplit(htmx.current_url or "")
            back = page.path + (f"?{page.query}" if page.query else "") if page.path else "/"
            return signed_out(request, back)
        posted = request.method not in ("GET", "HEAD")
        if not posted and not had_session:
            return response  # a first visit: the plain redirect
        back = _referring_page(request) if posted else request.get_full_path()
        params = {"next": back, "reason": "ended"}
        if posted:
            params["unsent"] = "1"
        return redirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode(params)}")


def _referring_page(request: HttpRequest) -> str:
    """The same-site page a form was sent from (path and query), or the home page."""
    referer = request.META.get("HTTP_REFERER", "")
    same_site = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if not referer or not same_site:
        return resolve_url("home")
    page = urlsplit(referer)
    return (page.path or "/") + (f"?{page.query}" if page.query else "")


def signed_out(request: HttpRequest, back: str) -> HttpResponse:
    """The answer to an htmx request from a signed-out user: nothing was done, nothing to
    swap (the page keeps what it shows and what is typed), and an event for the portal's
    script, with the sign-in address that comes back to the page."""
    login = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': back, 'reason': 'ended'})}"
    response = HttpResponse(
        "Your session has ended: sign in again. Nothing was done.",
        status=401,
        content_type="text/plain; charset=utf-8",
    )
    event = {"login": login, "method": request.method, "reason": "session"}
    response["HX-Trigger"] = json.dumps({"portal:signed-out": event})
    response["HX-Reswap"] = "none"
    return response


class FormKeyMiddleware:
    """The answer to an htmx write carries the next one-time form key (`X-Form-Key`), for a
    form that stays on the page (Reboot, a command button): the portal's script puts it in
    the form, so the next deliberate click is a new submission. A write refused for its key
    says so in `X-Form-Key-Refused`, which the script shows when the page does not already;
    when the answer sends the browser to another page (`HX-Redirect`), that page says so.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or request.method in ("GET", "HEAD"):
            return response
        from portal import form_keys

        response[form_keys.HEADER] = form_keys.new()
        refusal = getattr(request, "form_key_refusal", None)
        if refusal:
            response[f"{form_keys.HEADER}-Refused"] = refusal
            if response.has_header("HX-Redirect"):
                # The page goes at once (a lifted pause, a deactivated user): the page it
                # goes to says so instead.
                messages.warning(request, refusal, fail_silently=True)
        return response


class NotFoundPageMiddleware:
    """The portal's own "no such page" or "no such device" page, in every mode.

    With DEBUG on, Django answers a 404 with its technical page, which lists the URL patterns
    (and handler404 is not used): the demo runs with DEBUG on. A view's Http404 is caught here;
    an address no URL pattern matches never reaches a view, so its answer is replaced here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404 and getattr(request, "resolver_match", None) is None:
            return render_not_found(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            return render_not_found(request)
        return None


def render_not_found(request: HttpRequest) -> HttpResponse:
    match = getattr(request, "resolver_match", None)
    uid = match.kwargs.get("uid", "") if match is not None else ""
    template = "404.html"
    if getattr(request, "htmx", False):
        template += "#message"
    return render(request, template, {"device_uid": uid, "request_path": request.path}, status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent without a valid CSRF token (cookies cleared, the page
    left open past a sign-out). Nothing was done; the way back is the page the form was on.

    From htmx, the page stays as it is (what is typed too) and its script says what was not
    sent: as an ended session when nobody is signed in (cookies cleared), else as a page to
    send again. Either way the answer sets a fresh CSRF cookie the page's next request uses.
    """
    get_token(request)
    if getattr(request, "htmx", False):
        page = urlsplit(request.htmx.current_url or "")
        back = page.path + (f"?{page.query}" if page.query else "") if page.path else "/"
        if not request.user.is_authenticated:
            return signed_out(request, back)
        response = HttpResponse(
            "The form could not be sent: this page expired. Nothing was done.",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
        event = {"method": request.method, "reason": "csrf"}
        response["HX-Trigger"] = json.dumps({"portal:signed-out": event})
        response["HX-Reswap"] = "none"
        return response
    referer = request.META.get("HTTP_REFERER", "")
    same_site = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    back = referer if referer and same_site else resolve_url("home")
    next_page = _referring_page(request)
    login = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_page, 'reason': 'ended'})}"
    context = {"back": back, "login": login}
    return render(request, "portal/csrf_failure.html", context, status=403)


CHANGE_FIRST = "Refused: an admin asked this user to change their password first."


class PasswordChangeRequiredMiddleware:
    """A user an admin asked to change their password is sent to "Change your password" from
    every page until they have (signing out still works). An htmx request gets a whole-page
    redirect rather than the form inside a panel."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from portal.views import must_change_password

        user = request.user
        if not user.is_authenticated or not must_change_password(user):
            return self.get_response(request)
        change, logout = resolve_url("password_change"), resolve_url("logout")
        if request.path in (change, logout):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            # Not made (a page left open since before the admin asked): recorded as refused.
            from portal import outcomes

            outcomes.refuse(request, "auth.password_change_required", CHANGE_FIRST)
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(change)
        if request.method == "GET":
            return redirect_to_login(request.get_full_path(), change)  # back here afterwards
        return redirect(change)
