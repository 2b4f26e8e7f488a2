"""Upstream answers of every broken shape, served to every page that reads the upstream and to
every write.

Reads: the device list, a device's page (and its in-place fields), the buttons panel, the
firmware panel (its list and its device), a firmware card and the token check. Each gets the
generic broken answers, and good-looking items with one field of the wrong JSON type. Writes
get the generic answers too: whatever comes back, each write has exactly one audit row.
"""

from __future__ import annotations

import pytest

from emulator.pytest_plugin import TOKEN_A
from tests.hostile.answers import dumps, generic, mutations, next_links
from tests.hostile.harness import Answer, Case

pytestmark = pytest.mark.multi

LOOPS = {"absolute, itself"}


def _reads(uid: str, team_token: int) -> dict[str, list[tuple[str, str, bool]]]:
    """Upstream path regex -> the portal requests that read it: (method, path, htmx)."""
    device = f"^/v1/user/devices/{uid}$"
    return {
        "^/v1/user/devices$": [
            ("GET", "/devices/", False),
            ("GET", "/devices/?sort=-online&online=yes&q=e", True),
            ("POST", f"/tokens/{team_token}/verify/", False),
        ],
        device: [
            ("GET", f"/devices/{uid}/", False),
            ("GET", f"/devices/{uid}/field/name/", True),
            ("GET", f"/devices/{uid}/firmware/follow/", True),
        ],
        f"^/v1/user/devices/{uid}/command-buttons$": [("GET", f"/devices/{uid}/buttons/", False)],
        f"^/v1/user/devices/{uid}/firmwares$": [
            ("GET", f"/devices/{uid}/firmware/", False),
            ("GET", f"/devices/{uid}/firmware/2/", True),
        ],
    }


def _read_case(group, label, method, path, htmx, answer: Answer) -> Case:
    form = {} if method == "POST" else None
    return Case(group, label, method, path, form=form, htmx=htmx, answers=[answer], read_only=True)


def test_broken_answers_to_every_page_that_reads(batch, uid):
    cases = []
    for upstream, pages in _reads(uid, batch.portal.ids["team_token"]).items():
        kind = "object" if upstream.endswith(f"{uid}$") else "list"
        for n, (label, status, headers, body) in enumerate(generic(kind)):
            # Every answer to the first page reading this endpoint; every third to another.
            served = [pages[0]]
            if n % 3 == 0 and len(pages) > 1:
                served.append(pages[1 + n % (len(pages) - 1)])
            for method, path, htmx in served:
                answer = Answer(upstream, status, headers, body, label)
                cases.append(_read_case(f"read {kind} answer", label, method, path, htmx, answer))
    batch.run(cases)
    batch.assert_clean()


def test_next_links_of_every_list(batch, uid):
    base = batch.emulator.url
    cases = []
    for upstream, pages in _reads(uid, batch.portal.ids["team_token"]).items():
        if upstream.endswith(f"{uid}$"):
            continue
        path = upstream.strip("^$")
        for label, body in next_links(base, path):
            # A link back to the same list loops (the fault answers every page alike): a
            # thousand calls today, so only the device list gets those.
            if path != "/v1/user/devices" and label in LOOPS:
                continue
            answer = Answer(upstream, 200, {"Content-Type": "application/json"}, body, label)
            method, page, htmx = pages[0]
            cases.append(_read_case("next link", label, method, page, htmx, answer))
    batch.run(cases)
    batch.assert_clean()


def _items(emulator, uid):
    state = emulator.state
    return {
        "device in the list": (
            "^/v1/user/devices$",
            lambda item: {"data": [item, *state.list_devices(TOKEN_A)[1:3]]},
            state.list_devices(TOKEN_A)[0],
            [("GET", "/devices/", False), ("GET", "/devices/?sort=board&platform=x", True)],
        ),
        "device detail": (
            f"^/v1/user/devices/{uid}$",
            lambda item: {"data": item},
            state.device_detail(TOKEN_A, uid),
            [("GET", f"/devices/{uid}/", False), ("GET", f"/devices/{uid}/firmware/", False)],
        ),
        "button": (
            f"^/v1/user/devices/{uid}/command-buttons$",
            lambda item: {"data": [item]},
            state.list_buttons(TOKEN_A, uid)[0],
            [("GET", f"/devices/{uid}/buttons/", True)],
        ),
        "firmware": (
            f"^/v1/user/devices/{uid}/firmwares$",
            lambda item: {"data": [item]},
            state.list_firmwares(TOKEN_A, uid)[0],
            [
                ("GET", f"/devices/{uid}/firmware/", False),
                ("GET", f"/devices/{uid}/firmware/2/", True),
            ],
        ),
    }


