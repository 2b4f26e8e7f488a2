"""Send hostile cases to a running portal and check each one against issue 10's bar.

A case is one HTTP request to the portal (exact bytes: the path is sent as written, still
percent-encoded), optionally with a broken upstream answer set up first. After each case:

1. the portal answered, and not with a 500, a traceback or a token;
2. every request the emulator received meanwhile is one of API.md's sixteen endpoints, by
   method and by the path as the portal sent it (tests/hostile/legit.py);
3. every upstream write has exactly one audit row of its action (and no write was sent
   twice); an attempt refused before sending has at most one row, and no upstream call.

Cases run one at a time so each upstream request and audit row belongs to one case. A batch
collects every violation and fails once at its end, printing the first few with the request
to reproduce them; all of them go to test-artifacts/hostile/.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes, urlsplit

import requests

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from tests.hostile.legit import WRITE_ACTIONS, endpoint_of

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "hostile"
SHOWN = 12  # violations printed in a failure message; the rest go to the artifact file
TIMEOUT = 60.0  # seconds to wait for the portal: far above any deadline it should keep
SECRETS = (TOKEN_A.encode(), TOKEN_B.encode())
CHECKS = (
    "portal_500",
    "no_answer",
    "traceback",
    "token_shown",
    "off_path",
    "audit",
    "signed_out",
)


# --- the upstream side: every request the emulator receives, path as sent ------------------


class RawRecorder:
    """WSGI middleware in front of the emulator: logs each request's method and raw target.

    The emulator's own request_log holds werkzeug's decoded path, in which `a%2Fb` and `a/b`
    look the same; the bar is about what the portal sent, so this keeps the bytes.
    """

    def __init__(self, app) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._log: list[dict[str, str]] = []

    def __call__(self, environ, start_response):
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"]
        path, _, query = target.partition("?")
        with self._lock:
            self._log.append({"method": environ["REQUEST_METHOD"], "path": path, "query": query})
        return self.app(environ, start_response)

    def mark(self) -> int:
        with self._lock:
            return len(self._log)

    def since(self, mark: int) -> list[dict[str, str]]:
        with self._lock:
            return [dict(e) for e in self._log[mark:]]

    def clear(self) -> None:
        with self._lock:
            self._log = []


# --- cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A broken upstream answer: the emulator's `raw` fault on requests whose path matches."""

    path: str  # regex searched in the (decoded) upstream path
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    label: str = ""

    def describe(self) -> str:
        return (
            f"upstream {self.path!r} answers {self.status} headers={self.headers} "
            f"body={_excerpt(self.body)} ({len(self.body)} bytes)"
        )


@dataclass
class Case:
    """One request to the portal. `path` is sent byte for byte (percent-encode it yourself).

    `form` is url-encoded here, each value encoded as UTF-8 with lone surrogates passed through
    as the (invalid) bytes a broken client would send; `files` makes a multipart body instead;
    `body` sends exact bytes with `headers`' Content-Type.
    """

    group: str  # what is attacked, e.g. "path uid", "rename name", "list answer"
    label: str  # the hostile value, in words
    method: str
    path: str
    role: str = "admin"
    form: dict[str, str | bytes] | list[tuple[str, str | bytes]] | None = None
    files: dict[str, Any] | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cookie: str = ""  # appended to the session's cookies
    htmx: bool = False
    csrf: bool = True
    answers: list[Answer] = field(default_factory=list)
    # Expect no upstream write, whatever happens (a page that only reads).
    read_only: bool = False
    # Refused before sending (a role without the permission): no upstream call at all, and
    # exactly one audit row for the attempt.
    refused: bool = False
    # Keep the emulator's state from the case before (a value stored, then shown).
    keep_state: bool = False
    # A case that replaces the session cookie may be sent to sign in; any other case of a
    # signed-in role must reach its view (else the batch would prove nothing).
    may_sign_out: bool = False

    def describe(self, base: str = "") -> str:
        lines = [f"{self.method} {base}{_clip(self.path, 300)}  as {self.role}  [{self.label}]"]
        if self.htmx:
            lines.append("  HX-Request: true")
        for name, value in self.headers.items():
            lines.append(f"  {name}: {_clip(value, 200)!r}")
        if self.cookie:
            lines.append(f"  Cookie (added): {_clip(self.cookie, 200)!r}")
        if self.form is not None:
            lines.append(f"  form: {_excerpt(encode_form(self.form))}")
        if self.files is not None:
            shown = {k: (f, _excerpt(v)) for k, (f, v) in self.files.items()}
            lines.append(f"  multipart: {shown}")
        if self.body is not None:
            lines.append(f"  body: {_excerpt(self.body)} ({len(self.body)} bytes)")
        lines += [f"  {answer.describe()}" for answer in self.answers]
        return "\n".join(lines)


