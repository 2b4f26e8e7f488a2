"""Firmware pages: the firmware panel on a device's page, upload, edit, delete, target, OTA.

Every view renders firmware/panel.html: the whole page for a plain request, one of its
partials for htmx. Plain form posts of the actions redirect back to the panel with a flash
message; htmx gets the re-rendered panel (or the one piece that changed).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from firmware import actions
from firmware.actions import refuse_oversized_body, run_upload
from firmware.forms import MetadataForm, UploadForm
from firmware.services import find_by_id, md5_of, ota_progress
from portal import confirm, outcomes, results
from portal import firmware_images as images
from portal.decorators import requires
from portal.iot import (
    FIRMWARE_TOO_LARGE,
    MAX_FIRMWARE_BYTES,
    InvalidIdentifier,
    IoTError,
    NotFound,
    check_uid,
    client_for,
    known,
    level_of,
    parallel,
)
from portal.iot.parallel import Pending
from portal.outcomes import perform

PAGE = "firmware/panel.html"
# The same question as the commands panel's Start update (devices/actions.py).
UPDATE_QUESTION = (
    "Start an update of “{name}”? It downloads and installs its target firmware, then restarts."
)
OTA_POLL_SECONDS = 2


def _template(request: HttpRequest, partial: str) -> str:
    return f"{PAGE}#{partial}" if request.htmx else PAGE


def panel_context(
    request: HttpRequest,
    uid: str,
    /,
    *,
    listing: Pending[list[dict[str, Any]]] | None = None,
    known_device: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What the panel shows: the firmware list, the device (for badges, chip and OTA).

    The two reads overlap: the list is started on the read pool while this thread reads the
    device (a cached read, so it stays here), when the uid is known to be the token's
    (portal/iot/known.py); for any other uid the list is read once the device has answered.
    The device's page passes both in: the list read it started beside its own, and the device
    it has just read (`known_device`).
    """
    context: dict[str, Any] = {
        "uid": uid,
        "max_bytes": MAX_FIRMWARE_BYTES,
        "too_large": FIRMWARE_TOO_LARGE,
        "head_bytes": images.HEAD_BYTES,
        "poll_seconds": OTA_POLL_SECONDS,
        **extra,
    }
    context.setdefault("form", UploadForm())
    try:
        client = client_for(request.user)
        if listing is None and known.has(client.cache_id, check_uid(uid)):
            listing = parallel.start(client.list_firmwares, uid)
        try:
            found = known_device if known_device is not None else client.get_device(uid)
        except IoTError as error:
            if listing is not None:
                listing.cancel()
            if isinstance(error, NotFound):
                known.gone(client.cache_id, uid)
            raise
        known.seen(client.cache_id, uid)
        # A uid not known before has its list read only now that the device is there.
        context["firmwares"] = listing.result() if listing else client.list_firmwares(uid)
        context["device"] = found
    except (NotFound, InvalidIdentifier):
        # A uid the token does not have: the portal's "no such device", and nothing to act on.
        context["missing"] = True
    except IoTError as error:
        context.setdefault("error", error)
    return context


def _follow_context(request: HttpRequest, uid: str, since: float) -> dict[str, Any]:
    limit = settings.PORTAL_OTA_FOLLOW_SECONDS
    context: dict[str, Any] = {"uid": uid, "since": int(since), "poll_seconds": OTA_POLL_SECONDS}
    try:
        device = client_for(request.user).get_device(uid)
    except IoTError as error:
        context["follow_error"] = error
        return context
    context["device"] = device
    context["progress"] = ota_progress(device, time.time() - since, limit)
    return context


@login_required
@require_GET
@requires("view_devices")
def panel(request: HttpRequest, uid: str) -> HttpResponse:
    """The firmware panel of a device's page, loaded on its own (htmx) or as a page."""
    editing = _number(request.GET.get("edit"))
    context = panel_context(request, uid, editing=editing)
    fw = find_by_id(context.get("firmwares", []), editing) if editing else None
    if fw is not None:
        context["edit_form"] = MetadataForm(initial=fw)
    since = _number(request.GET.get("follow"))
    if since and not context.get("missing"):
        context.update(_follow_context(request, uid, since))
    status = 404 if context.get("missing") else 200
    return render(request, _template(request, "panel"), context, status=status)


