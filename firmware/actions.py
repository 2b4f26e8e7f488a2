"""The firmware writes, each with its audit entry: upload (with its checks), target, OTA.

Views call these and render what they return; a rollout chains them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from firmware import images
from firmware.forms import UploadForm
from firmware.services import HashingReader, find_by_md5, head_of, md5_of
from portal import audit
from portal.iot import (
    FIRMWARE_TOO_LARGE,
    MAX_FIRMWARE_BYTES,
    IoTClient,
    IoTError,
    client_for,
    level_of,
)
from portal.models import AuditEvent

# Room for the form's text fields and the multipart framing on top of a 4 MB file.
BODY_ALLOWANCE = 64 * 1024


def refuse_oversized_body(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a request whose body is bigger than a 4 MB file could make it, unread.

    Django spools uploaded files to disk without a size limit (DATA_UPLOAD_MAX_MEMORY_SIZE
    does not count files), so this looks at Content-Length before anything parses the body.
    A file just over 4 MB passes here and is refused by the form, with the same sentence.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, uid: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= MAX_FIRMWARE_BYTES + BODY_ALLOWANCE:
            return view(request, uid, *args, **kwargs)
        audit.record(
            request,
            "firmware.upload",
            outcome=AuditEvent.Outcome.REFUSED,
            device_uid=uid,
            sent={"bytes": length},
            status_code=413,
            message=FIRMWARE_TOO_LARGE,
        )
        # Nothing of the body was read, so nothing typed can be shown again: the browser
        # refuses such a file before sending it, so only a script gets here.
        template = "firmware/panel.html#upload-result" if request.htmx else "firmware/panel.html"
        context = {
            "uid": uid,
            "form": UploadForm(),
            "too_large": FIRMWARE_TOO_LARGE,
            "result": UploadOutcome(message=FIRMWARE_TOO_LARGE),
            "list_skipped": True,
        }
        response = render(request, template, context, status=413)
        response["Connection"] = "close"
        return response

    return wrapper


@dataclass
class UploadOutcome:
    """What an upload attempt came to, and which part of the page shows it."""

    ok: bool = False
    message: str = ""
    level: str = "error"  # how a failed attempt shows: "warning" when the upstream refused
    partial: str = "upload-result"  # the htmx fragment to send back
    retarget: str = ""
    reswap: str = ""
    firmware: dict[str, Any] | None = None
    local_md5: str = ""
    md5_mismatch: bool = False
    existing: dict[str, Any] | None = None  # the firmware a duplicate matches
    errors: dict[str, list[str]] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


def run_upload(request: HttpRequest, uid: str, form: UploadForm, *, rollout: bool) -> UploadOutcome:
    """Validate, check the image, upload with a streaming md5, and start a rollout."""
    if not form.is_valid():
        if FIRMWARE_TOO_LARGE in form.errors.get("file", []):
            _refused(request, uid, form)
        return UploadOutcome(partial="upload-form", retarget="#upload-form", reswap="outerHTML")
    file = form.cleaned_data["file"]
    try:
        client = client_for(request.user)
    except IoTError as error:
        return UploadOutcome(message=error.message)
    try:
        device = client.get_device(uid)
    except IoTError:
        device = None
    image = images.inspect(head_of(file, images.HEAD_BYTES), device)
    checked = {"image": image, "chip_unknown": images.device_chip(device) is None}
    if image.error or (image.warnings and not form.cleaned_data["upload_anyway"]):
        return UploadOutcome(
            message=image.error or "Confirm the warnings to upload anyway.",
            partial="check",
            retarget="#image-check",
            reswap="innerHTML",
            context=checked,
        )
    outcome = _send(request, client, uid, form, image)
    outcome.context.update(checked)
    if outcome.ok and rollout and not outcome.md5_mismatch:
        _roll_out(request, client, uid, outcome)
    elif rollout and outcome.ok:
        outcome.context["steps"] = [_upload_step(outcome)]
    if request.htmx:
        _with_list(client, uid, outcome.context)
    return outcome


def _send(
    request: HttpRequest, client: IoTClient, uid: str, form: UploadForm, image: images.ImageCheck
) -> UploadOutcome:
    data = form.cleaned_data
    file = data["file"]
    reader = HashingReader(file)
    sent: dict[str, Any] = {
        "name": data["name"],
        "version": data["version"],
        "filename": file.name,
        "bytes": file.size,
        "image": image.summary,
    }
    if image.warnings:
        sent["warnings_confirmed"] = list(image.warnings)
    try:
        firmware = client.upload_firmware(
            uid,
            name=data["name"],
            version=data["version"],
            notes=data["notes"],
            file=reader,
            filename=file.name or "firmware.bin",
            size=file.size,
        )
    except IoTError as error:
        sent["md5"] = reader.finish()
        audit_error(request, "firmware.upload", uid, sent, error)
        outcome = UploadOutcome(message=error.message, local_md5=sent["md5"], level=level_of(error))
        outcome.errors = getattr(error, "errors", {}) or {}
        outcome.existing = _existing(client, uid, sent["md5"])
        return outcome
    local = reader.hexdigest()
    upstream = md5_of(firmware)
    sent.update(md5=local, md5_upstream=upstream)
    mismatch = reader.bytes_read != file.size or (bool(upstream) and upstream != local)
    message = "Uploaded." if not mismatch else _mismatch_message(local, upstream)
    audit.record(
        request,
        "firmware.upload",
        outcome=AuditEvent.Outcome.OK,
        device_uid=uid,
        sent=sent,
        message=message,
    )
    return UploadOutcome(
        ok=True, message=message, firmware=firmware, local_md5=local, md5_mismatch=mismatch
    )


def _mismatch_message(local: str, upstream: str) -> str:
    return (
        f"The device service reports md5 {upstream or '(none)'}, but the portal computed "
        f"{local} while sending: the file may have been damaged on the way. Do not roll it "
        "out; delete it and upload again."
    )


def _existing(client: IoTClient, uid: str, md5: str) -> dict[str, Any] | None:
    try:
        return find_by_md5(client.list_firmwares(uid), md5)
    except IoTError:
        return None


def _with_list(client: IoTClient, uid: str, context: dict[str, Any]) -> None:
    """Add the firmware list, to refresh it out of band beside an htmx answer."""
    try:
        context["firmwares"] = client.list_firmwares(uid)
        context["oob"] = True
    except IoTError:
        pass


def _upload_step(outcome: UploadOutcome) -> dict[str, Any]:
    fw = outcome.firmware or {}
    return {
        "name": "upload",
        "level": "success" if outcome.ok and not outcome.md5_mismatch else "error",
        "text": outcome.message
        if not outcome.ok or outcome.md5_mismatch
        else f"Uploaded, md5 {md5_of(fw) or outcome.local_md5}.",
        "ok": outcome.ok and not outcome.md5_mismatch,
    }


def _roll_out(request: HttpRequest, client: IoTClient, uid: str, outcome: UploadOutcome) -> None:
    """After an upload: set target, trigger OTA. With htmx the browser asks for each step
    in turn (so each result shows as it happens); a plain post runs them all here."""
    md5 = md5_of(outcome.firmware) or outcome.local_md5
    steps = [_upload_step(outcome)]
    outcome.context.update(steps=steps, md5=md5)
    if request.htmx:
        outcome.context["next_step"] = "target"
        return
    for name, step in (("target", lambda: set_target(request, client, uid, md5, outcome.firmware)),
                       ("ota", lambda: trigger_ota(request, client, uid))):  # fmt: skip
        notice = step()
        steps.append({"name": name, **notice})
        if not notice.get("ok"):
            return
    outcome.context["next_step"] = "follow"
    outcome.context["since"] = steps[-1]["follow_since"]


def set_target(
    request: HttpRequest, client: IoTClient, uid: str, md5: str, fw: dict[str, Any] | None
) -> dict[str, Any]:
    """Set the device's target firmware; returns a notice for the page."""
    fw = fw or {}
    sent = {"md5": md5, "name": fw.get("name"), "version": fw.get("version")}
    try:
        answer = client.set_target(uid, md5)
    except IoTError as error:
        audit_error(request, "firmware.set_target", uid, sent, error)
        return {"level": level_of(error), "text": error.message, "firmware_id": fw.get("id")}
    text = message_of(answer, "Firmware assigned to device.")
    audit.record(request, "firmware.set_target", device_uid=uid, sent=sent, message=text)
    return {"level": "success", "text": text, "firmware_id": fw.get("id"), "ok": True}