def _signed_out_event(trigger: str) -> str:
    """The sign-in address of an htmx answer to a signed-out user (401 and the page's
    `portal:signed-out` event, portal.middleware), or ""."""
    try:
        event = json.loads(trigger).get("portal:signed-out") if trigger else None
    except (ValueError, AttributeError):
        return ""
    return str(event.get("login") or "/login/") if isinstance(event, dict) else ""


def with_form_key(form, method: str, *, multipart: bool = False):
    """The form with a fresh one-time form key (portal.form_keys), as a page's form has one:
    each case is a first submission, so it reaches its view's write. A case that sends its
    own `form_key` (or none: a raw `body`) is left as it is."""
    from portal import form_keys
    from tests.multi.deployment import SECRET_KEY

    if method != "POST":
        return form
    pairs = list(form.items()) if isinstance(form, dict) else list(form)
    if any(name == form_keys.FIELD for name, _ in pairs):
        return form
    key = form_keys.new(SECRET_KEY)
    if multipart:
        return {**form, form_keys.FIELD: (None, key.encode())}
    return [*pairs, (form_keys.FIELD, key)]


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def encode_form(form: dict[str, str | bytes] | list[tuple[str, str | bytes]]) -> bytes:
    pairs = form.items() if isinstance(form, dict) else form
    out = [f"{quote_from_bytes(_bytes(k))}={quote_from_bytes(_bytes(v))}" for k, v in pairs]
    return "&".join(out).encode("ascii")


BOUNDARY = "hostile-boundary-7MA4YWxkTrZu0gW"


def encode_multipart(files: dict[str, tuple[str | bytes | None, bytes]]) -> bytes:
    """multipart/form-data, byte for byte: names and filenames may be any bytes at all."""
    out = b""
    for name, (filename, content) in files.items():
        disposition = b'Content-Disposition: form-data; name="' + _bytes(name) + b'"'
        if filename is not None:
            disposition += b'; filename="' + _bytes(filename) + b'"'
            disposition += b"\r\nContent-Type: application/octet-stream"
        out += f"--{BOUNDARY}\r\n".encode() + disposition + b"\r\n\r\n" + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…(+{len(text) - limit} chars)"


def _excerpt(data: bytes | str, limit: int = 160) -> str:
    shown = repr(data[:limit])
    return shown + (f"…(+{len(data) - limit})" if len(data) > limit else "")


# --- the portal side --------------------------------------------------------------------


@dataclass
class Result:
    status: int | None
    body: bytes
    seconds: float
    error: str = ""
    redirect: str = ""  # Location, or htmx's HX-Redirect

    @property
    def to_sign_in(self) -> bool:
        return urlsplit(self.redirect).path == "/login/"


