"""Static files: whitenoise's compressed, hashed storage, with each file's URL remembered.

Working out a hashed URL from the manifest took about 15 µs, and every page asks for four
or five. The manifest does not change while the portal runs, so each name's URL is worked out
once (with DEBUG on, files change and are not hashed: nothing is remembered then).
"""

from __future__ import annotations

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name: str | None, force: bool = False) -> str:
        if force or settings.DEBUG or name is None:
            return super().url(name, force)
        try:
            return self._urls[name]
        except KeyError:
            url = self._urls[name] = super().url(name)
            return url