def trigger_ota(request: HttpRequest, client: IoTClient, uid: str) -> dict[str, Any]:
    """Trigger an OTA update of the device's target; returns a notice for the page."""
    sent: dict[str, Any] = {}
    try:
        target = client.get_device(uid).get("target_firmware") or {}
        sent = {"md5": md5_of(target), "name": target.get("name"), "version": target.get("version")}
        answer = client.trigger_ota(uid)
    except IoTError as error:
        audit_error(request, "firmware.ota", uid, sent, error)
        return {"level": level_of(error), "text": error.message}
    text = message_of(answer, "OTA check triggered.")
    audit.record(request, "firmware.ota", device_uid=uid, sent=sent, message=text)
    return {"level": "success", "text": text, "ok": True, "follow_since": int(time.time())}


def message_of(answer: object, default: str) -> str:
    text = answer.get("message") if isinstance(answer, dict) else None
    return text if isinstance(text, str) and text else default


def _refused(request: HttpRequest, uid: str, form: UploadForm) -> None:
    file = form.files.get("file")
    audit.record(
        request,
        "firmware.upload",
        outcome=AuditEvent.Outcome.REFUSED,
        device_uid=uid,
        sent={"name": form.data.get("name", ""), "bytes": getattr(file, "size", None)},
        status_code=413,
        message=FIRMWARE_TOO_LARGE,
    )


def audit_error(request: HttpRequest, action: str, uid: str, sent: dict, error: IoTError) -> None:
    audit.record_error(request, action, error, device_uid=uid, sent=sent)