def test_items_with_fields_of_every_wrong_type(batch, uid):
    cases = []
    for what, (upstream, wrap, item, pages) in _items(batch.emulator, uid).items():
        for n, (label, changed) in enumerate(mutations(item, per_field=6)):
            method, path, htmx = pages[n % len(pages)]
            answer = Answer(
                upstream, 200, {"Content-Type": "application/json"}, dumps(wrap(changed))
            )
            cases.append(_read_case(what, label, method, path, htmx, answer))
        for label, body in [("unwrapped", item), ("data list", {"data": [item]})]:
            answer = Answer(upstream, 200, {"Content-Type": "application/json"}, dumps(body))
            cases.append(_read_case(what, label, *pages[0], answer))
    batch.run(cases)
    batch.assert_clean()


def _writes(uid: str) -> list[tuple[str, str, dict, str]]:
    """(portal URL, form, upstream path regex, label) of every write."""
    fw = f"/devices/{uid}/firmware"
    return [
        (f"/devices/{uid}/rename/", {"name": "Renamed"}, f"^/v1/user/devices/{uid}$", "rename"),
        (f"/devices/{uid}/reboot/", {"confirmed": "yes"}, "/reboot$", "reboot"),
        (f"/devices/{uid}/wifi-reset/", {"confirmed": "yes"}, "/wifi-reset$", "wifi reset"),
        (f"/devices/{uid}/ota/", {"confirmed": "yes"}, "/ota$", "ota"),
        (f"/devices/{uid}/commands/send/", {"payload": '{"led": 1}'}, "/commands$", "command"),
        (
            f"/devices/{uid}/buttons/create/",
            {"id": "hostile", "label": "H", "payload": '{"a": 1}'},
            "/command-buttons$",
            "button create",
        ),
        (f"/devices/{uid}/buttons/read_now/send/", {}, "/send$", "button send"),
        (f"/devices/{uid}/buttons/read_now/delete/", {"confirmed": "yes"}, "/read_now$", "delete"),
        (f"{fw}/2/update/", {"name": "x", "version": "2"}, "/firmwares/2$", "firmware update"),
        (f"{fw}/1/delete/", {"confirmed": "yes"}, "/firmwares/1$", "firmware delete"),
        (
            f"{fw}/target/",
            {"md5": "3aa183d96be9599acc3d3b4d2f474f44", "confirmed": "yes"},
            "/set-target$",
            "set target",
        ),
        (f"{fw}/ota/", {"confirmed": "yes"}, "/ota$", "firmware ota"),
    ]


def test_broken_answers_to_every_write(batch, uid):
    cases = []
    answers = generic("write")
    writes = _writes(uid)
    for w, (path, form, upstream, what) in enumerate(writes):
        # Each answer goes to three of the twelve writes, a different three for each answer.
        for n, (label, status, headers, body) in enumerate(answers):
            if w not in {n % len(writes), (n + 5) % len(writes), (n + 9) % len(writes)}:
                continue
            # The regex matches the write's path only (a rename's PATCH shares the detail's
            # path, and the rename view reads nothing before writing).
            answer = Answer(upstream, status, headers, body, label)
            cases.append(
                Case(f"write answer: {what}", label, "POST", path, form=form, answers=[answer])
            )
        if what != "rename":
            continue
        for label, value in [("name object", {"x": 1}), ("data string", "x"), ("data null", None)]:
            body = dumps(
                {"data": {"uid": uid, "name": value}} if "name" in label else {"data": value}
            )
            answer = Answer(upstream, 200, {"Content-Type": "application/json"}, body, label)
            cases.append(
                Case(
                    "write answer: rename",
                    label,
                    "POST",
                    path,
                    form=form,
                    answers=[answer],
                    htmx=True,
                )
            )
    batch.run(cases)
    batch.assert_clean()


def test_broken_answers_to_uploads(batch, uid):
    from tests import firmware_samples as samples

    cases = []
    for n, (label, status, headers, body) in enumerate(generic("object")):
        if n % 2:
            continue
        files = {
            "name": (None, b"Hostile"),
            "upload_anyway": (None, b"on"),
            "file": ("hostile.bin", samples.sized(2048, f"answer {n}")),
        }
        if n % 4 == 0:
            files["rollout"] = (None, b"on")
        answer = Answer(f"^/v1/user/devices/{uid}/firmwares$", status, headers, body, label)
        # The fault answers the list read too (same path): that is part of the breakage.
        cases.append(
            Case(
                "write answer: upload",
                label,
                "POST",
                f"/devices/{uid}/firmware/upload/",
                files=files,
                answers=[answer],
                htmx=n % 3 == 0,
            )
        )
    batch.run(cases)
    batch.assert_clean()
