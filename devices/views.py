"""Device pages: the fleet table, a device's detail, and editing its name and description."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from devices import panels
from devices.forms import MAX_LENGTH
from devices.listing import DeviceQuery, matching, querystring, rows, select
from devices.table import rows_html
from fleet import selection, tags
from fleet.jobs import PERMISSION
from fleet.models import Job
from portal import storable, streaming
from portal.decorators import requires
from portal.iot import (
    InvalidIdentifier,
    IoTClient,
    IoTError,
    NotFound,
    check_uid,
    client_for,
    known,
)
from portal.outcomes import perform
from portal.results import device_label

# The fields edited in place, and how the page names them.
EDITABLE = {"name": "Name", "description": "Description"}


# The bulk actions the selection bar offers (fleet:bulk), each to the roles of the same
# action on one device. Tags have their own forms in the bar.
BULK = [
    action for action in Job.Action if action not in (Job.Action.TAG_ADD, Job.Action.TAG_REMOVE)
]


def _bulk_actions(user) -> list[tuple[str, str]]:
    return [(a.value, a.label) for a in BULK if user.has_perm(f"portal.{PERMISSION[a]}")]


@login_required
@require_GET
@requires("view_devices")
def device_list(request: HttpRequest) -> HttpResponse:
    target = request.htmx.target if request.htmx else None
    if target == "device-rows":
        context = _table_context(request, request.GET, rows_only=True)
        if "error" in context:
            return HttpResponse(status=204)  # a failed refresh keeps the rows it has
    else:
        context = _table_context(request, request.GET, with_facets=not target)
    template = "devices/list.html"
    if target in ("device-table", "device-rows"):
        template += "#table" if target == "device-table" else "#rows"
    return render(request, template, context)


def _table_context(
    request: HttpRequest, params: QueryDict, *, with_facets: bool = False, rows_only: bool = False
) -> dict[str, object]:
    """The table for `params`: its page, the rows' tags (one query) and the selection.

    The form is drawn only on a full page, so only a full page needs its choices."""
    query = DeviceQuery.from_params(params)
    token = tags.token_of(request.user)
    token_id = token.pk if token else None
    bulk = _bulk_actions(request.user)
    can_tag = request.user.has_perm("portal.manage_tags")
    can_select = bool(bulk) or can_tag
    context: dict[str, object] = {"query": query, "columns": query.columns(params)}
    try:
        client = client_for(request.user)
        devices = client.list_devices()
    except IoTError as error:
        context["error"] = error
        return context
    # A device's page reads its panels beside its detail for the uids listed here.
    known.listed(client.cache_id, [device.uid for device in devices])
    tagged = frozenset(tags.uids_with(token, query.tag)) if query.tag else frozenset()
    result = select(
        devices, query, settings.PORTAL_PAGE_SIZE, with_facets=with_facets, tagged=tagged
    )
    chosen = set(selection.get(request, token_id)) if can_select else None
    page_tags = tags.of_devices(token, [d.uid for d in result.devices])
    context["rows_html"] = rows_html(rows(result.devices, tags=page_tags, selected=chosen))
    if rows_only:
        return context
    fleet_tags = tags.names(token) if with_facets or can_tag else []
    if with_facets:
        names = list(fleet_tags)
        if query.tag and query.tag.casefold() not in {n.casefold() for n in names}:
            names.append(query.tag)  # a tag no device has now still shows as chosen
        result.facets["tag"] = [(n, n) for n in names]
    context.update(
        result=result,
        pager=result.pager(params),
        can_select=can_select,
        selected=len(chosen or ()),
        selected_here=sum(1 for d in result.devices if chosen and d.uid in chosen),
        bulk=bulk,
        can_tag=can_tag,
        here=querystring(params),
        fleet_tags=fleet_tags,
    )
    return context


@login_required
@require_POST
@requires("view_devices", action="device.select")
def selection_change(request: HttpRequest) -> HttpResponse:
    """Change the selection: the boxes of this page (`set`), this page, every device matching
    the search (`all`), or none (`clear`). The uids come from the table's own query on the
    server (the address's query string), never from the page: a uid the fleet does not have
    cannot be selected. Answers the table again (htmx) or goes back to it."""
    token = tags.token_of(request.user)
    token_id = token.pk if token else None
    op = request.POST.get("op", "set")
    if op == "clear":
        selection.clear(request, token_id)
    else:
        query = DeviceQuery.from_params(request.GET)
        try:
            devices = client_for(request.user).list_devices()
        except IoTError as error:
            messages.error(request, f"The selection was not changed: {error.message}")
            return _table_or_back(request)
        tagged = frozenset(tags.uids_with(token, query.tag)) if query.tag else frozenset()
        if op == "all":
            selection.add(request, token_id, [d.uid for d in matching(devices, query, tagged)])
        else:
            page = select(
                devices, query, settings.PORTAL_PAGE_SIZE, with_facets=False, tagged=tagged
            )
            shown = [d.uid for d in page.devices]
            if op == "page":
                selection.add(request, token_id, shown)
            elif op == "page_none":
                selection.remove(request, token_id, shown)
            else:
                checked = set(request.POST.getlist("uid"))
                selection.remove(request, token_id, [u for u in shown if u not in checked])
                selection.add(request, token_id, [u for u in shown if u in checked])
    return _table_or_back(request)


def _table_or_back(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        context = _table_context(request, request.GET)
        return render(request, "devices/list.html#table", context)
    back = querystring(request.GET)
    return redirect(reverse("devices:list") + (back if back != "?" else ""))


def _device(request: HttpRequest, uid: str) -> dict[str, Any]:
    """The device's detail (a cached read), or 404 for a uid the token does not have."""
    try:
        return client_for(request.user).get_device(uid)
    except (NotFound, InvalidIdentifier):
        raise Http404("No such device.") from None


@login_required
@require_GET
@requires("view_devices")
def device_detail(request: HttpRequest, uid: str) -> HttpResponse:
    """The detail and, read beside it, the panels (devices/panels.py); the live refresh alone.

    For a uid known to be the token's (portal/iot/known.py) the three reads start at once,
    and the page is sent in parts (portal/streaming.py): its head before the reads answer,
    its top when the detail has, then its panels as they are drawn. Any other uid has its
    detail read first, so a uid the token does not have costs one upstream read, not three,
    and gets a 404."""
    live = bool(request.htmx and request.htmx.target == "device-live")
    context: dict[str, object] = {"uid": uid}
    cache_id = None
    try:
        client = client_for(request.user)
        cache_id = client.cache_id
        if not live and known.has(cache_id, check_uid(uid)):
            reads = panels.start(client, uid, detail=True)
            return streaming.page(
                request,
                head=("base.html#document_start", "devices/detail.html#assets"),
                rest=lambda: _page_parts(request, client, uid, reads),
            )
        context["device"] = client.get_device(uid)
    except (NotFound, InvalidIdentifier):
        known.gone(cache_id, uid)
        raise Http404("No such device.") from None
    except IoTError as error:
        context["error"] = error
    else:
        known.seen(cache_id, uid)
    if live:
        if "error" in context:
            return HttpResponse(status=204)  # keep what is shown; the next refresh tries again
        return render(request, "devices/detail.html#live", context)
    if "device" in context:  # the detail has just said the device is there: its panels now
        reads = panels.start(client, uid)
        context["panels"] = panels.draw(request, uid, context["device"], reads)
    return render(request, "devices/detail.html", context)


# Where a streamed page's panels go, drawn apart (templates/devices/detail.html).
PANELS_APART = mark_safe("<!-- the panels -->")  # a constant: upstream text is escaped


def _page_parts(
    request: HttpRequest, client: IoTClient, uid: str, reads: dict[str, Any]
) -> Iterator[str]:
    """A streamed page's text once the detail has answered: the page up to its panels, then
    the panels (drawn while the browser parses the top), then its end. A device removed
    upstream since the portal saw it (its 404 now) is drawn as the portal's "no such device",
    in the page whose head has left with a 200; the next visit gets the 404 itself."""
    context: dict[str, object] = {"uid": uid}
    try:
        device = reads.pop("device").result()
    except NotFound:
        panels.cancel(reads)
        known.gone(client.cache_id, uid)
        context.update(gone=True, device_uid=uid)
    except IoTError as error:
        panels.cancel(reads)
        context["error"] = error
    else:
        known.seen(client.cache_id, uid)
        context["device"] = device
    if "device" not in context:
        yield render_to_string("devices/detail.html", context, request)
        return
    whole = render_to_string(
        "devices/detail.html", {**context, "panels_apart": PANELS_APART}, request
    )
    top, end = whole.split(PANELS_APART, 1)
    yield top
    context["panels"] = panels.draw(request, uid, device, reads)
    yield render_to_string("devices/detail.html#panels", context, request)
    yield end


def _field(field: str) -> str:
    if field not in EDITABLE:
        raise Http404("No such field.")
    return field


def _field_context(uid: str, field: str, value: object, **extra: object) -> dict[str, object]:
    return {
        "uid": uid,
        "field": field,
        "label": EDITABLE[field],
        "value": value or "",
        "max_length": MAX_LENGTH[field],
        **extra,
    }


@login_required
@require_GET
@requires("view_devices")
def field_value(request: HttpRequest, uid: str, field: str) -> HttpResponse:
    """A field shown (not edited): what Cancel and Escape go back to."""
    device = _device(request, uid)
    if not request.htmx:
        return redirect("devices:detail", uid=uid)
    context = _field_context(uid, _field(field), device.get(field))
    return render(request, "devices/detail.html#field", context)


@login_required
@require_GET
@requires("rename_device")
def field_edit(request: HttpRequest, uid: str, field: str) -> HttpResponse:
    """The field as a form: in place with htmx, or a small page without JavaScript."""
    device = _device(request, uid)
    # The form carries the value it started from and the device's name, for the audit row.
    context = _field_context(
        uid, _field(field), device.get(field), device=device,
        was=device.get(field) or "", device_name=device.get("name") or "",
    )  # fmt: skip
    template = "devices/edit.html#form" if request.htmx else "devices/edit.html"
    return render(request, template, context)


def _saved(field: str, old: str, device: dict[str, Any], uid: str) -> str:
    """A saved edit in one sentence naming the device: "Kitchen Relay renamed to Pantry Relay."."""
    now = device_label(device.get("name"), uid)
    if field == "name":
        return f"{device_label(old, uid)} renamed to {now}."
    return f"{EDITABLE[field]} of {now} saved."


def _detail_or_nothing(request: HttpRequest, uid: str) -> dict[str, Any]:
    try:
        return client_for(request.user).get_device(uid)
    except IoTError:
        return {}  # the rename goes ahead; its row just lacks the old value


@login_required
@require_POST
@requires("rename_device", action="device.rename")
def rename(request: HttpRequest, uid: str) -> HttpResponse:
    """Save a new name or description; the upstream's validation shows beside the field.

    The audit row records the old value ("from") beside the new one, and names the device
    as it was called before the edit. Both come from the edit form's hidden fields; a post
    without them (a script, an old page) costs one read of the detail, usually cached."""
    field = "description" if "description" in request.POST else "name"
    value = request.POST.get(field, "")
    sent: dict[str, Any] = {field: value}
    if "was" in request.POST:
        sent["from"] = request.POST.get("was", "")
    detail: dict[str, Any] = {}

    def save() -> Any:
        if "from" not in sent:
            detail.update(_detail_or_nothing(request, uid))
            if detail:
                sent["from"] = detail.get(field) or ""
        return client_for(request.user).update_device(uid, **{field: value})

    def name() -> str:
        if field == "name" and "from" in sent:
            return sent["from"]
        return request.POST.get("device_name") or detail.get("name") or ""

    outcome = perform(
        request,
        "device.rename",
        save,
        device_uid=uid,
        device_name=name,
        sent=sent,
        check={field: value},  # the old value is the upstream's, not the user's to check
        success=f"{EDITABLE[field]} saved.",
        status=200,
    )
    if outcome.ok:
        device = outcome.answer if isinstance(outcome.answer, dict) else {}
        said = _saved(field, name() if field == "name" else "", device, uid)
        if not request.htmx:
            messages.success(request, said)
            return redirect("devices:detail", uid=uid)
        context = _field_context(uid, field, device.get(field), saved=said, device=device)
        response = render(request, "devices/detail.html#field", context)
        if field == "name":
            # The page's dialogs, forms and headings say the new name from now on
            # (static/devices/devices.js applies it to every [data-device-name]).
            renamed = {"uid": uid, "name": device_label(device.get("name"), uid)}
            response["HX-Trigger"] = json.dumps({"device-renamed": renamed})
        return response
    errors = outcome.field_errors(field)
    # What was typed goes back into the field, made fit for a page (it may be what was refused).
    shown = storable.shown(value)
    context = _field_context(
        uid, field, shown, errors=errors, device={"uid": uid},
        was=storable.shown(request.POST.get("was", "")),
        device_name=storable.shown(request.POST.get("device_name", "")),
    )  # fmt: skip
    template = "devices/edit.html#form" if request.htmx else "devices/edit.html"
    return render(request, template, context)
