"""What a write came to, said as one sentence that names the action and the device.

"Reboot sent to Kitchen Relay: Reboot command sent." A person reading a panel after a few
clicks must not have to guess which click a message answers, nor which device it was about:
so every result says what was done (or not), to what, and then the device service's own
words. The panels show one `Result` at a time, in one place: a new one replaces the last.

The device is named by `device_label`, the one rule for naming a device in text: its name,
or its uid when it has none (pages add the uid on hover or beside it: `{% device_name %}`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.http import HttpRequest

from portal import display
from portal.outcomes import MESSAGE_LEVELS, SUCCESS, Outcome

NAME_LENGTH = 100  # characters of a device's name carried in a sentence or a form field

# The OTA call has one name on every page (the commands panel and the firmware panel make
# the same upstream call), and its result reads "Update started on Kitchen Relay: …".
START_UPDATE = "Start update"
UPDATE_SAID = ("Update", "started", "on")
# Why it cannot work yet, beside the button, when the device has no target firmware.
NEEDS_TARGET = "Assign a target firmware first."


@dataclass(frozen=True)
class Result:
    """One sentence about one write, and how loudly to say it."""

    level: str
    text: str

    @property
    def ok(self) -> bool:
        return self.level == SUCCESS

    @property
    def role(self) -> str:
        """A success is a status; anything else interrupts (a screen reader says it at once)."""
        return "status" if self.ok else "alert"

    def flash(self, request: HttpRequest) -> None:
        """Carry the result across a redirect (the no-JavaScript path)."""
        messages.add_message(request, MESSAGE_LEVELS.get(self.level, messages.ERROR), self.text)


def device_label(name: object, uid: str) -> str:
    """A device in a sentence: its name, or its uid when it has none."""
    text = display.text(name).strip()[:NAME_LENGTH]
    return text or uid


def of(
    outcome: Outcome,
    what: str,
    device: str,
    *,
    done: str = "sent",
    to: str = "to",
    quote: bool = True,
) -> Result:
    """`outcome` as "<what> <done> <to> <device>: <the service's message>".

    `what` names the action ("Reboot", "Button “Fan on”"), `done` its verb in the past
    ("sent", "created"), `to` the word before the device ("to", "on", "from"). A refusal says
    it was not done; a failure of the service says it failed; an unknown outcome says that
    no answer came and that the device needs checking before anyone tries again. `quote=False`
    leaves out a success's message when it would only repeat the sentence ("Saved.").
    """
    message = (outcome.message or "").strip()
    if outcome.ok and not quote:
        message = ""
    if outcome.ok:
        text = f"{what} {done} {to} {device}" + (f": {message}" if message else ".")
    elif outcome.unknown:
        text = (
            f"{what} {to} {device}: no answer came, so it may or may not have happened. "
            "Check the device before trying again."
        )
    elif outcome.level == "warning" or outcome.refused:
        text = f"{what} not {done} {to} {device}: {message}"
    else:
        text = f"{what} {to} {device} failed: {message}"
    return Result(outcome.level, _ended(text))


def of_form(
    outcome: Outcome,
    form: forms.Form,
    what: str,
    device: str,
    *,
    done: str = "sent",
    to: str = "to",
    quote: bool = True,
) -> Result:
    """Like `of`, but a form the portal refused says which field was wrong and why, by the
    field's label ("Payload: Line 1, column 2: …"), not by its code name."""
    if not (outcome.refused and form.errors):
        return of(outcome, what, device, done=done, to=to, quote=quote)
    problems = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else None
        text = " ".join(str(e) for e in errors)
        problems.append(f"{_plain(label)}: {text}" if label else text)
    return Result(outcome.level, _ended(f"{what} not {done} {to} {device}: {' '.join(problems)}"))


def _plain(label: object) -> str:
    """A field's label in a sentence: "Payload (JSON object)" reads as "Payload"."""
    return str(label).split(" (")[0].strip()


def question(template: str, name: str, **parts: object) -> tuple[str, str]:
    """A confirmation naming the device: the question now, and its template for later.

    `template` holds `{name}` (the device) and `{part}`s. The template that comes back keeps
    `{name}`, with any brace inside a part doubled, so the page can ask again with the
    device's new name after a rename (static/devices/devices.js) whatever the parts hold.
    """
    shown = {key: display.text(value) for key, value in parts.items()}
    kept = {key: text.replace("{", "{{").replace("}", "}}") for key, text in shown.items()}
    return template.format(name=name, **shown), template.format(name="{name}", **kept)


def _ended(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", "…")) else text + "."
