"""Confirmation without JavaScript.

With JavaScript, hx-confirm asks in the page's dialog (static/portal/portal.js) and the
request carries `confirmed=yes` from `hx-vals='{"confirmed": "yes"}'`. A plain form post
without it gets a page that asks first, with a form that repeats the post and adds
`confirmed=yes`: so a destructive action is confirmed whichever way it arrives.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme


def confirmed(request: HttpRequest) -> bool:
    return request.POST.get("confirmed") == "yes"


def ask(request: HttpRequest, question: str, button: str, *, danger: bool = False) -> HttpResponse:
    """The page that asks, repeating every posted field (except the CSRF token)."""
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", "confirmed")
        for value in values
    ]
    back = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "/"
    return render(
        request,
        "portal/confirm.html",
        {"question": question, "button": button, "danger": danger, "fields": fields, "back": back},
    )
