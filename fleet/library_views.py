"""The firmware library's pages, under /fleet/library/: the builds, upload, a build's page.

Everyone with a role may read the library (viewers already see each device's firmware);
adding, deleting and looking for a build on the devices (which spends the token's upstream
reads) need `manage_library` (maintainers and admins).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from fleet import library
from fleet.library_forms import BuildForm
from fleet.models import Build
from portal import confirm, outcomes
from portal import firmware_images as images
from portal.decorators import requires
from portal.iot import (
    FIRMWARE_TOO_LARGE,
    MAX_FIRMWARE_BYTES,
    UID_PATTERN,
    IoTError,
    client_for,
)

LIST = "fleet/library.html"
BUILD = "fleet/build.html"
# Room for the form's text fields and the multipart framing on top of a 4 MB file.
BODY_ALLOWANCE = 64 * 1024
UNMAPPED = "No API token is mapped to your account yet. Ask an admin to assign one."


def _form_context(**extra: Any) -> dict[str, Any]:
    return {
        "max_bytes": MAX_FIRMWARE_BYTES,
        "too_large": FIRMWARE_TOO_LARGE,
        "head_bytes": images.HEAD_BYTES,
        **extra,
    }


def _list_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    token = library.token_of(request.user)
    builds = Build.objects.filter(token=token).select_related("uploaded_by") if token else []
    context = _form_context(token=token, builds=builds, no_token=UNMAPPED, **extra)
    context.setdefault("form", BuildForm())
    return context


def _build_for(request: HttpRequest, pk: int) -> Build:
    """The build, if it is in the library of the user's fleet; else 404 (another fleet's
    build is no business of this user, and its existence is not told)."""
    token = library.token_of(request.user)
    build = Build.objects.filter(pk=pk, token=token).select_related("token").first()
    if token is None or build is None:
        raise Http404("No such build in your library.")
    return build


@login_required
@require_GET
@requires("view_devices")
def index(request: HttpRequest) -> HttpResponse:
    """The builds of the fleet's library, newest first, and the upload form."""
    return render(request, LIST, _list_context(request))


@login_required
@require_POST
@requires("manage_library", action="library.check")
def check(request: HttpRequest) -> HttpResponse:
    """The image checks on a file's first bytes, which the browser posts when a file is picked
    (static/firmware/firmware.js, as on the firmware panel); no device to compare with."""
    head_file = request.FILES.get("head")
    head = head_file.read(images.HEAD_BYTES) if head_file else b""
    size = _number(request.POST.get("size"))
    context: dict[str, Any] = {}
    if size is not None and size > MAX_FIRMWARE_BYTES:
        context["image_error"] = FIRMWARE_TOO_LARGE
    else:
        context["image"] = images.inspect(head if size != 0 else b"")
    return render(request, f"{LIST}#check", context)


