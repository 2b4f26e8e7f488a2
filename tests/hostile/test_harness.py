"""The hostile suite's checks fail when they should: each is fed one violation and must see it.

No portal runs here: a stand-in answers each case as told and reports the upstream requests
and audit rows a real one would have made.
"""

from __future__ import annotations

import pytest

from tests.hostile.harness import Batch, Case, RawRecorder, Result
from tests.hostile.legit import endpoint_of

UID = "espressif32_tT8MbrQJ7Bkr"


class _Emulator:
    def reset(self) -> None:
        pass

    def clear_faults(self) -> None:
        pass

    def set_fault(self, *args, **kwargs) -> None:
        pass


class _Portal:
    """Answers `result`; meanwhile the upstream 'receives' `upstream` and the audit log gains
    `rows` (action, outcome)."""

    name = "stand-in"
    url = "http://portal.test"

    def __init__(self, recorder: RawRecorder, result: Result, upstream=(), rows=()) -> None:
        self.recorder, self.result, self.upstream, self.rows = recorder, result, upstream, rows
        self.signed_in_again: list[str] = []

    def last_audit_id(self) -> int:
        return 0

    def audit_since(self, last_id: int) -> list[tuple[int, str, str]]:
        return [(n + 1, action, outcome) for n, (action, outcome) in enumerate(self.rows)]

    def send(self, case: Case) -> Result:
        for method, path in self.upstream:
            self.recorder(
                {"REQUEST_METHOD": method, "RAW_URI": path, "PATH_INFO": path}, lambda *a: None
            )
        return self.result

    def sign_in_again(self, role: str) -> None:
        self.signed_in_again.append(role)


def _run(result: Result, upstream=(), rows=(), **case) -> Batch:
    recorder = RawRecorder(lambda environ, start_response: [])
    portal = _Portal(recorder, result, upstream, rows)
    batch = Batch(portal, _Emulator(), recorder, "self-test")
    batch.run_one(Case("self-test", "case", case.pop("method", "POST"), "/x/", **case))
    return batch


OK = Result(200, b"<html>fine</html>", 0.01)
REBOOT = ("POST", f"/v1/user/devices/{UID}/reboot")


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    [
        ("GET", "/v1/user/devices", "devices.list"),
        ("PATCH", f"/v1/user/devices/{UID}", "devices.update"),
        ("POST", f"/v1/user/devices/{UID}/command-buttons/relay_on/send", "buttons.send"),
        ("DELETE", f"/v1/user/devices/{UID}/firmwares/12", "firmwares.delete"),
        ("GET", f"/v1/user/devices/{UID}/reboot", None),  # a write's path, read
        ("POST", "/v1/user/devices/a%2Fb/reboot", None),  # an encoded slash in a uid
        ("POST", "/v1/user/devices/a%00/reboot", None),
        ("GET", "/v1/user/devices/../../_emulator/log", None),
        ("GET", "/_emulator/log", None),
        ("GET", "/", None),
        ("DELETE", f"/v1/user/devices/{UID}/firmwares/set-target", None),
    ],
)
def test_only_the_sixteen_endpoints_are_legitimate(method, path, endpoint):
    assert endpoint_of(method, path) == endpoint


def test_a_clean_case_has_no_violation():
    assert _run(OK, [REBOOT], [("device.reboot", "ok")]).violations == []


def test_a_500_is_seen():
    assert _run(Result(500, b"Server Error", 0.01)).counts["portal_500"] == 1


def test_a_502_page_of_the_portal_is_not_a_500():
    assert _run(Result(502, b"The device service failed", 0.01)).violations == []


def test_no_answer_is_seen():
    assert _run(Result(None, b"", 60.0, "ReadTimeout")).counts["no_answer"] == 1


def test_a_traceback_and_a_token_on_a_page_are_seen():
    from emulator.pytest_plugin import TOKEN_A

    batch = _run(Result(200, b"Traceback (most recent call last) " + TOKEN_A.encode(), 0.01))
    assert batch.counts["traceback"] == 1
    assert batch.counts["token_shown"] == 1


def test_an_off_path_upstream_request_is_seen():
    batch = _run(OK, [("GET", "/v1/user/devices/x%2F..%2F..%2Fadmin")])
    assert batch.counts["off_path"] == 1
    assert "x%2F..%2F..%2Fadmin" in batch.violations[0].detail


def test_a_write_without_an_audit_row_is_seen():
    assert _run(OK, [REBOOT], []).counts["audit"] == 1


def test_a_write_with_two_audit_rows_is_seen():
    assert _run(OK, [REBOOT], [("device.reboot", "ok"), ("device.reboot", "ok")]).counts["audit"]


def test_a_write_recorded_under_another_action_is_seen():
    assert _run(OK, [REBOOT], [("device.command", "ok")]).counts["audit"] == 1


def test_a_write_sent_twice_is_seen():
    rows = [("device.reboot", "ok")] * 2
    assert _run(OK, [REBOOT, REBOOT], rows).counts["audit"] == 1


def test_a_refusal_before_sending_may_leave_one_row_and_no_call():
    assert _run(OK, [], [("device.reboot", "failed")]).violations == []


def test_a_refused_role_must_leave_exactly_one_row_and_no_call():
    forbidden = Result(403, b"Your role cannot do this.", 0.01)
    assert _run(forbidden, [], [], refused=True).counts["audit"] == 1
    assert _run(forbidden, [REBOOT], [("device.reboot", "refused")], refused=True).counts["audit"]
    assert _run(forbidden, [], [("device.reboot", "refused")], refused=True).violations == []


def test_a_read_only_page_that_writes_is_seen():
    assert _run(OK, [REBOOT], [("device.reboot", "ok")], read_only=True).counts["audit"] == 1


def test_a_signed_out_session_is_seen_and_signed_in_again():
    batch = _run(Result(302, b"", 0.01, redirect="/login/?next=/devices/"), method="GET")
    assert batch.counts["signed_out"] == 1
    assert batch.portal.signed_in_again == ["admin"]


def test_an_htmx_answer_to_a_signed_out_user_counts_as_sent_to_sign_in():
    from tests.hostile.harness import _signed_out_event

    event = '{"portal:signed-out": {"login": "/login/?next=%2F&reason=ended"}}'
    assert Result(401, b"", 0.01, redirect=_signed_out_event(event)).to_sign_in
    assert _signed_out_event('{"other": 1}') == "" and _signed_out_event("not json") == ""
    batch = _run(Result(401, b"", 0.01, redirect=_signed_out_event(event)), htmx=True)
    assert batch.counts["signed_out"] == 1


def test_every_posted_case_carries_a_fresh_form_key_unless_it_brings_its_own():
    from tests.hostile.harness import with_form_key

    first = dict(with_form_key({"name": "x"}, "POST"))
    second = dict(with_form_key({"name": "x"}, "POST"))
    assert first["form_key"] and first["form_key"] != second["form_key"]
    assert with_form_key({"form_key": ""}, "POST") == {"form_key": ""}
    assert with_form_key({"q": "x"}, "GET") == {"q": "x"}
    assert with_form_key({"file": ("a.bin", b"")}, "POST", multipart=True)["form_key"][0] is None
