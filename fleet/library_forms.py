"""The firmware library's form: it only validates (the upstream's limits, and the 4 MB cap)."""

from __future__ import annotations

from django import forms

from portal.iot import FIRMWARE_TOO_LARGE, MAX_FIRMWARE_BYTES

# The upstream's limits for a firmware's fields (API.md), since every build goes to devices
# with these: name ≤ 255, version ≤ 50, notes ≤ 1000.
NAME_MAX, VERSION_MAX, NOTES_MAX = 255, 50, 1000


class BuildForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    version = forms.CharField(max_length=VERSION_MAX, required=False)
    notes = forms.CharField(max_length=NOTES_MAX, required=False, widget=forms.Textarea)
    # Empty files pass here so the image check names them ("The file is empty.").
    file = forms.FileField(allow_empty_file=True)
    upload_anyway = forms.BooleanField(required=False)

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > MAX_FIRMWARE_BYTES:
            raise forms.ValidationError(FIRMWARE_TOO_LARGE)
        return file
