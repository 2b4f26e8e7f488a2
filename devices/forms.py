"""Input checks for the device pages. Forms only validate; the upstream has the last word."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator

from portal import payloads
from portal.iot import BUTTON_ID_PATTERN

# What the upstream accepts for a device's name and description: the same limits as its
# firmware name and notes (255 and 1,000 characters), never tighter; the upstream checks.
MAX_LENGTH = {"name": 255, "description": 1000}


class PayloadField(forms.CharField):
    """A JSON object of at most 8 KB; parse errors name their line."""

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        try:
            return payloads.parse(text)
        except payloads.PayloadError as error:
            raise forms.ValidationError(error.message, code="payload") from None

    def validate(self, value: Any) -> None:
        """Required-ness is checked by `payloads.parse`, which explains it better."""


class CommandForm(forms.Form):
    payload = PayloadField(label="Payload (JSON object)")
    send_anyway = forms.BooleanField(required=False, label="Send it as a custom command anyway")

    def builtin(self) -> str | None:
        """The built-in action the payload looks like, unless the user chose to send it."""
        if self.cleaned_data.get("send_anyway"):
            return None
        return payloads.looks_builtin(self.cleaned_data["payload"])


class ButtonForm(forms.Form):
    id = forms.CharField(
        label="Id",
        max_length=64,
        validators=[
            RegexValidator(
                f"^{BUTTON_ID_PATTERN.pattern}$",
                "Use 1 to 64 letters, digits, hyphens or underscores.",
            )
        ],
        error_messages={"required": "Give the button an id, like relay_on."},
    )
    label = forms.CharField(
        label="Label",
        max_length=64,
        error_messages={"required": "Give the button a label, like Relay on."},
    )
    payload = PayloadField(label="Payload (JSON object)")
    confirm = forms.BooleanField(required=False, label="Ask for confirmation before sending")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own ids: the command form on the same page has a payload field too.
        kwargs.setdefault("auto_id", "button_%s")
        super().__init__(*args, **kwargs)

    def button(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "id": data["id"],
            "label": data["label"],
            "payload": data["payload"],
            "confirm": bool(data["confirm"]),
        }