class Portal:
    """One running portal (its URL, its database) and a signed-in session per role."""

    def __init__(self, name: str, url: str, database_url: str, ids: dict[str, int]) -> None:
        self.name = name
        self.url = url
        self.database_url = database_url
        self.ids = ids  # user and token primary keys, by name
        self.sessions: dict[str, requests.Session] = {}
        self.credentials: dict[str, tuple[str, str]] = {}
        self._db = None
        with requests.Session() as visitor:
            visitor.get(f"{url}/login/", timeout=TIMEOUT)
            self.anonymous_csrf = visitor.cookies["csrftoken"]

    # The audit log, read directly from the portal's database.
    def _connection(self):
        if self._db is None:
            if self.database_url.startswith("sqlite"):
                import sqlite3

                path = self.database_url.removeprefix("sqlite:///")
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            else:
                import psycopg

                self._db = psycopg.connect(self.database_url, autocommit=True)
        return self._db

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        sql = sql.replace("%s", "?") if self.database_url.startswith("sqlite") else sql
        return list(self._connection().execute(sql, params).fetchall())

    def last_audit_id(self) -> int:
        return self.query("SELECT COALESCE(MAX(id), 0) FROM portal_auditevent")[0][0]

    def audit_since(self, last_id: int) -> list[tuple[int, str, str]]:
        return self.query(
            "SELECT id, action, outcome FROM portal_auditevent WHERE id > %s ORDER BY id",
            (last_id,),
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        for session in self.sessions.values():
            session.close()

    def sign_in(self, role: str, username: str, password: str) -> None:
        from tests.multi.deployment import post_login

        session = requests.Session()
        response = post_login(session, self.url, username, password)
        assert response.status_code == 302, f"{username} could not sign in: {response.text[:300]}"
        self.sessions[role] = session
        self.credentials[role] = (username, password)

    def sign_in_again(self, role: str) -> None:
        self.sessions.pop(role).close()
        self.sign_in(role, *self.credentials[role])

    def send(self, case: Case) -> Result:
        if case.role == "anonymous":
            # A new visitor each time, holding only the CSRF cookie the sign-in page gave.
            session = requests.Session()
            session.cookies.set("csrftoken", self.anonymous_csrf)
        else:
            session = self.sessions[case.role]
        headers = dict(case.headers)
        if case.htmx:
            headers.setdefault("HX-Request", "true")
        csrf = session.cookies.get("csrftoken")
        if case.csrf and case.method not in ("GET", "HEAD") and csrf:
            headers.setdefault("X-CSRFToken", csrf)
        data: bytes | None = case.body
        if case.form is not None:
            data = encode_form(with_form_key(case.form, case.method))
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if case.files is not None:
            data = encode_multipart(with_form_key(case.files, case.method, multipart=True))
            headers.setdefault("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        request = requests.Request(case.method, self.url + "/", headers=headers, data=data)
        prepared = session.prepare_request(request)
        prepared.url = self.url + case.path  # as written: requests would re-quote it
        if case.cookie:
            jar = prepared.headers.get("Cookie")
            prepared.headers["Cookie"] = f"{jar}; {case.cookie}" if jar else case.cookie
        # What a case's answer sets (a cookie deleted by a junk session cookie) stays with it.
        jar = session.cookies.copy()
        started = time.perf_counter()
        try:
            response = session.send(prepared, timeout=TIMEOUT, allow_redirects=False)
            body = response.content
        except requests.RequestException as error:
            return Result(None, b"", time.perf_counter() - started, type(error).__name__)
        finally:
            session.cookies = jar
        redirect = (
            response.headers.get("Location")
            or response.headers.get("HX-Redirect")
            or _signed_out_event(response.headers.get("HX-Trigger", ""))
        )
        return Result(response.status_code, body, time.perf_counter() - started, "", redirect)


# --- running and checking ---------------------------------------------------------------


@dataclass
class Violation:
    check: str
    case: Case
    result: Result
    detail: str

    def describe(self, base: str) -> str:
        answered = (
            f"-> {self.result.status} in {self.result.seconds:.2f} s"
            if self.result.status is not None
            else f"-> no answer ({self.result.error}) after {self.result.seconds:.2f} s"
        )
        return f"[{self.check}] {self.detail}\n{self.case.describe(base)}\n  {answered}"


@dataclass
class Batch:
    """Runs cases against one portal and keeps the score."""

    portal: Portal
    emulator: Any
    recorder: RawRecorder
    name: str
    cases: int = 0
    violations: list[Violation] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    upstream_calls: int = 0
    most_calls: tuple[int, str] = (0, "")
    # The score as the terminal summary reads it (the test's user_properties hold this dict).
    score: dict[str, Any] = field(default_factory=dict)

    def run(self, cases: Iterable[Case]) -> None:
        for case in cases:
            self.run_one(case)

    def run_one(self, case: Case) -> Result:
        # Each case starts from the seeded fleet: what one case stored upstream cannot break
        # the next (test_stored_values.py stores hostile values on purpose, then reads them).
        if not case.keep_state:
            self.emulator.reset()
        for answer in case.answers:
            self.emulator.set_fault(
                "raw",
                path=answer.path,
                status=answer.status,
                headers=answer.headers,
                body=answer.body,
            )
        mark = self.recorder.mark()
        last_id = self.portal.last_audit_id()
        try:
            result = self.portal.send(case)
        finally:
            self.emulator.clear_faults()
        upstream = self.recorder.since(mark)
        audit = self.portal.audit_since(last_id)
        self.cases += 1
        self._check(case, result, upstream, audit)
        self.upstream_calls += len(upstream)
        if len(upstream) > self.most_calls[0]:
            self.most_calls = (len(upstream), f"{case.method} {_clip(case.path, 80)}")
        self.score.update(self.summary())
        self.slowest = sorted(
            [*self.slowest, (result.seconds, f"{case.group}: {case.label}")], reverse=True
        )[:5]
        return result

    def _violate(self, check: str, case: Case, result: Result, detail: str) -> None:
        self.counts[check] += 1
        self.violations.append(Violation(check, case, result, detail))

    def _check(self, case: Case, result: Result, upstream: list[dict], audit: list) -> None:
        if result.status is None:
            self._violate("no_answer", case, result, f"the portal gave no answer: {result.error}")
        elif result.status == 500:
            # Other 5xx are the portal's own answer about the upstream (a 502 page).
            self._violate("portal_500", case, result, "the portal answered 500")
        if case.role != "anonymous" and not case.may_sign_out and result.to_sign_in:
            # The role's session is gone (a portal defect, or a case that logged it out): sign
            # in again so the cases after this one still reach their views.
            self._violate("signed_out", case, result, f"sent to sign in: {result.redirect}")
            self.portal.sign_in_again(case.role)
        if b"Traceback" in result.body:
            self._violate("traceback", case, result, "the page shows a traceback")
        if any(secret in result.body for secret in SECRETS):
            self._violate("token_shown", case, result, "the page shows an API token")
        writes: Counter = Counter()
        for entry in upstream:
            endpoint = endpoint_of(entry["method"], entry["path"])
            if endpoint is None:
                target = entry["path"] + (f"?{entry['query']}" if entry["query"] else "")
                self._violate(
                    "off_path",
                    case,
                    result,
                    f"upstream received {entry['method']} {_clip(target, 300)}",
                )
            elif entry["method"] != "GET":
                writes[endpoint] += 1
        rows: Counter = Counter(
            WRITE_ACTIONS[action] for _, action, _ in audit if action in WRITE_ACTIONS
        )
        problems = []
        for endpoint in sorted(set(writes) | set(rows)):
            sent, recorded = writes[endpoint], rows[endpoint]
            if sent > 1:
                problems.append(f"{endpoint} sent {sent} times for one request")
            elif sent == 1 and recorded != 1:
                problems.append(f"{endpoint} sent once, {recorded} audit rows")
            elif sent == 0 and recorded > 1:
                problems.append(f"{endpoint} not sent, {recorded} audit rows")
        if case.read_only and writes:
            problems.append(f"a read-only page made upstream writes: {dict(writes)}")
        # The refusal (403) reached the view's role check, which records it; a 500 there is a
        # refusal that failed. Other answers (a 404 for a URL that matched no view, gunicorn's
        # 400 for a request line too long) never reached a view.
        reached = result.status in (403, 500)
        wrong_rows = len(audit) != 1 if reached else len(audit) > 1
        if case.refused and (upstream or wrong_rows):
            problems.append(
                f"a refused attempt made {len(upstream)} upstream calls and left "
                f"{len(audit)} audit rows (expected 0 and {1 if reached else 'at most 1'})"
            )
        if problems:
            self._violate("audit", case, result, "; ".join(problems))

    # -- the end of a batch -------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        return {
            "backend": self.portal.name,
            "batch": self.name,
            "cases": self.cases,
            **{check: self.counts[check] for check in CHECKS},
            "upstream_calls": self.upstream_calls,
        }

    def save(self) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.portal.name}-{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name)}.json"
        path.write_text(
            json.dumps(
                {
                    **self.summary(),
                    "most_upstream_calls_for_one_request": self.most_calls,
                    "slowest": self.slowest,
                    "violations": [
                        {
                            "check": v.check,
                            "detail": v.detail,
                            "group": v.case.group,
                            "label": v.case.label,
                            "status": v.result.status,
                            "seconds": round(v.result.seconds, 3),
                            "request": v.case.describe(),
                        }
                        for v in self.violations
                    ],
                },
                indent=1,
            )
        )
        return path

    def report(self) -> str:
        """The failure message: counts by check and by group, then the first violations."""
        path = self.save()
        by_group = Counter(f"{v.check} / {v.case.group}" for v in self.violations)
        lines = [
            f"hostile [{self.portal.name}] {self.name}: {self.cases} cases, "
            + ", ".join(f"{self.counts[c]} {c}" for c in CHECKS),
            "by check and group: " + "; ".join(f"{k}: {n}" for k, n in sorted(by_group.items())),
            f"all {len(self.violations)} violations: {path}",
            "",
        ]
        # The first of each check and group, so one noisy cause does not hide the others.
        firsts: dict[str, Violation] = {}
        for v in self.violations:
            firsts.setdefault(f"{v.check}/{v.case.group}", v)
        lines += [v.describe(self.portal.url) + "\n" for v in list(firsts.values())[:SHOWN]]
        return "\n".join(lines)

    def assert_clean(self) -> None:
        self.save()
        assert not self.violations, self.report()


def query(pairs: dict[str, str | bytes] | list[tuple[str, str | bytes]]) -> str:
    """A query string, each name and value percent-encoded from its UTF-8 bytes."""
    return "?" + encode_form(pairs).decode()
