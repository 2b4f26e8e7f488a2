"""Firmware pages: the firmware panel on a device's page, upload, edit, delete, target, OTA."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.decorators import requires
from portal.iot import IoTError, client_for


@login_required
@require_GET
@requires("view_devices")
def panel(request: HttpRequest, uid: str) -> HttpResponse:
    """The firmware panel of a device's page, loaded on its own (htmx) or as a page."""
    context: dict[str, object] = {"uid": uid}
    try:
        context["firmwares"] = client_for(request.user).list_firmwares(uid)
    except IoTError as error:
        context["error"] = error
    template = "firmware/panel.html"
    if request.htmx:
        template += "#panel"
    return render(request, template, context)