@login_required
@require_GET
@requires("view_devices")
def follow(request: HttpRequest, uid: str) -> HttpResponse:
    """One look at a device after an OTA trigger; htmx polls this until it is finished."""
    since = _number(request.GET.get("since")) or time.time()
    if not request.htmx:
        return redirect(f"{reverse('firmware:panel', args=[uid])}?follow={int(since)}")
    context = _follow_context(request, uid, since)
    progress = context.get("progress")
    if progress is not None and progress.state == "done":
        # The current badge moved: the cards are redrawn beside the message, from new reads.
        context = panel_context(request, uid, **context)
    # The header (current, target, OTA state) follows every look, out of band.
    return render(request, f"{PAGE}#follow-poll", {**context, "oob": True})


@login_required
@require_POST
@requires("manage_firmware", action="firmware.check")
def check(request: HttpRequest, uid: str) -> HttpResponse:
    """The image checks on a file's first bytes, which the browser posts when a file is picked."""
    head_file = request.FILES.get("head")
    head = head_file.read(images.HEAD_BYTES) if head_file else b""
    size = _number(request.POST.get("size"))
    context: dict[str, Any] = {"uid": uid}
    if size is not None and size > MAX_FIRMWARE_BYTES:
        context["image_error"] = FIRMWARE_TOO_LARGE
    else:
        try:
            device = client_for(request.user).get_device(uid)
        except IoTError:
            device = None
        context["image"] = images.inspect(head if size != 0 else b"", device)
        context["chip_unknown"] = images.device_chip(device) is None
    return render(request, f"{PAGE}#check", context)


@csrf_exempt  # the CSRF check reads the whole body: it runs below, after the size gate
@login_required
@require_POST
@requires("manage_firmware", action="firmware.upload")
@refuse_oversized_body
@csrf_protect
def upload(request: HttpRequest, uid: str) -> HttpResponse:
    """Upload a firmware file (checks, then the upstream), optionally rolling it out."""
    form = UploadForm(request.POST, request.FILES)
    rollout = "rollout" in request.POST
    outcome = run_upload(request, uid, form, rollout=rollout)
    context = {"uid": uid, "form": form, "result": outcome, "rollout": rollout}
    context.update(outcome.context)
    if not request.htmx:
        return render(request, PAGE, panel_context(request, uid, **context))
    response = render(request, f"{PAGE}#{outcome.partial}", context)
    if outcome.ok:
        response["HX-Trigger"] = "firmware-uploaded"
    if outcome.partial != "upload-result":
        response["HX-Retarget"] = outcome.retarget
        response["HX-Reswap"] = outcome.reswap
    return response


@login_required
@require_GET
@requires("manage_firmware")
def edit(request: HttpRequest, uid: str, firmware_id: int) -> HttpResponse:
    """A firmware's card as a form (htmx), or the panel with that card open."""
    if not request.htmx:
        return redirect(f"{reverse('firmware:panel', args=[uid])}?edit={firmware_id}")
    return _card(request, uid, firmware_id, editing=True)


@login_required
@require_GET
@requires("view_devices")
def card(request: HttpRequest, uid: str, firmware_id: int) -> HttpResponse:
    """A firmware's card, as shown in the list (cancelling an edit)."""
    if not request.htmx:
        return redirect(f"{reverse('firmware:panel', args=[uid])}#firmware-{firmware_id}")
    return _card(request, uid, firmware_id, editing=False)


def _card(request: HttpRequest, uid: str, firmware_id: int, *, editing: bool) -> HttpResponse:
    try:
        fw = find_by_id(client_for(request.user).list_firmwares(uid), firmware_id)
    except IoTError as error:
        return render(request, f"{PAGE}#notice", {"notice": _notice_of(error)})
    if fw is None:
        notice = {"level": "warning", "text": "That firmware is no longer on this device."}
        return render(request, f"{PAGE}#notice", {"notice": notice})
    context = {"uid": uid, "fw": fw, "editing": fw["id"] if editing else None}
    if editing:
        context["edit_form"] = MetadataForm(initial=fw)
    return render(request, f"{PAGE}#card", context)


