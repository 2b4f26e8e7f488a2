"""Exception reports that can never show a token, in any mode.

Django's technical 500 page (DEBUG on, the default with nothing set) lists every local
variable of every frame. Below the transport, requests, urllib3 and http.client hold the
`Authorization` header in variables of their own, under names no `sensitive_variables` can
list. This filter is active in every mode, not only with DEBUG off, and hides any value whose
text carries a bearer token, and every object that holds one.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

_BEARER = re.compile(r"bearer\s+\S+", re.IGNORECASE)


def _holds_a_token(value: Any) -> bool:
    from portal.iot.client import IoTClient
    from portal.iot.transport import Transport

    if isinstance(value, Transport | IoTClient):
        return True
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails cannot be shown either
        return True
    return "bearer" in text.lower() and _BEARER.search(text) is not None


class TokenSafeFilter(SafeExceptionReporterFilter):
    """SafeExceptionReporterFilter, always on, that also hides whatever holds a token."""

    def is_active(self, request) -> bool:
        return True

    def cleanse_special_types(self, request, value):
        if _holds_a_token(value):
            return self.cleansed_substitute
        return super().cleanse_special_types(request, value)


class TokenSafeReporter(ExceptionReporter):
    """The exception's own text is shown too: a bearer token in it is hidden the same way."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        for key in ("exception_value", "exception_notes"):
            if isinstance(data.get(key), str):
                data[key] = _hidden(data[key])
        for frame in data.get("frames", []):
            if frame.get("exc_cause") is not None and _holds_a_token(frame["exc_cause"]):
                frame["exc_cause"] = _hidden(str(frame["exc_cause"]))
        return data


def _hidden(text: str) -> str:
    return _BEARER.sub("Bearer ********************", text)