def refuse_oversized_body(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a body bigger than a 4 MB file could make it, unread (Django spools files to
    disk without a limit); a file just over 4 MB passes here and the form refuses it."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= MAX_FIRMWARE_BYTES + BODY_ALLOWANCE:
            return view(request, *args, **kwargs)
        sent = {"bytes": length}
        outcomes.refuse(request, "library.upload", FIRMWARE_TOO_LARGE, sent=sent, status=413)
        template = f"{LIST}#upload-result" if request.htmx else LIST
        context = _list_context(request, result={"level": "error", "text": FIRMWARE_TOO_LARGE})
        response = render(request, template, context, status=413)
        response["Connection"] = "close"
        return response

    return wrapper


@csrf_exempt  # the CSRF check reads the whole body: it runs below, after the size gate
@login_required
@require_POST
@requires("manage_library", action="library.upload")
@refuse_oversized_body
@csrf_protect
def upload(request: HttpRequest) -> HttpResponse:
    """Add a build: the form, the image checks (warnings asked first), then the library."""
    form = BuildForm(request.POST, request.FILES)
    token = library.token_of(request.user)
    context: dict[str, Any] = {"form": form}
    if token is None:
        outcomes.refuse(request, "library.upload", UNMAPPED, sent=outcomes.typed(form))
        return _answer(request, context, {"level": "error", "text": UNMAPPED}, status=403)
    if not form.is_valid():
        refusal = outcomes.refuse(
            request, "library.upload", outcomes.problems(form), sent=outcomes.typed(form),
            status=413 if FIRMWARE_TOO_LARGE in form.errors.get("file", []) else None,
        )  # fmt: skip
        context["result"] = {"level": "error", "text": refusal.message}
        return _render(request, "upload-form", context, status=422, retarget="#upload-form")
    file = form.cleaned_data["file"]
    md5, content = library.md5_of_file(file)
    image = images.inspect(content[: images.HEAD_BYTES])
    context["image"] = image
    if image.error:
        sent = {**outcomes.typed(form), "filename": file.name, "bytes": file.size, "md5": md5}
        outcomes.refuse(request, "library.upload", image.error, sent=sent)
    if image.error or (image.warnings and not form.cleaned_data["upload_anyway"]):
        # Unconfirmed warnings only ask first, like a confirmation: nothing is recorded.
        return _render(request, "check", context, status=422, retarget="#image-check")
    outcome = library.add(request, token, form.cleaned_data, content, md5, image)
    result: dict[str, Any] = {"level": outcome.level, "text": outcome.message}
    if outcome.ok:
        result["build"] = outcome.answer
    else:
        result["existing"] = Build.objects.filter(token=token, md5=md5).first()
        result["md5"] = md5
    return _answer(request, context, result, status=200 if outcome.ok else 409)


def _answer(
    request: HttpRequest, context: dict[str, Any], result: dict[str, Any], status: int
) -> HttpResponse:
    context["result"] = result
    if not request.htmx:
        if status == 200:
            messages.success(request, result["text"])
            return redirect("fleet:library_build", pk=result["build"].pk)
        return render(request, LIST, _list_context(request, **context), status=status)
    response = render(request, f"{LIST}#upload-result", _list_context(request, **context))
    response.status_code = status  # the page's htmx swaps 4xx answers too (base.html)
    if status == 200:
        response["HX-Trigger"] = "firmware-uploaded"  # firmware.js resets the form
    return response


def _render(
    request: HttpRequest, partial: str, context: dict[str, Any], *, status: int, retarget: str
) -> HttpResponse:
    if not request.htmx:
        return render(request, LIST, _list_context(request, **context), status=status)
    response = render(request, f"{LIST}#{partial}", _list_context(request, **context))
    response["HX-Retarget"] = retarget
    response["HX-Reswap"] = "outerHTML" if partial == "upload-form" else "innerHTML"
    return response


@login_required
@require_GET
@requires("view_devices")
def build(request: HttpRequest, pk: int) -> HttpResponse:
    """A build: its facts and checks, and where it is on the fleet's devices."""
    found = _build_for(request, pk)
    return render(request, BUILD, _build_context(found))


def _device_href(uid: str) -> str:
    """The device's page, or "" for a uid no address can carry (an odd upstream, an old row)."""
    try:
        return reverse("devices:detail", args=[uid]) if UID_PATTERN.fullmatch(uid) else ""
    except NoReverseMatch:
        return ""


def _build_context(found: Build, **extra: Any) -> dict[str, Any]:
    # The devices that have it in some way first, then by name (the model's order).
    places = sorted(found.places.all(), key=lambda p: not (p.uploaded or p.running or p.target))
    recorded = library.recorded(found)
    for item in [*places, *recorded]:
        item.href = _device_href(item.device_uid)
    return {
        "build": found,
        "places": places,
        "uploaded": [p for p in places if p.uploaded],
        "running": [p for p in places if p.running],
        "targeted": [p for p in places if p.target],
        "recorded": recorded,
        "find_devices": library.FIND_DEVICES,
        "find_reads": 1 + 2 * library.FIND_DEVICES,
        "in_use": found.in_use(),
        **extra,
    }


@login_required
@require_POST
@requires("manage_library", action="library.find")
def find(request: HttpRequest, pk: int) -> HttpResponse:
    """Look for the build on the next devices of the fleet (a bounded number of reads)."""
    found = _build_for(request, pk)
    try:
        look = library.find(client_for(request.user), found)
    except IoTError as error:
        notice = {"level": outcomes.level_of(error), "text": error.message}
    except IntegrityError:
        # Deleted by someone else while this look was reading: nothing left to keep it on.
        messages.warning(request, f"Build {library.label(found)} was deleted meanwhile.")
        return (
            HttpResponseClientRedirect(reverse("fleet:library"))
            if request.htmx
            else redirect("fleet:library")
        )
    else:
        text = (
            f"Looked at {look.looked} of {look.fleet} devices (up to {look.reads} reads of "
            "the device service)."
        )
        if look.never:
            text += f" {look.never} not looked at yet: look again for the next ones."
        notice = {"level": "success", "text": text}
    if not request.htmx:
        messages.add_message(request, outcomes.MESSAGE_LEVELS[notice["level"]], notice["text"])
        return redirect("fleet:library_build", pk=pk)
    found.refresh_from_db()
    return render(request, f"{BUILD}#places", _build_context(found, notice=notice))


@login_required
@require_POST
@requires("manage_library", action="library.delete")
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a build from the library after a confirmation (not one an active rollout uses)."""
    found = _build_for(request, pk)
    if not confirm.confirmed(request):
        question = (
            f"Delete the build {library.label(found)} from the library? Copies already "
            "uploaded to devices stay on them."
        )
        return confirm.ask(request, question, "Delete", danger=True)
    outcome = library.delete(request, found)
    outcome.flash(request)
    if not outcome.ok:
        target = reverse("fleet:library_build", args=[pk])
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    if request.htmx:
        return HttpResponseClientRedirect(reverse("fleet:library"))
    return redirect("fleet:library")


def _number(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except (TypeError, ValueError, OverflowError):  # "1e999" is a float, but no int
        return None
