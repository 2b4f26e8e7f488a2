"""A device's saved command buttons: list, send, create, delete."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from devices.forms import ButtonForm
from devices.outcomes import Outcome, perform
from portal import confirm
from portal.decorators import requires
from portal.iot import IoTError, Rejected, client_for


def _panel(
    request: HttpRequest,
    uid: str,
    *,
    form: ButtonForm | None = None,
    flash: Outcome | None = None,
    draft: bool = False,
) -> HttpResponse:
    """The whole panel: the buttons as the upstream has them now, and the create form."""
    context: dict[str, object] = {
        "draft": draft,
        "uid": uid,
        "device_name": (request.POST.get("device_name") or request.GET.get("device_name") or uid)[
            :100
        ],
        "form": form or ButtonForm(),
        "flash": flash,
    }
    try:
        context["buttons"] = client_for(request.user).list_buttons(uid)
    except IoTError as error:
        context["error"] = error
    template = "devices/buttons.html#panel" if request.htmx else "devices/buttons.html"
    response = render(request, template, context)
    if request.htmx:
        reswap(retarget(response, "#buttons-panel"), "outerHTML")
    return response


@login_required
@require_GET
@requires("view_devices")
def buttons_panel(request: HttpRequest, uid: str) -> HttpResponse:
    return _panel(request, uid)


def _form(request: HttpRequest, uid: str, form: ButtonForm, **extra: object) -> HttpResponse:
    """Only the create form, with what was typed (errors, a draft from the command form)."""
    context = {"uid": uid, "form": form, **extra}
    if not request.htmx:
        return _panel(request, uid, form=form)
    response = render(request, "devices/buttons.html#button_form", context)
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
    if not form.is_valid():
        return _form(request, uid, form)
    button = form.button()
    outcome = perform(
        request,
        "button.create",
        uid,
        lambda client: client.create_button(uid, button),
        sent=button,
        success="Command button created.",
        status=201,
    )
    if not outcome.ok:
        _add_upstream_errors(form, outcome)
        return _form(request, uid, form)
    if not request.htmx:
        outcome.flash(request)
        return redirect("devices:buttons", uid=uid)
    return _panel(request, uid, flash=outcome)


def _add_upstream_errors(form: ButtonForm, outcome: Outcome) -> None:
    """Put the upstream's refusal beside the field it is about, keeping what was typed."""
    errors = outcome.error.errors if isinstance(outcome.error, Rejected) else {}
    for field, messages in errors.items():
        form.add_error(field if field in form.fields else None, messages)
    if not errors:
        # A refusal without field errors is the upstream's one rule for buttons: the id must
        # be unique on the device. A failure of the service is about no field.
        form.add_error("id" if isinstance(outcome.error, Rejected) else None, outcome.message)


@login_required
@require_POST
@requires("send_button", action="button.send")
def send_button(request: HttpRequest, uid: str, button_id: str) -> HttpResponse:
    """Send a saved button; one marked `confirm` asks first (the page passes the flag)."""
    if request.POST.get("needs_confirm") == "yes" and not confirm.confirmed(request):
        label = request.POST.get("label") or button_id
        return confirm.ask(request, f"Send “{label}” to the device?", "Send")
    outcome = perform(
        request,
        "button.send",
        uid,
        lambda client: client.send_button(uid, button_id),
        sent={"button_id": button_id},
        success="Command sent.",
    )
    if request.htmx:
        return render(request, "devices/buttons.html#result", {"outcome": outcome})
    outcome.flash(request)
    return redirect("devices:buttons", uid=uid)


@login_required
@require_POST
@requires("manage_buttons", action="button.delete")
def delete_button(request: HttpRequest, uid: str, button_id: str) -> HttpResponse:
    if not confirm.confirmed(request):
        label = request.POST.get("label") or button_id
        return confirm.ask(request, f"Delete the button “{label}”?", "Delete", danger=True)
    outcome = perform(
        request,
        "button.delete",
        uid,
        lambda client: client.delete_button(uid, button_id),
        sent={"button_id": button_id},
        success="Command button deleted.",
    )
    if not request.htmx:
        outcome.flash(request)
        return redirect("devices:buttons", uid=uid)
    return _panel(request, uid, flash=outcome)
