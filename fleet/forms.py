"""The bulk action form: what an action needs, what to do with offline devices, and the typed
number of devices a Wi-Fi reset of several asks for. Forms only validate (fleet/jobs.py acts).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator

from fleet.models import Job
from portal import payloads, storable
from portal.iot import BUTTON_ID_PATTERN

TAG_MAX_LENGTH = 40  # fleet.models.Tag.name


class PayloadField(forms.CharField):
    """A JSON object of at most 8 KB, checked as on one device's command form."""

    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text and not self.required:
            return None  # an action without a payload (clean_payload asks for one)
        try:
            return payloads.parse(text)
        except payloads.PayloadError as error:
            raise forms.ValidationError(error.message, code="payload") from None


class BulkForm(forms.Form):
    """One bulk action over `count` devices, of which `offline` look offline."""

    offline = forms.ChoiceField(
        label="Devices that look offline",
        choices=Job.Offline.choices,
        initial=Job.Offline.SKIP,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose what to do with the devices that look offline.",
            "invalid_choice": "Choose skip, try anyway, or wait.",
        },
    )
    wait_minutes = forms.IntegerField(
        label="Wait up to (minutes)",
        required=False,
        min_value=1,
        error_messages={"invalid": "Give the wait in whole minutes, like 15."},
    )
    button_id = forms.CharField(
        label="Command button id",
        required=False,
        max_length=64,
        validators=[
            RegexValidator(
                f"^{BUTTON_ID_PATTERN.pattern}$",
                "A button id is 1 to 64 letters, digits, hyphens or underscores.",
            )
        ],
    )
    payload = PayloadField(label="Payload (JSON object)", required=False)
    send_anyway = forms.BooleanField(required=False, label="Send it as a custom command anyway")
    tag = forms.CharField(label="Tag", required=False, max_length=TAG_MAX_LENGTH)
    typed_count = forms.CharField(label="Number of devices", required=False, max_length=20)
    # The selection the preview showed (fleet.views.fingerprint): a post made after the
    # selection (or the fleet) changed is refused rather than acting on other devices.
    selection = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, action: str, count: int, offline: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action, self.count, self.offline_count = action, count, offline
        if action in (Job.Action.TAG_ADD, Job.Action.TAG_REMOVE):
            # A tag is the portal's own record: whether the device is online does not matter,
            # and whatever is posted for it is not looked at.
            self.fields["offline"] = forms.Field(required=False)
        limit = settings.PORTAL_FLEET_MAX_WAIT_MINUTES
        wait = self.fields["wait_minutes"]
        wait.widget.attrs.update(min=1, max=limit)
        wait.validators.append(
            MaxValueValidator(limit, f"A job waits at most {limit} minutes for offline devices.")
        )
        wait.error_messages["min_value"] = "Wait at least 1 minute."

    def shown(self) -> set[str]:
        """The fields the page draws for this action (an error elsewhere is said on top)."""
        fields = {"typed_count"} if self.asks_count else set()
        if self.action in (Job.Action.TAG_ADD, Job.Action.TAG_REMOVE):
            return fields | {"tag"}
        fields |= {"offline", "wait_minutes"}
        if self.action == Job.Action.BUTTON:
            fields.add("button_id")
        if self.action == Job.Action.COMMAND:
            fields |= {"payload", "send_anyway"}
        return fields

    @property
    def asks_count(self) -> bool:
        """A Wi-Fi reset of more than one device: the user types how many."""
        return self.action == Job.Action.WIFI_RESET and self.count > 1

    def clean_button_id(self) -> str:
        value = self.cleaned_data.get("button_id", "")
        if self.action == Job.Action.BUTTON and not value:
            raise forms.ValidationError("Give the id of the command button to send, like relay_on.")
        return value

    def clean_payload(self) -> Any:
        value = self.cleaned_data.get("payload")
        if self.action == Job.Action.COMMAND and not isinstance(value, dict):
            raise forms.ValidationError('Type a JSON object to send, like {"relay": "on"}.')
        return value

    def clean_tag(self) -> str:
        # tags12's fleet/tags.py has the same rules (normalise, problem): one place at merge.
        value = " ".join((self.cleaned_data.get("tag") or "").split())
        if self.action not in (Job.Action.TAG_ADD, Job.Action.TAG_REMOVE):
            return value
        if not value:
            raise forms.ValidationError("Give the tag's name, like greenhouse.")
        found = storable.problem(value)
        if found:
            raise forms.ValidationError(f"The tag {found}.")
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
            raise forms.ValidationError(
                "A tag cannot contain control characters (a newline, a tab, a bidi mark…)."
            )
        return value

    def clean_typed_count(self) -> str:
        value = (self.cleaned_data.get("typed_count") or "").strip()
        if self.asks_count and value != str(self.count):
            raise forms.ValidationError(
                f"Type {self.count}, the number of devices whose Wi-Fi is reset, to confirm."
            )
        return value

    def clean_offline(self) -> str:
        if self.action in (Job.Action.TAG_ADD, Job.Action.TAG_REMOVE):
            return Job.Offline.TRY
        return self.cleaned_data["offline"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        waits = data.get("offline") == Job.Offline.WAIT
        if waits and not self.errors.get("wait_minutes") and not data.get("wait_minutes"):
            self.add_error("wait_minutes", "Say how many minutes to wait, like 15.")
        if (
            self.action == Job.Action.COMMAND
            and isinstance(data.get("payload"), dict)
            and not data.get("send_anyway")
        ):
            builtin = payloads.looks_builtin(data["payload"])
            if builtin:
                self.add_error(
                    "payload",
                    f"This payload looks like {payloads.BUILTINS[builtin]}: use the bulk "
                    f"“{payloads.BUTTON_OF[builtin]}” action instead, or tick “Send it as a "
                    "custom command anyway”.",
                )
        return data

    def params(self) -> dict[str, Any]:
        """What the job needs for its action (fleet.models.Job.params)."""
        data = self.cleaned_data
        if self.action == Job.Action.BUTTON:
            return {"button_id": data["button_id"]}
        if self.action == Job.Action.COMMAND:
            return {"payload": data["payload"]}
        if self.action in (Job.Action.TAG_ADD, Job.Action.TAG_REMOVE):
            return {"tag": data["tag"]}
        return {}

    def wait(self) -> int:
        if self.cleaned_data.get("offline") == Job.Offline.WAIT:
            return int(self.cleaned_data.get("wait_minutes") or 0)
        return 0
