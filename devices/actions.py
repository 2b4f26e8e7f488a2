"""Built-in device actions (reboot, Wi-Fi reset, start update) and custom JSON commands.

Each action asks for confirmation first: in the page's dialog with JavaScript (hx-confirm),
or on a confirmation page without it (portal.confirm). The result names the action and the
device, then gives the upstream's answer as it is ("Reboot sent to Kitchen Relay: Reboot
command sent."; its refusal, "Device is offline.", as a warning), in the panel's one result
area: a new result replaces the last.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from devices.forms import CommandForm
from portal import confirm, payloads, results
from portal.decorators import requires
from portal.iot import client_for
from portal.outcomes import perform
from portal.results import NEEDS_TARGET, START_UPDATE, UPDATE_SAID, Result, device_label, question


@dataclass(frozen=True)
class Action:
    key: str  # also its URL name
    codename: str
    audit: str
    method: str  # the IoTClient method
    button: str  # also the action's name in its result ("Reboot sent to …")
    question: str  # {name} is the device's name
    danger: bool = False
    needs_target: bool = False  # cannot work until the device has a target firmware
    said: tuple[str, str, str] = ("", "sent", "to")  # its result: what ("" its button), done, to


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
            START_UPDATE,
            "Start an update of “{name}”? It downloads and installs its target firmware, then "
            "restarts.",
            needs_target=True,
            said=UPDATE_SAID,
        ),
    )
}


def _name(request: HttpRequest, uid: str) -> str:
    """The device's name for sentences: passed along by the page (display only), or its uid."""
    source = request.POST if request.method == "POST" else request.GET
    return device_label(source.get("device_name"), uid)


def _panel_context(
    request: HttpRequest,
    uid: str,
    name: str | None = None,
    no_target: bool | None = None,
    **extra: object,
) -> dict[str, object]:
    name = name or _name(request, uid)
    if no_target is None:
        # The device page says whether the device has a target firmware; unknown is "has one".
        no_target = request.GET.get("target") == "none"
    actions = [
        (
            action,
            question(action.question, name),
            reverse(f"devices:{action.key}", args=[uid]),
            no_target and action.needs_target,
        )
        for action in ACTIONS.values()
        if request.user.has_perm(f"portal.{action.codename}")
    ]
    return {
        "uid": uid, "device_name": name, "actions": actions, "needs_target": NEEDS_TARGET, **extra,
    }  # fmt: skip


@login_required
@require_GET
@requires("view_devices")
def commands_panel(request: HttpRequest, uid: str) -> HttpResponse:
    """The actions and the custom command form. No upstream read: it loads at once."""
    context = _panel_context(request, uid, form=CommandForm())
    template = "devices/commands.html#panel" if request.htmx else "devices/commands.html"
    return render(request, template, context)


def panel_context(
    request: HttpRequest, uid: str, device_name: str, *, no_target: bool = False
) -> dict[str, object]:
    """The panel as the device's page draws it in place (it needs no upstream read)."""
    return _panel_context(request, uid, device_name, no_target, form=CommandForm())


def _act(request: HttpRequest, uid: str, action: Action) -> HttpResponse:
    if not confirm.confirmed(request):
        asked = action.question.format(name=_name(request, uid))
        return confirm.ask(request, asked, action.button, danger=action.danger)
    outcome = perform(
        request,
        action.audit,
        lambda: getattr(client_for(request.user), action.method)(uid),
        device_uid=uid,
        status=200,
    )
    what, done, to = action.said
    result = results.of(outcome, what or action.button, _name(request, uid), done=done, to=to)
    return _show(request, uid, result)


def _show(request: HttpRequest, uid: str, result: Result) -> HttpResponse:
    if request.htmx:
        return render(request, "devices/commands.html#result", {"result": result})
    result.flash(request)
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
    context = _panel_context(request, uid, form=form, result=None)
    builtin = form.builtin() if form.is_valid() else None
    if builtin:
        # A question, not a result: the last result goes, the warning asks beside the form.
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
        what = _command_name(form)
        result = results.of_form(outcome, form, what, context["device_name"])
        if outcome.ok and not request.htmx:
            result.flash(request)
            return redirect("devices:commands", uid=uid)
        context["result"] = result
    template = "devices/commands.html#command_answer" if request.htmx else "devices/commands.html"
    return render(request, template, context)


COMMAND_SHOWN = 60  # characters of a payload a result repeats; a longer one is "Command"


def _command_name(form: CommandForm) -> str:
    """A custom command in a sentence: its JSON when short ("Command {"relay": "on"}")."""
    payload = form.cleaned_data.get("payload") if form.is_valid() else None
    if not isinstance(payload, dict):
        return "Command"
    text = json.dumps(payload, ensure_ascii=False, separators=(", ", ": "))
    return f"Command {text}" if len(text) <= COMMAND_SHOWN else "Command"