@login_required
@require_POST
@requires("manage_firmware", action="firmware.update")
def update(request: HttpRequest, uid: str, firmware_id: int) -> HttpResponse:
    """Save a firmware's name, version and notes; the upstream's messages go beside fields."""
    form = MetadataForm(request.POST)
    context: dict[str, Any] = {"uid": uid, "editing": firmware_id, "edit_form": form}
    sent = {"firmware_id": firmware_id, **{k: request.POST.get(k, "") for k in form.fields}}
    outcome = perform(
        request,
        "firmware.update",
        lambda: client_for(request.user).update_firmware(uid, firmware_id, **form.cleaned_data),
        device_uid=uid,
        form=form,
        sent=sent,
        success=lambda _answer: "Saved.",
    )
    label = actions.label_of(dict(form.cleaned_data) if form.is_valid() else {}, f"#{firmware_id}")
    said = results.of_form(
        outcome, form, f"Details of firmware {label}", _device_name(request, uid),
        done="saved", to="on", quote=False,
    )  # fmt: skip
    if outcome.ok:
        return _done(request, uid, firmware_id, actions.notice(outcome, said.text))
    if not form.errors:  # a valid form: the refusal or the upstream's answer, by its fields
        placed = [f for f in outcome.errors if f in form.fields]
        for name in placed:
            form.add_error(name, outcome.errors[name])
        if not placed:
            form.add_error(None, outcome.message)
    if not request.htmx:
        return render(request, PAGE, panel_context(request, uid, **context), status=422)
    context.update(
        fw={"id": firmware_id, **form.data.dict()},
        notice=actions.notice(outcome, said.text),
        with_result=True,
    )
    return render(request, f"{PAGE}#card", context, status=422)


def _done(request: HttpRequest, uid: str, firmware_id: int, notice: dict) -> HttpResponse:
    if not request.htmx:
        messages.success(request, notice["text"])
        return redirect(f"{reverse('firmware:panel', args=[uid])}#firmware-{firmware_id}")
    # The card and the header (which may name this firmware as current or target) from the
    # same fresh reads: the header travels out of band beside the card.
    # The result goes to the panel's one result area, out of band too.
    context = panel_context(
        request, uid, notice=notice, with_header=True, with_result=True, oob=True
    )
    fw = find_by_id(context.get("firmwares") or [], firmware_id)
    return render(request, f"{PAGE}#card", {**context, "fw": fw or {"id": firmware_id}})


@login_required
@require_POST
@requires("manage_firmware", action="firmware.delete")
def delete(request: HttpRequest, uid: str, firmware_id: int) -> HttpResponse:
    """Delete a firmware file, after a confirmation; the upstream refuses assigned ones."""
    fw = _lookup(request, uid, firmware_id=firmware_id)
    label = _label(fw, f"#{firmware_id}")
    if not confirm.confirmed(request):
        name = actions.name_of(request, uid)
        question = f"Delete the firmware {label} of {name}?"
        return confirm.ask(request, question, "Delete", danger=True)
    sent = {"firmware_id": firmware_id, "name": fw.get("name"), "md5": md5_of(fw)}
    outcome = perform(
        request,
        "firmware.delete",
        lambda: client_for(request.user).delete_firmware(uid, firmware_id),
        device_uid=uid,
        sent=sent,
        success="Firmware deleted.",
    )
    name = actions.name_of(request, uid)
    said = results.of(outcome, f"Firmware {label}", name, done="deleted", to="from")
    return _after(request, uid, actions.notice(outcome, said.text, firmware_id=firmware_id))


@login_required
@require_POST
@requires("set_target", action="firmware.set_target")
def set_target(request: HttpRequest, uid: str) -> HttpResponse:
    """Make a firmware (by md5) the device's target, after a confirmation."""
    md5 = request.POST.get("md5", "").strip().lower()
    fw = _lookup(request, uid, md5=md5)
    if not confirm.confirmed(request):
        label, name = _label(fw, md5 or "(no md5)"), actions.name_of(request, uid)
        return confirm.ask(request, f"Make {label} the target firmware of {name}?", "Set target")
    try:
        client = client_for(request.user)
    except IoTError as error:
        return _refused(request, uid, "firmware.set_target", "target", error, {"md5": md5})
    notice = actions.set_target(request, client, uid, md5, fw)
    return _step_or_after(request, uid, "target", notice)


