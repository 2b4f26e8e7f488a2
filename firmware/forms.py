"""Firmware forms: they only validate (the upstream's limits, and the 4 MB file cap)."""

from __future__ import annotations

from django import forms

from portal.iot import FIRMWARE_TOO_LARGE, MAX_FIRMWARE_BYTES, Rejected

# The upstream's limits (API.md): name ≤ 255, version ≤ 50, notes ≤ 1000.
NAME_MAX, VERSION_MAX, NOTES_MAX = 255, 50, 1000


class MetadataForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    version = forms.CharField(max_length=VERSION_MAX, required=False)
    notes = forms.CharField(max_length=NOTES_MAX, required=False, widget=forms.Textarea)

    def add_upstream_errors(self, error: Rejected) -> bool:
        """Put the upstream's field errors beside their fields; False when there were none."""
        placed = False
        for field, messages in error.errors.items():
            if field in self.fields:
                for message in messages:
                    self.add_error(field, message)
                placed = True
        return placed


class UploadForm(MetadataForm):
    # Empty files pass here so the image check names them ("The file is empty.").
    file = forms.FileField(allow_empty_file=True)
    upload_anyway = forms.BooleanField(required=False)

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > MAX_FIRMWARE_BYTES:
            raise forms.ValidationError(FIRMWARE_TOO_LARGE)
        return file
