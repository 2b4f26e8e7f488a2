"""The one write path: every write the portal makes, from a page or a background job.

`perform(actor, action, call, ...)`:

1. refuses what cannot be stored, shown or sent faithfully (`portal.storable`), and a form
   that does not validate, before `call` runs, so nothing reaches the upstream; then, for a
   write from a request, uses up its one-time form key (`portal.form_keys`): a form sent a
   second time (a double click, a retry, a resubmit) is refused there, and sent once;
2. runs `call`, the write itself (an upstream call, or a change to the portal's own records);
3. records exactly one audit row, whatever happened: succeeded, refused by the portal,
   rejected or failed by the device service, or *unknown* (the write was sent and its answer
   never came);
4. returns one `Outcome`, which a view turns into a partial or a flash message and a job
   into a ledger row.

`refuse` is its refusal half, for a write refused before it could be attempted (the role
check, a body too big to read). An unknown outcome is never retried here or anywhere: the
device may have acted on it, so the user is told to check it first.

`actor` is the request, or an `Actor` (user and address) for a job that has no request.

The row names the device by uid and by the name the page knew it by (`device_name`): given
by the view, or else the page's own `device_name` field (the device pages carry one in
every write form), so the log reads as the user saw it that day, whatever it is called now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest

from portal import audit, form_keys, storable
from portal.iot import IoTError, OutcomeUnknown, Rejected, level_of
from portal.models import AuditEvent

SMALL_BODY = 64 * 1024  # bytes of a form post read just to find the page's `device_name`
# A device's name for the audit row: given, learnt during the call, or None (the page's).
Name = str | Callable[[], str | None] | None

SUCCESS, WARNING, ERROR, UNKNOWN = "success", "warning", "error", "unknown"
UNKNOWN_MESSAGE = "Outcome unknown: check the device before trying again."
MESSAGE_LEVELS = {
    SUCCESS: messages.SUCCESS,
    WARNING: messages.WARNING,
    UNKNOWN: messages.WARNING,
    ERROR: messages.ERROR,
}


@dataclass(frozen=True)
class Actor:
    """Who makes a write: a request's user and client address, or a job's."""

    user: Any
    ip: str | None = None
    request: HttpRequest | None = None
    # The label of the token the user acts with, when known (a job reads it once for all its
    # rows); None: each audit row reads it from the user's profile.
    token_label: str | None = None

    @classmethod
    def of(cls, who: HttpRequest | Actor) -> Actor:
        if isinstance(who, Actor):
            return who
        return cls(user=getattr(who, "user", None), ip=audit.client_ip(who), request=who)

    def device_name(self) -> str:
        """The `device_name` field the page sent with the write, or "" (a job, a script)."""
        request = self.request
        if request is None:
            return ""
        source = request.GET
        if request.method == "POST":
            # Never parse a big body here (a file upload): refusing an oversized one must
            # not read it. A page's write form is a few hundred bytes.
            parsed = "_post" in request.__dict__
            if not parsed and _length(request) > SMALL_BODY:
                return ""
            try:
                source = request.POST
            except (SuspiciousOperation, OSError, ValueError):
                return ""  # a body too big or broken: the row is recorded without a name
        value = source.get("device_name", "")
        return value.strip() if isinstance(value, str) else ""


def _length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return SMALL_BODY + 1


@dataclass
class Outcome:
    """What one write came to.

    `level`: success; warning (the device service said no: offline, not found, throttled,
    a duplicate); error (the portal refused it, or the service or the token failed);
    unknown (sent, but no answer came: it may have happened).
    """

    level: str
    message: str
    answer: Any = None
    error: IoTError | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)  # messages per field
    event: AuditEvent | None = None  # the audit row

    @property
    def ok(self) -> bool:
        return self.level == SUCCESS

    @property
    def unknown(self) -> bool:
        return self.level == UNKNOWN

    @property
    def refused(self) -> bool:
        """The portal refused it: nothing was sent."""
        return self.event is not None and self.event.outcome == AuditEvent.Outcome.REFUSED

    def field_errors(self, name: str) -> list[str]:
        """The messages for one field, or the general message when there are none."""
        if self.errors.get(name):
            return list(self.errors[name])
        return [] if self.ok else [self.message]

    def flash(self, request: HttpRequest) -> None:
        """Carry the outcome across a redirect (the no-JavaScript path), once: a form key's
        refusal is already there (`_not_sent`)."""
        if getattr(request, "form_key_refusal", None) == self.message:
            return
        messages.add_message(request, MESSAGE_LEVELS.get(self.level, messages.ERROR), self.message)


@dataclass
class Done:
    """What a call may return when its success says more than the upstream's answer: the
    message to show, a level (a token saved but rejected is a warning), more of `sent`, and
    the audit row's message when it differs from the one shown."""

    answer: Any = None
    message: str = ""
    level: str = SUCCESS
    sent: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None


