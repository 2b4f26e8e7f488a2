"""The firmware writes: upload (with its checks), target, OTA, each through the one write path
(`portal.outcomes.perform`), which records its audit row.

Views call these and render what they return; a rollout chains them. `actor` is the request,
or an `outcomes.Actor` for a job without one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from firmware.forms import UploadForm
from firmware.services import HashingReader, find_by_md5, head_of, md5_of
from portal import firmware_images as images
from portal import outcomes, results
from portal.iot import FIRMWARE_TOO_LARGE, MAX_FIRMWARE_BYTES, IoTClient, IoTError, client_for
from portal.outcomes import Actor, Done, Outcome, perform
from portal.results import UPDATE_SAID

Who = HttpRequest | Actor

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
        outcomes.refuse(
            request,
            "firmware.upload",
            FIRMWARE_TOO_LARGE,
            device_uid=uid,
            sent={"bytes": length},
            status=413,
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
    level: str = "error"  # an Outcome's level; an md5 mismatch is an error
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
        _refused(request, uid, form)
        return UploadOutcome(partial="upload-form", retarget="#upload-form", reswap="outerHTML")
    file = form.cleaned_data["file"]
    try:
        client = client_for(request.user)
    except IoTError as error:
        refusal = outcomes.refuse(request, "firmware.upload", error.message, device_uid=uid)
        return UploadOutcome(message=refusal.message)
    try:
        device = client.get_device(uid)
    except IoTError:
        device = None
    image = images.inspect(head_of(file, images.HEAD_BYTES), device)
    # The name the device has now, for the audit rows (None: the page's own field).
    name = (device or {}).get("name") or None
    checked = {
        "image": image,
        "chip_unknown": images.device_chip(device) is None,
        "device_name": name or "",
    }
    if image.error or (image.warnings and not form.cleaned_data["upload_anyway"]):
        if image.error:  # refused; unconfirmed warnings only ask first, like a confirmation
            sent = {**outcomes.typed(form), "filename": file.name, "bytes": file.size}
            outcomes.refuse(
                request, "firmware.upload", image.error, device_uid=uid, device_name=name,
                sent=sent,
            )  # fmt: skip
        return UploadOutcome(
            message=image.error or "Confirm the warnings to upload anyway.",
            partial="check",
            retarget="#image-check",
            reswap="innerHTML",
            context=checked,
        )
    outcome = _send(request, client, uid, form, image, device_name=name)
    outcome.context.update(checked)
    if outcome.ok and rollout and not outcome.md5_mismatch:
        _roll_out(request, client, uid, outcome)
    elif rollout and outcome.ok:
        outcome.context["steps"] = [_upload_step(outcome)]
    if request.htmx:
        _with_list(client, uid, outcome.context)
        if device is not None and "firmwares" in outcome.context:
            # The redrawn cards name the device in their forms and questions.
            outcome.context["device"] = device
    return outcome


def _send(
    actor: Who,
    client: IoTClient,
    uid: str,
    form: UploadForm,
    image: images.ImageCheck,
    *,
    device_name: str | None = None,
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

    def upload() -> Done:
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
        except IoTError:
            sent["md5"] = reader.finish()  # the md5 of the whole file, for the audit row
            raise
        local, upstream = reader.hexdigest(), md5_of(firmware)
        message = _mismatch_message(local, upstream) if _mismatch(reader, file, firmware) else ""
        return Done(
            answer=firmware,
            message=message or "Uploaded.",
            sent={"md5": local, "md5_upstream": upstream},
        )

    check = {**sent, "notes": data["notes"]}
    outcome = perform(
        actor, "firmware.upload", upload, device_uid=uid, device_name=device_name, sent=sent,
        check=check,
    )  # fmt: skip
    what = f"Firmware {label_of({'name': data['name'], 'version': data['version']})}"
    said = results.of(
        outcome, what, name_of(actor, uid, device_name), done="uploaded", quote=False
    ).text
    if outcome.ok and outcome.message != "Uploaded.":
        said = f"{said} {outcome.message}"  # the md5 mismatch: its own warning follows
    if not outcome.ok:
        result = UploadOutcome(message=said, level=outcome.level)
        result.local_md5 = sent.get("md5", "")
        result.errors = outcome.errors
        if result.local_md5:
            result.existing = _existing(client, uid, result.local_md5)
        return result
    firmware = outcome.answer
    local = reader.hexdigest()
    mismatch = _mismatch(reader, file, firmware)
    return UploadOutcome(
        ok=True,
        message=said,
        level="error" if mismatch else "success",
        firmware=firmware,
        local_md5=local,
        md5_mismatch=mismatch,
    )


def _mismatch(reader: HashingReader, file: Any, firmware: Any) -> bool:
    """Whether what arrived differs from the file: not all of it read, or another md5."""
    upstream = md5_of(firmware)
    return reader.bytes_read != file.size or (bool(upstream) and upstream != reader.hexdigest())


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


def notice(outcome: Outcome, text: str = "", **extra: Any) -> dict[str, Any]:
    """An outcome as the firmware panel shows it: `text`, the result's sentence, or else the
    outcome's own message."""
    return {"level": outcome.level, "text": text or outcome.message, "ok": outcome.ok, **extra}


