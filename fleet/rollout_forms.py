"""The form that plans a rollout: the build, where its devices come from, the waves, the
health rules and the optional schedule. Forms only validate (fleet/rollouts.py acts)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django import forms
from django.utils import timezone

from fleet import sources
from fleet.models import Build, Rollout
from fleet.rollouts import check_percents
from portal import storable

DAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
MAX_MINUTES = 7 * 24 * 60  # a week: the longest soak, offline wait or follow timeout
_PERCENTS = re.compile(r"^\s*\d{1,3}\s*%?\s*(?:[,;\s]\s*\d{1,3}\s*%?\s*)*$")


def _minutes(label: str, initial: int, minimum: int = 0, **extra: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, initial=initial, min_value=minimum, max_value=MAX_MINUTES,
        error_messages={
            "invalid": "Give whole minutes, like 15.",
            "required": "Give a number of minutes.",
            "min_value": f"At least {minimum} minute{'' if minimum == 1 else 's'}.",
            "max_value": f"At most {MAX_MINUTES:,} minutes (a week).",
        },
        **extra,
    )  # fmt: skip


class RolloutForm(forms.Form):
    """One rollout's plan, for the builds of `token`'s library."""

    build = forms.TypedChoiceField(
        label="Build from the library", coerce=int, empty_value=None,
        error_messages={"required": "Choose a build from the library.",
                        "invalid_choice": "Choose a build from your fleet's library."},
    )  # fmt: skip
    source = forms.ChoiceField(
        label="Devices",
        choices=sources.CHOICES,
        initial=sources.SELECTION,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose which devices to update.",
            "invalid_choice": "Choose the selection, a tag or a search.",
        },
    )
    tag = forms.CharField(label="Tag", required=False, max_length=100)
    search = forms.CharField(
        label="Search of the device table",
        required=False,
        max_length=2000,
        help_text="The device table's address after a search, or its part after “?”, e.g. "
        "q=pump&online=yes.",
    )
    canary = forms.IntegerField(
        label="Canary devices", initial=1, min_value=0, max_value=1000,
        error_messages={"invalid": "Give a whole number of devices, like 1.",
                        "required": "Give the canary's size (0 for none).",
                        "min_value": "0 for no canary, or more.",
                        "max_value": "A canary is at most 1,000 devices."},
    )  # fmt: skip
    percents = forms.CharField(
        label="Then waves up to (%)",
        initial="10, 50, 100",
        max_length=100,
        help_text="The share of the devices done after each wave, e.g. 10, 50, 100.",
        error_messages={"required": "Give at least one wave, e.g. 100."},
    )
    promote = forms.ChoiceField(
        label="Between waves",
        choices=[(Rollout.Promote.AUTO, "Go on by itself when a wave passed"),
                 (Rollout.Promote.MANUAL, "Wait for a maintainer to promote")],
        initial=Rollout.Promote.AUTO, widget=forms.RadioSelect,
        error_messages={"required": "Choose what happens between waves.",
                        "invalid_choice": "Choose automatic or manual promotion."},
    )  # fmt: skip
    pass_percent = forms.IntegerField(
        label="A wave passes with healthy (%)", initial=100, min_value=0, max_value=100,
        error_messages={"invalid": "Give a share from 0 to 100.",
                        "required": "Give a share from 0 to 100.",
                        "min_value": "Give a share from 0 to 100.",
                        "max_value": "Give a share from 0 to 100."},
    )  # fmt: skip
    soak_minutes = _minutes("Soak time (minutes)", 5)
    max_failures = forms.IntegerField(
        label="Pause after this many failures", required=False, min_value=1, max_value=100_000,
        error_messages={"invalid": "Give a whole number of devices, like 3.",
                        "min_value": "At least 1 (or leave it empty).",
                        "max_value": "At most 100,000."},
    )  # fmt: skip
    max_failure_percent = forms.IntegerField(
        label="…or this share of a wave failing (%)", required=False, min_value=1, max_value=100,
        error_messages={"invalid": "Give a share from 1 to 100.",
                        "min_value": "Give a share from 1 to 100.",
                        "max_value": "Give a share from 1 to 100."},
    )  # fmt: skip
    offline_wait_minutes = _minutes("Wait for an offline device up to (minutes)", 60, 1)
    follow_timeout_minutes = _minutes("A device may take to update (minutes)", 15, 1)
    start_at = forms.DateTimeField(
        label="Start at",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Give a date and time, like 2026-12-24 22:00."},
    )
    window_days = forms.TypedMultipleChoiceField(
        label="Only on", required=False, choices=DAYS, coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose days of the week."},
    )  # fmt: skip
    window_start_hour = forms.IntegerField(
        label="From (hour)", required=False, min_value=0, max_value=23,
        error_messages={"invalid": "An hour from 0 to 23.", "min_value": "An hour from 0 to 23.",
                        "max_value": "An hour from 0 to 23."},
    )  # fmt: skip
    window_end_hour = forms.IntegerField(
        label="Until (hour)", required=False, min_value=0, max_value=24,
        error_messages={"invalid": "An hour from 0 to 24.", "min_value": "An hour from 0 to 24.",
                        "max_value": "An hour from 0 to 24."},
    )  # fmt: skip
    window_tz = forms.CharField(label="Time zone", initial="UTC", required=False, max_length=64)

    def __init__(self, *args: Any, builds: list[Build], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["build"].choices = [("", "Choose a build…")] + [(b.pk, str(b)) for b in builds]
        self.builds = {b.pk: b for b in builds}

    def clean_percents(self) -> list[int]:
        text = self.cleaned_data.get("percents", "")
        if not _PERCENTS.match(text):
            raise forms.ValidationError("Give shares from 1 to 100, e.g. 10, 50, 100.")
        values = [int(v) for v in re.findall(r"\d+", text)]
        problem = check_percents(values)
        if problem:
            raise forms.ValidationError(problem)
        return values

    def clean_tag(self) -> str:
        return " ".join(self.cleaned_data.get("tag", "").split())

    def clean_window_tz(self) -> str:
        name = self.cleaned_data.get("window_tz", "").strip() or "UTC"
        if storable.problem(name) or name not in available_timezones() | {"UTC"}:
            raise forms.ValidationError("Give a time zone such as Europe/Berlin or UTC.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        source = data.get("source")
        if source == sources.TAG and not data.get("tag"):
            self.add_error("tag", "Give the tag whose devices to update.")
        if source == sources.SEARCH and not (data.get("search") or "").strip():
            self.add_error("search", "Paste the device table's address after a search.")
        start, end = data.get("window_start_hour"), data.get("window_end_hour")
        if (start is None) != (end is None):
            self.add_error("window_end_hour", "Give both hours of the window, or neither.")
        elif start is not None and start == end % 24:
            self.add_error("window_end_hour", "The window's hours must differ.")
        return data

    def start_moment(self) -> datetime | None:
        """The start time, read in the window's time zone."""
        start = self.cleaned_data.get("start_at")
        if start is None:
            return None
        try:
            zone = ZoneInfo(self.cleaned_data.get("window_tz") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        # The form made the typed wall time aware in the site's zone: read it in the window's.
        naive = timezone.make_naive(start) if timezone.is_aware(start) else start
        return naive.replace(tzinfo=zone)

    def plan_options(self) -> dict[str, Any]:
        """The keyword arguments of fleet.rollouts.plan."""
        data = self.cleaned_data
        return {
            "canary": data["canary"],
            "percents": data["percents"],
            "promote": data["promote"],
            "pass_percent": data["pass_percent"],
            "soak_seconds": data["soak_minutes"] * 60,
            "max_failures": data.get("max_failures"),
            "max_failure_percent": data.get("max_failure_percent"),
            "offline_wait_seconds": data["offline_wait_minutes"] * 60,
            "follow_timeout_seconds": data["follow_timeout_minutes"] * 60,
            "start_at": self.start_moment(),
            "window_days": sorted(set(data.get("window_days") or [])),
            "window_start_hour": data.get("window_start_hour"),
            "window_end_hour": data.get("window_end_hour"),
            "window_tz": data.get("window_tz") or "UTC",
        }
