"""A device's saved command buttons: list, send, create, delete.

Every answer puts one result in the panel's result area ("Relay On sent to Kitchen Relay:
Command sent."), replacing the last one; a refused form also shows its errors beside the
fields, with what was typed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from devices.forms import ButtonForm
from portal import confirm, results, storable
from portal.decorators import requires
from portal.iot import IoTError, Rejected, client_for
from portal.iot.parallel import Pending
from portal.outcomes import Outcome, perform
from portal.results import Result, device_label


def _panel(
    request: HttpRequest,
    uid: str,
    *,
    form: ButtonForm | None = None,
    result: Result | None = None,
    draft: bool = False,
) -> HttpResponse:
    """The whole panel: the buttons as the upstream has them now, and the create form."""
    context = panel_context(request, uid, form=form, result=result, draft=draft)
    template = "devices/buttons.html#panel" if request.htmx else "devices/buttons.html"
    response = render(request, template, context)
    if request.htmx:
        reswap(retarget(response, "#buttons-panel"), "outerHTML")
    return response


def panel_context(
    request: HttpRequest,
    uid: str,
    *,
    listing: Pending[list[dict[str, Any]]] | None = None,
    device_name: str | None = None,
    form: ButtonForm | None = None,
    result: Result | None = None,
    draft: bool = False,
) -> dict[str, object]:
    """What the panel shows; `listing` is the buttons' read when the device's page started it."""
    context: dict[str, object] = {
        "draft": draft,
        "uid": uid,
        "device_name": device_name or _device_name(request, uid),
        "form": form or ButtonForm(),
        "result": result,
    }
    try:
        buttons = listing.result() if listing else client_for(request.user).list_buttons(uid)
        # What the upstream stored may hold text no page can carry (a lone surrogate).
        context["buttons"] = storable.shown(buttons)
    except IoTError as error:
        context["error"] = error
    return context


def _device_name(request: HttpRequest, uid: str) -> str:
    """The device's name the page passed along (for sentences and the audit row), or its uid."""
    return device_label(request.POST.get("device_name") or request.GET.get("device_name"), uid)


def _button_name(request: HttpRequest, button_id: str) -> str:
    """A button in a sentence: its label as the page showed it, else its id."""
    label = (request.POST.get("label") or "").strip()[:64]
    return label or button_id


@login_required
@require_GET
@requires("view_devices")
def buttons_panel(request: HttpRequest, uid: str) -> HttpResponse:
    return _panel(request, uid)


def _form(request: HttpRequest, uid: str, form: ButtonForm, **extra: object) -> HttpResponse:
    """Only the create form, with what was typed (errors, a draft from the command form)."""
    context = {"uid": uid, "form": form, "device_name": _device_name(request, uid), **extra}
    if not request.htmx:
        return _panel(request, uid, form=form)
    response = render(request, "devices/buttons.html#form_answer", context)
    return reswap(retarget(response, "#button-form"), "outerHTML")


@login_required
@require_POST
@requires("manage_buttons", action="button.create")
def create_button(request: HttpRequest, uid: str) -> HttpResponse:
    """Create a button. `draft=yes` (the "save as button" shortcut) only fills the form in."""
    if request.POST.get("draft") == "yes":
        # The whole panel, not just its form: the draft must land even when the click came
        # before the panel had loaded.
        form = ButtonForm(initial={"payload": request.POST.get("payload", "")})
        return _panel(request, uid, form=form, draft=True)
    form = ButtonForm(request.POST)
    outcome = perform(
        request,
        "button.create",
        lambda: client_for(request.user).create_button(uid, form.button()),
        device_uid=uid,
        form=form,
        sent=form.button,
        success="Command button created.",
        status=201,
    )
    label = (request.POST.get("label") or "").strip()[:64] or request.POST.get("id", "")[:64]
    what = f"Button “{label}”" if label else "Button"
    name = _device_name(request, uid)
    result = results.of_form(outcome, form, what, name, done="created", to="on")
    if not outcome.ok:
        if not form.errors:  # a valid form: the refusal or the upstream's answer, by its field
            _add_upstream_errors(form, outcome)
        if not request.htmx:
            return _panel(request, uid, form=form, result=result)
        return _form(request, uid, form, result=result)
    if not request.htmx:
        result.flash(request)
        return redirect("devices:buttons", uid=uid)
    return _panel(request, uid, result=result)


def _add_upstream_errors(form: ButtonForm, outcome: Outcome) -> None:
    """Put a refusal beside the field it is about, keeping what was typed."""
    for field, messages in outcome.errors.items():
        form.add_error(field if field in form.fields else None, messages)
    if not outcome.errors:
        # A refusal without field errors is the upstream's one rule for buttons: the id must
        # be unique on the device. A failure of the service is about no field.
        form.add_error("id" if isinstance(outcome.error, Rejected) else None, outcome.message)


@login_required
@require_POST
@requires("send_button", action="button.send")
def send_button(request: HttpRequest, uid: str, button_id: str) -> HttpResponse:
    """Send a saved button; one marked `confirm` asks first (the page passes the flag)."""
    name = _device_name(request, uid)
    if request.POST.get("needs_confirm") == "yes" and not confirm.confirmed(request):
        label = _button_name(request, button_id)
        return confirm.ask(request, f"Send “{label}” to {name}?", "Send")
    outcome = perform(
        request,
        "button.send",
        lambda: client_for(request.user).send_button(uid, button_id),
        device_uid=uid,
        sent={"button_id": button_id},
        success="Command sent.",
        status=200,
    )
    result = results.of(outcome, _button_name(request, button_id), name)
    if request.htmx:
        return render(request, "devices/buttons.html#result", {"result": result})
    result.flash(request)
    return redirect("devices:buttons", uid=uid)


@login_required
@require_POST
@requires("manage_buttons", action="button.delete")
def delete_button(request: HttpRequest, uid: str, button_id: str) -> HttpResponse:
    name = _device_name(request, uid)
    label = _button_name(request, button_id)
    if not confirm.confirmed(request):
        question = f"Delete the button “{label}” from {name}?"
        return confirm.ask(request, question, "Delete", danger=True)
    outcome = perform(
        request,
        "button.delete",
        lambda: client_for(request.user).delete_button(uid, button_id),
        device_uid=uid,
        sent={"button_id": button_id},
        success="Command button deleted.",
        status=200,
    )
    result = results.of(outcome, f"Button “{label}”", name, done="deleted", to="from")
    if not request.htmx:
        result.flash(request)
        return redirect("devices:buttons", uid=uid)
    return _panel(request, uid, result=result)