def name_of(actor: Who, uid: str, known: object = None) -> str:
    """The device in a result: the name just read, else the page's `device_name`, else uid."""
    return results.device_label(known or Actor.of(actor).device_name(), uid)


def label_of(fw: dict[str, Any] | None, fallback: str = "") -> str:
    """A firmware in a sentence: “its name” and version (“Relay firmware” 1.1.0)."""
    fw = fw or {}
    name = results.device_label(fw.get("name"), "")
    if not name:
        return fallback
    version = results.device_label(fw.get("version"), "")
    return f"“{name}”" + (f" {version}" if version else "")


def set_target(
    actor: Who, client: IoTClient, uid: str, md5: str, fw: dict[str, Any] | None
) -> dict[str, Any]:
    """Set the device's target firmware; returns a notice for the page."""
    fw = fw or {}
    sent = {"md5": md5, "name": fw.get("name"), "version": fw.get("version")}
    outcome = perform(
        actor,
        "firmware.set_target",
        lambda: client.set_target(uid, md5),
        device_uid=uid,
        sent=sent,
        success="Firmware assigned to device.",
    )
    what = f"Firmware {label_of(fw, md5 or '(no md5)')}"
    said = results.of(outcome, what, name_of(actor, uid), done="set as target", to="of")
    return notice(outcome, said.text, firmware_id=fw.get("id"))


def trigger_ota(actor: Who, client: IoTClient, uid: str) -> dict[str, Any]:
    """Trigger an OTA update of the device's target; returns a notice for the page."""
    sent: dict[str, Any] = {}
    device: dict[str, Any] = {}

    def trigger() -> Any:
        device.update(client.get_device(uid))
        target = device.get("target_firmware")
        target = target if isinstance(target, dict) else {}
        sent.update(md5=md5_of(target), name=target.get("name"), version=target.get("version"))
        return client.trigger_ota(uid)

    outcome = perform(
        actor, "firmware.ota", trigger, device_uid=uid, sent=sent, success="OTA check triggered.",
        device_name=lambda: device.get("name") or None,  # the detail just read, or the page's
    )  # fmt: skip
    # "Update started on Kitchen Relay: …", as the commands panel's Start update says it.
    what, done, to = UPDATE_SAID
    said = results.of(outcome, what, name_of(actor, uid, device.get("name")), done=done, to=to)
    if outcome.ok:
        return notice(outcome, said.text, follow_since=int(time.time()))
    return notice(outcome, said.text)


def _refused(request: HttpRequest, uid: str, form: UploadForm) -> None:
    """An upload form the portal refused: one row, with what was typed (never the file)."""
    file = form.files.get("file")
    sent = {**outcomes.typed(form), "bytes": getattr(file, "size", None)}
    if FIRMWARE_TOO_LARGE in form.errors.get("file", []):
        outcomes.refuse(
            request, "firmware.upload", FIRMWARE_TOO_LARGE, device_uid=uid, sent=sent, status=413
        )
    else:
        message = outcomes.problems(form)
        outcomes.refuse(request, "firmware.upload", message, device_uid=uid, sent=sent)
