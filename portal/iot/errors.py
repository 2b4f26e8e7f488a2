"""The few errors every upstream call can end in. `message` is a sentence fit to show a user."""

from __future__ import annotations


class IoTError(Exception):
    """Any failure of an upstream call. `message` is a sentence fit to show a user."""

    status: int | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class UpstreamUnavailable(IoTError):
    """No usable answer: timeout, refused or dropped connection, 5xx, a body that isn't JSON."""


class OutcomeUnknown(UpstreamUnavailable):
    """A write was sent but its answer never came (timeout, dropped connection).

    The device may have acted on it or not: the portal says so and never resends it by itself.
    """


class TokenRejected(IoTError):
    """The upstream refused the token (401) or forbade the action (403)."""


class NotFound(IoTError):
    """The device, button or firmware does not exist for this token (404)."""


class Rejected(IoTError):
    """The upstream refused the request with its own message: validation, device offline..."""

    def __init__(
        self, message: str, status: int | None = None, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message, status)
        self.errors = errors or {}


class RateLimited(IoTError):
    """The upstream is throttling this token (429)."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


def level_of(error: IoTError) -> str:
    """How a page shows an error, the same everywhere: "warning" for the upstream's refusal
    (its own answer: the device is offline, validation, not found, throttled), "error" for a
    failure (of the service, the connection or the token)."""
    return "warning" if isinstance(error, Rejected | RateLimited | NotFound) else "error"


class InvalidIdentifier(IoTError):
    """A uid, button id or firmware id failed its pattern; nothing was sent."""


class NoToken(IoTError):
    """The user has no API token mapped, or its key is missing; nothing was sent."""