@login_required
@require_POST
@requires("trigger_ota", action="firmware.ota")
def trigger_ota(request: HttpRequest, uid: str) -> HttpResponse:
    """Tell the device to fetch its target firmware, then follow it (after a confirmation)."""
    if not confirm.confirmed(request):
        question = UPDATE_QUESTION.format(name=actions.name_of(request, uid))
        return confirm.ask(request, question, results.START_UPDATE)
    try:
        client = client_for(request.user)
    except IoTError as error:
        return _refused(request, uid, "firmware.ota", "ota", error, {})
    notice = actions.trigger_ota(request, client, uid)
    return _step_or_after(request, uid, "ota", notice)


def _refused(
    request: HttpRequest, uid: str, action: str, step: str, error: IoTError, sent: dict
) -> HttpResponse:
    """No client (no token, or its key is missing): the attempt is recorded, nothing sent."""
    outcome = outcomes.refuse(request, action, error.message, device_uid=uid, sent=sent)
    return _step_or_after(request, uid, step, actions.notice(outcome))


# --- helpers ------------------------------------------------------------------------------


def _step_or_after(request: HttpRequest, uid: str, step: str, notice: dict) -> HttpResponse:
    """A rollout step answers with its line in the steps list; else the panel is redrawn."""
    response = _step_or_panel(request, uid, step, notice)
    if request.htmx and step == "target" and notice.get("ok"):
        # Elsewhere on the device's page, an update no longer waits for a target.
        response["HX-Trigger"] = "device-target-set"
    return response


def _step_or_panel(request: HttpRequest, uid: str, step: str, notice: dict) -> HttpResponse:
    if request.htmx and request.POST.get("rollout"):
        context = {"uid": uid, "steps": [{"name": step, **notice}], "poll_seconds": 2}
        if notice.get("ok"):
            context["next_step"] = "ota" if step == "target" else "follow"
            context["since"] = notice.get("follow_since")
            # Target and OTA state moved: redraw the header and the cards beside the step.
            context = panel_context(request, uid, **context, oob=True)
        return render(request, f"{PAGE}#steps", context)
    return _after(request, uid, notice)


def _after(request: HttpRequest, uid: str, notice: dict) -> HttpResponse:
    since = notice.get("follow_since")
    if not request.htmx:
        messages.add_message(request, outcomes.MESSAGE_LEVELS[notice["level"]], notice["text"])
        query = f"?follow={since}" if since else ""
        return redirect(f"{reverse('firmware:panel', args=[uid])}{query}")
    context = panel_context(request, uid, notice=notice)
    if since:
        context.update(_follow_context(request, uid, since))
    return render(request, f"{PAGE}#panel", context)


def _device_name(request: HttpRequest, uid: str) -> str:
    """The device in a result: the page's `device_name`, else its detail (a cached read)."""
    name = actions.name_of(request, uid)
    if name != uid:
        return name
    try:
        return actions.name_of(request, uid, client_for(request.user).get_device(uid).get("name"))
    except IoTError:
        return uid


def _lookup(request: HttpRequest, uid: str, *, firmware_id: int = 0, md5: str = "") -> dict:
    """The firmware a write is about, for its confirmation and audit entry ({} if unknown)."""
    try:
        firmwares = client_for(request.user).list_firmwares(uid)
    except IoTError:
        return {}
    for fw in firmwares:
        if (firmware_id and str(fw.get("id")) == str(firmware_id)) or (md5 and md5_of(fw) == md5):
            return fw
    return {}


def _label(fw: dict, fallback: str) -> str:
    if not fw:
        return fallback
    version = f" {fw['version']}" if fw.get("version") else ""
    return f"“{fw.get('name') or fallback}”{version}"


def _notice_of(error: IoTError, firmware_id: object = None) -> dict[str, Any]:
    return {"level": level_of(error), "text": error.message, "firmware_id": firmware_id}


def _number(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except (TypeError, ValueError, OverflowError):  # "1e999" is a float, but no int
        return None
