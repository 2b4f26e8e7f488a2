"""Built-in device actions (reboot, Wi-Fi reset, OTA check) and custom JSON commands.

Each action asks for confirmation first: in the page's dialog with JavaScript (hx-confirm),
or on a confirmation page without it (portal.confirm). The upstream's answer is shown as
it is: success, or its refusal ("Device is offline.") as a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from devices import payloads
from devices.forms import CommandForm
from portal import confirm
from portal.decorators import requires
from portal.iot import client_for
from portal.outcomes import Outcome, perform


@dataclass(frozen=True)
class Action:
    key: str  # also its URL name
    codename: str
    audit: str
    method: str  # the IoTClient method
    button: str
    question: str  # {name} is the device's name
    danger: bool = False


ACTIONS = {
    action.key: action
    for action in (
        Action(
            "reboot",
            "reboot_device",
            "device.reboot",
            "reboot",
            "Reboot",
            "Reboot “{name}”? It restarts now and is out of reach for a few seconds while it "
            "reconnects.",
        ),
        Action(
            "wifi_reset",
            "wifi_reset",
            "device.wifi_reset",
            "wifi_reset",
            "Reset Wi-Fi",
            "Reset the Wi-Fi of “{name}”? The device forgets its network and must be "
            "provisioned again before it can come back online.",
            danger=True,
        ),
        Action(
            "ota",
            "trigger_ota",
            "device.ota",
            "trigger_ota",
            "Check for update",
            "Trigger an OTA check on “{name}”? If it has a target firmware it downloads and "
            "installs it, then restarts.",
        ),
    )
}


def _name(request: HttpRequest, uid: str) -> str:
    """The device's name for sentences: passed along by the page (display only), or its uid."""
    source = request.POST if request.method == "POST" else request.GET
    return (source.get("device_name") or uid).strip()[:100] or uid


def _panel_context(
    request: HttpRequest, uid: str, name: str | None = None, **extra: object
) -> dict[str, object]:
    name = name or _name(request, uid)
    actions = [
        (action, action.question.format(name=name), reverse(f"devices:{action.key}", args=[uid]))
        for action in ACTIONS.values()
        if request.user.has_perm(f"portal.{action.codename}")
    ]
    return {"uid": uid, "device_name": name, "actions": actions, **extra}


@login_required
@require_GET
@requires("view_devices")
def commands_panel(request: HttpRequest, uid: str) -> HttpResponse:
    """The actions and the custom command form. No upstream read: it loads at once."""
    context = _panel_context(request, uid, form=CommandForm())
    template = "devices/commands.html#panel" if request.htmx else "devices/commands.html"
    return render(request, template, context)


def panel_context(request: HttpRequest, uid: str, device_name: str) -> dict[str, object]:
    """The panel as the device's page draws it in place (it needs no upstream read)."""
    return _panel_context(request, uid, device_name, form=CommandForm())


def _act(request: HttpRequest, uid: str, action: Action) -> HttpResponse:
    if not confirm.confirmed(request):
        question = action.question.format(name=_name(request, uid))
        return confirm.ask(request, question, action.button, danger=action.danger)
    outcome = perform(
        request,
        action.audit,
        lambda: getattr(client_for(request.user), action.method)(uid),
        device_uid=uid,
        status=200,
    )
    return _show(request, uid, outcome)


def _show(request: HttpRequest, uid: str, outcome: Outcome) -> HttpResponse:
    if request.htmx:
        return render(request, "devices/commands.html#result", {"outcome": outcome})
    outcome.flash(request)
    return redirect("devices:commands", uid=uid)


def _action_view(action: Action) -> Callable[[HttpRequest, str], HttpResponse]:
    """The POST view of one built-in action: its permission and audit name from ACTIONS."""

    @login_required
    @require_POST
    @requires(action.codename, action=action.audit)
    def view(request: HttpRequest, uid: str) -> HttpResponse:
        return _act(request, uid, action)

    view.__name__ = view.__qualname__ = action.key
    view.__doc__ = f"{action.button}: asks first, then calls IoTClient.{action.method}."
    return view


reboot = _action_view(ACTIONS["reboot"])
wifi_reset = _action_view(ACTIONS["wifi_reset"])
trigger_ota = _action_view(ACTIONS["ota"])


@login_required
@require_POST
@requires("send_command", action="device.command")
def send_command(request: HttpRequest, uid: str) -> HttpResponse:
    """Send a JSON object; warn first when it looks like a built-in action."""
    form = CommandForm(request.POST)
    context = _panel_context(request, uid, form=form)
    builtin = form.builtin() if form.is_valid() else None
    if builtin:
        context["builtin"] = (payloads.BUILTINS[builtin], payloads.BUTTON_OF[builtin])
    else:
        # An invalid form is recorded too (refused); its errors show beside the field.
        outcome = perform(
            request,
            "device.command",
            lambda: client_for(request.user).send_command(uid, form.cleaned_data["payload"]),
            device_uid=uid,
            form=form,
            sent=lambda: {"payload": form.cleaned_data["payload"]},
            success="Command sent.",
            status=200,
        )
        if outcome.ok and not request.htmx:
            outcome.flash(request)
            return redirect("devices:commands", uid=uid)
        if not outcome.refused:
            context["outcome"] = outcome
    template = "devices/commands.html#command_form" if request.htmx else "devices/commands.html"
    return render(request, template, context)