class Refused(Exception):
    """Raised by a call that finds, before sending anything, that it must not go ahead."""

    def __init__(
        self, message: str, errors: dict[str, list[str]] | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.status = status


def typed(form: forms.Form) -> dict[str, Any]:
    """What was typed in a form's fields, for the audit row: never a password or a file."""
    data: dict[str, Any] = {}
    for name, bound in form.fields.items():
        if isinstance(bound.widget, forms.PasswordInput) or isinstance(bound, forms.FileField):
            continue
        if name in form.data:
            data[name] = form.data.get(name)
    return data


def problems(form: forms.Form) -> str:
    """Which fields were wrong and why, in one line (never what was typed)."""
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


def refuse(
    actor: HttpRequest | Actor,
    action: str,
    message: str,
    *,
    device_uid: str = "",
    device_name: Name = None,
    sent: Mapping[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int | None = None,
) -> Outcome:
    """A write the portal refused before anything was sent: one `refused` audit row."""
    who = Actor.of(actor)
    event = _record(
        who, action, AuditEvent.Outcome.REFUSED, (device_uid, device_name), sent,
        status=status, message=message,
    )  # fmt: skip
    return Outcome(ERROR, message, errors=dict(errors or {}), event=event)


def perform(
    actor: HttpRequest | Actor,
    action: str,
    call: Callable[[], Any],
    *,
    device_uid: str = "",
    device_name: Name = None,
    sent: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    check: Mapping[str, Any] | None = None,
    form: forms.Form | None = None,
    success: str | Callable[[Any], str] = "Done.",
    status: int | None = None,
) -> Outcome:
    """Make one write and record it; see the module's docstring.

    `sent` is what the audit row shows (a mapping, or a function of the validated form;
    `call` may add to a mapping as it goes, like the md5 of an upload); `check` is what goes
    upstream or into the database, checked before `call` (default: `sent`). `success` is the
    message when the answer has none of its own; `status` the code recorded on success.
    `device_name` is the device's name for the row (a function is asked after `call`, which
    may be what learns it); None takes the page's `device_name` field.
    """
    who = Actor.of(actor)
    device = (device_uid, device_name)
    if form is not None and not form.is_valid():
        given = dict(sent) if isinstance(sent, Mapping) else {}
        recorded = {**typed(form), **given}
        errors = {name: list(errs) for name, errs in form.errors.items()}
        return refuse(
            who, action, problems(form), device_uid=device_uid, device_name=device_name,
            sent=recorded, errors=errors,
        )  # fmt: skip
    # The very mapping given, not a copy: a call may add to it (an upload's md5).
    record: Mapping[str, Any] = sent() if callable(sent) else sent if sent is not None else {}
    try:
        storable.check(check if check is not None else record)
    except storable.Unstorable as error:
        return refuse(
            who, action, error.message, device_uid=device_uid, device_name=device_name,
            sent=record, errors={error.field: [error.message]},
        )  # fmt: skip
    if who.request is not None and not getattr(who.request, "form_key_used", False):
        problem = form_keys.use(form_keys.of(who.request))
        if problem:
            return _not_sent(who, action, problem, device_uid, device_name, record)
        # One submission, one key: the further writes of the same request (a plain
        # roll-out's target and OTA after its upload) are part of it.
        who.request.form_key_used = True  # type: ignore[attr-defined]
    try:
        answer = call()
    except Refused as refusal:
        return refuse(
            who, action, refusal.message, device_uid=device_uid, device_name=device_name,
            sent=record, errors=refusal.errors, status=refusal.status,
        )  # fmt: skip
    except OutcomeUnknown as error:
        # Never resent: the device may have acted on it. The user checks first.
        event = _record(
            who, action, AuditEvent.Outcome.UNKNOWN, device, record,
            status=error.status, message=error.message,
        )  # fmt: skip
        return Outcome(UNKNOWN, UNKNOWN_MESSAGE, error=error, event=event)
    except IoTError as error:
        event = _record(
            who, action, audit.outcome_of(error), device, record,
            status=error.status, message=error.message,
        )  # fmt: skip
        errors = dict(error.errors) if isinstance(error, Rejected) else {}
        # A refusal (offline, no firmware assigned, duplicate id, not found, throttled) is a
        # normal answer, shown as a warning; a failure of the service or the token is an error.
        message = storable.shown(error.message)
        return Outcome(level_of(error), message, error=error, errors=errors, event=event)
    except Exception as error:
        # A bug: still one row, then the error goes on to the error page and the logs.
        _record(
            who, action, AuditEvent.Outcome.FAILED, device, record,
            message=f"The portal failed ({type(error).__name__}).",
        )  # fmt: skip
        raise
    done = answer if isinstance(answer, Done) else Done(answer=answer)
    message = done.message or _message_of(done.answer, success)
    event = _record(
        who, action, AuditEvent.Outcome.OK, device, {**record, **done.sent},
        status=status, message=message if done.note is None else done.note,
    )  # fmt: skip
    # The answer is shown on a page: text no page can carry (a lone surrogate) is replaced.
    return Outcome(done.level, message, answer=storable.shown(done.answer), event=event)


def _not_sent(
    who: Actor, action: str, message: str, device_uid: str, device_name: Name, record: Mapping
) -> Outcome:
    """A write refused for its form key. Views show a refusal beside a form's fields, and
    this one has no field: the page is told too, as a message or (htmx) a header the
    portal's script shows, so it is never silent (FormKeyMiddleware)."""
    request = who.request
    request.form_key_refusal = message  # type: ignore[union-attr]
    if not getattr(request, "htmx", False):
        messages.warning(request, message, fail_silently=True)
    return refuse(who, action, message, device_uid=device_uid, device_name=device_name, sent=record)


def _message_of(answer: Any, success: str | Callable[[Any], str]) -> str:
    if callable(success):
        return success(answer)
    text = answer.get("message") if isinstance(answer, dict) else None
    return storable.shown(text) if isinstance(text, str) and text else success


def _record(
    who: Actor,
    action: str,
    outcome: str,
    device: tuple[str, Name],
    sent: Mapping[str, Any] | None,
    *,
    status: int | None = None,
    message: str = "",
) -> AuditEvent | None:
    device_uid, name = device
    if callable(name):
        name = name()
    return audit.record(
        who.request,
        action,
        outcome=outcome,
        device_uid=device_uid,
        device_name=who.device_name() if name is None else name,
        sent=dict(sent or {}),
        status_code=status,
        message=message,
        user=who.user,
        ip=who.ip,
        token_label=who.token_label,
    )
