"""Device pages: the fleet table and a device's detail."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from devices.listing import DeviceQuery, select
from portal.decorators import requires
from portal.iot import IoTError, client_for


@login_required
@require_GET
@requires("view_devices")
def device_list(request: HttpRequest) -> HttpResponse:
    query = DeviceQuery.from_params(request.GET)
    context: dict[str, object] = {"query": query, "columns": query.columns()}
    try:
        devices = client_for(request.user).list_devices()
    except IoTError as error:
        context["error"] = error
    else:
        context["result"] = select(devices, query, settings.PORTAL_PAGE_SIZE)
    template = "devices/list.html"
    if request.htmx and request.htmx.target == "device-table":
        template += "#table"
    return render(request, template, context)
