"""The bulk action preview over the selection, and the job it starts (fleet/jobs_views.py)."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from fleet.jobs_views import fingerprint
from fleet.models import Job, JobItem
from portal.models import AuditEvent
from tests.conftest import make_user
from tests.fleet_helpers import select

BULK = reverse("fleet:bulk")
ONLINE = ("Kitchen Relay", "Garage Door", "Living Room Thermostat")
OFFLINE = ("Front Porch Light", "Mailbox Notifier")


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def chosen(emulator, token_a):
    """Uids of three devices seen recently and two that look offline (the seeded fleet)."""
    return [emulator.device_uid(TOKEN_A, name) for name in (*ONLINE, *OFFLINE)]


def post(client, action: str, uids, **data):
    form = {"offline": "skip", "selection": fingerprint(uids), **data}
    return client.post(f"{BULK}?action={action}", form)


def job_rows() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="fleet.job_create").order_by("id"))


def test_the_preview_counts_the_selection_and_the_devices_that_look_offline(
    as_operator, token_a, chosen
):
    select(as_operator, token_a, [*chosen, "gone-uid-1"])
    page = text(as_operator.get(f"{BULK}?action=reboot"))
    assert (
        '5 devices</strong> selected, of which <strong id="bulk-offline">2</strong> look offline'
        in page
    )
    assert "Kitchen Relay" in page and "Front Porch Light" in page
    assert "1 selected device is no longer in this fleet and is left out." in page
    assert "Reboot 5 devices" in page
    for choice in ("Skip them", "Try them anyway", "Wait for them to come back"):
        assert choice in page


def test_an_empty_selection_says_to_select_devices_first(as_operator, token_a):
    page = text(as_operator.get(f"{BULK}?action=reboot"))
    assert "No devices are selected." in page and 'id="bulk-form"' not in page


def test_a_reboot_starts_a_job_skipping_the_devices_that_look_offline(as_operator, token_a, chosen):
    select(as_operator, token_a, chosen)
    response = post(as_operator, "reboot", chosen)
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "fleet:job", args=[job.pk]
    )
    states = dict(job.items.values_list("device_uid", "state"))
    assert [states[uid] for uid in chosen] == ["waiting"] * 3 + ["skipped"] * 2
    page = text(as_operator.get(response["Location"]))
    assert (
        f"Reboot queued for 3 devices (job {job.pk}). 2 devices that looked offline are skipped."
        in page
    )
    (row,) = job_rows()
    assert row.outcome == "ok" and row.sent["action"] == "reboot"
    assert job.created_by.username == "operator" and job.offline == "skip"


def test_try_anyway_and_wait_keep_the_offline_devices(as_operator, token_a, chosen, settings):
    select(as_operator, token_a, chosen)
    post(as_operator, "reboot", chosen, offline="try")
    settings.PORTAL_FLEET_MAX_WAIT_MINUTES = 30
    post(as_operator, "reboot", chosen, offline="wait", wait_minutes="30")
    tried, waited = Job.objects.order_by("pk")
    assert set(tried.items.values_list("state", flat=True)) == {"waiting"}
    assert waited.offline == "wait" and waited.wait_until is not None
    assert 29 * 60 < (waited.wait_until - waited.created_at).total_seconds() <= 30 * 60 + 1


@pytest.mark.parametrize(
    ("minutes", "error"),
    [
        ("", "Say how many minutes to wait, like 15."),
        ("61", "A job waits at most 60 minutes for offline devices."),
        ("0", "Wait at least 1 minute."),
        ("ten", "Give the wait in whole minutes, like 15."),
        ("9" * 5000, "Give the wait in whole minutes, like 15."),
    ],
)
def test_a_wait_needs_minutes_within_the_limit(as_operator, token_a, chosen, minutes, error):
    select(as_operator, token_a, chosen)
    response = post(as_operator, "reboot", chosen, offline="wait", wait_minutes=minutes)
    assert response.status_code == 200 and error in text(response)
    assert not Job.objects.exists()
    (row,) = job_rows()
    assert row.outcome == "refused"


def test_an_offline_choice_not_offered_is_refused(as_operator, token_a, chosen):
    select(as_operator, token_a, chosen)
    response = post(as_operator, "reboot", chosen, offline="later")
    assert "Choose skip, try anyway, or wait." in text(response)
    assert not Job.objects.exists()


def test_a_wifi_reset_of_several_devices_asks_for_their_number_typed(
    as_maintainer, token_a, chosen
):
    select(as_maintainer, token_a, chosen)
    page = text(as_maintainer.get(f"{BULK}?action=wifi_reset"))
    assert "Type 5, the number of devices, to confirm" in page
    response = post(as_maintainer, "wifi_reset", chosen, typed_count="4")
    assert "Type 5, the number of devices whose Wi-Fi is reset, to confirm." in text(response)
    assert 'value="4"' in text(response)  # what was typed stays
    assert not Job.objects.exists() and job_rows()[0].outcome == "refused"
    response = post(as_maintainer, "wifi_reset", chosen, typed_count=" 5 ")
    assert response.status_code == 302 and Job.objects.get().action == "wifi_reset"


def test_a_wifi_reset_of_one_device_does_not_ask_for_a_number(as_maintainer, token_a, chosen):
    select(as_maintainer, token_a, chosen[:1])
    assert "the number of devices" not in text(as_maintainer.get(f"{BULK}?action=wifi_reset"))
    assert post(as_maintainer, "wifi_reset", chosen[:1]).status_code == 302


def test_a_command_payload_is_checked_as_on_one_device_and_kept_when_wrong(
    as_operator, token_a, chosen
):
    select(as_operator, token_a, chosen)
    response = post(as_operator, "command", chosen, payload="{'relay': 'on'}")
    page = text(response)
    assert "Line 1, column 2: Text must be in double quotes" in page
    assert "{'relay': 'on'}</textarea>" in page
    response = post(as_operator, "command", chosen, payload='{"cmd": "reboot"}')
    assert "looks like a reboot: use the bulk “Reboot” action instead" in text(response)
    assert not Job.objects.exists()
    post(as_operator, "command", chosen, payload='{"cmd": "reboot"}', send_anyway="on")
    post(as_operator, "command", chosen, payload='{"relay": "on"}')
    payloads = [job.params for job in Job.objects.order_by("pk")]
    assert payloads == [{"payload": {"cmd": "reboot"}}, {"payload": {"relay": "on"}}]


def test_a_command_button_needs_a_valid_id(as_operator, token_a, chosen):
    select(as_operator, token_a, chosen)
    assert "Give the id of the command button" in text(post(as_operator, "button", chosen))
    bad = text(post(as_operator, "button", chosen, button_id="../x"))
    assert "1 to 64 letters, digits, hyphens or underscores" in bad
    post(as_operator, "button", chosen, button_id="relay_on")
    assert Job.objects.get().params == {"button_id": "relay_on"}


def test_a_tag_needs_a_name_and_needs_no_offline_choice(as_operator, token_a, chosen):
    select(as_operator, token_a, chosen)
    page = text(as_operator.get(f"{BULK}?action=tag_add"))
    assert "Skip them" not in page
    assert "Give the tag's name" in text(post(as_operator, "tag_add", chosen))
    # Whatever offline choice is posted, a tag goes on every selected device.
    response = post(as_operator, "tag_add", chosen, offline="skip", tag="  green   house ")
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.params == {"tag": "green house"} and job.items.count() == 5
    assert not job.items.filter(state=JobItem.State.SKIPPED).exists()


def test_a_selection_changed_since_the_preview_is_refused(as_operator, token_a, chosen):
    select(as_operator, token_a, chosen)
    response = post(as_operator, "reboot", chosen[:2])
    said = "The devices to act on changed since this page was drawn (the selection, or the fleet)"
    assert f"{said}: they are now 5 devices." in text(response)
    assert not Job.objects.exists() and job_rows()[0].outcome == "refused"


def test_the_same_form_sent_twice_starts_one_job(as_operator, token_a, chosen):
    from portal import form_keys

    select(as_operator, token_a, chosen)
    key = form_keys.new()
    first = post(as_operator, "reboot", chosen, form_key=key)
    second = post(as_operator, "reboot", chosen, form_key=key)
    assert first.status_code == 302 and second.status_code == 200
    assert Job.objects.count() == 1
    assert form_keys.ALREADY_SENT in text(second)
    assert [row.outcome for row in job_rows()] == ["ok", "refused"]


def test_a_viewer_is_refused_with_the_role_named_and_one_row(as_viewer, token_a, chosen):
    select(as_viewer, token_a, chosen)
    response = as_viewer.get(f"{BULK}?action=reboot")
    assert response.status_code == 403 and "Rebooting a device needs the operator role." in text(
        response
    )
    response = post(as_viewer, "reboot", chosen)
    assert response.status_code == 403 and not Job.objects.exists()
    (row,) = job_rows()
    assert row.outcome == "refused"


def test_an_operator_may_not_start_a_wifi_reset_or_an_update(as_operator, token_a, chosen):
    select(as_operator, token_a, chosen)
    for action, role in (("wifi_reset", "maintainer"), ("ota", "maintainer")):
        response = as_operator.get(f"{BULK}?action={action}")
        assert response.status_code == 403 and f"the {role} role" in text(response)


def test_without_an_action_the_page_offers_the_actions_the_role_allows(
    as_operator, token_a, chosen
):
    select(as_operator, token_a, chosen)
    for query in ("", "?action=", "?action=format_disk", "?action=%00"):
        response = as_operator.get(BULK + query)
        page = text(response)
        assert response.status_code == 200 and "5 devices selected" in page
        assert "?action=reboot" in page and "?action=wifi_reset" not in page


def test_devices_are_read_once_and_nothing_is_sent_before_a_worker_runs(
    as_operator, token_a, chosen, emulator
):
    select(as_operator, token_a, chosen)
    emulator.clear_log()
    post(as_operator, "reboot", chosen)
    assert [(e["method"], e["path"]) for e in emulator.request_log] == [("GET", "/v1/user/devices")]


def test_an_unreadable_device_list_says_so_and_starts_nothing(
    as_operator, token_a, chosen, emulator
):
    select(as_operator, token_a, chosen)
    emulator.set_fault("500")
    page = text(as_operator.get(f"{BULK}?action=reboot"))
    assert "The device list could not be read" in page
    response = post(as_operator, "reboot", chosen)
    assert response.status_code == 200 and "nothing was started" in text(response)
    assert not Job.objects.exists() and job_rows()[0].outcome == "refused"


def test_a_user_without_a_token_is_told_so(client, db, chosen):
    from portal.roles import Role

    user = make_user("tokenless", Role.OPERATOR)
    client.force_login(user)
    assert "No API token is mapped" in text(client.get(f"{BULK}?action=reboot"))
    response = client.post(f"{BULK}?action=reboot", {"offline": "skip"})
    assert response.status_code == 200 and not Job.objects.exists()


def test_the_selection_of_another_fleet_is_not_used(client, db, emulator, token_a, token_b):
    from portal.roles import Role

    other = make_user("bravo", Role.OPERATOR, token_b)
    client.force_login(other)
    select(client, token_a, [emulator.device_uid(TOKEN_A, "Kitchen Relay")])
    assert "No devices are selected." in text(client.get(f"{BULK}?action=reboot"))
    select(
        client, token_b, [emulator.uids(TOKEN_B)[0], emulator.device_uid(TOKEN_A, "Kitchen Relay")]
    )
    page = text(client.get(f"{BULK}?action=reboot"))
    assert "1 device</strong> selected" in page and "no longer in this fleet" in page


def test_an_error_in_a_field_the_page_does_not_draw_is_said_on_top(as_operator, token_a, chosen):
    select(as_operator, token_a, chosen)
    response = post(as_operator, "reboot", chosen, selection="x" * 65)
    page = text(response)
    assert (
        'id="bulk-problem"' in page and "This form is not as the page drew it (selection:" in page
    )
    tag = post(as_operator, "tag_add", chosen, offline="\x00junk", tag="lab")
    assert tag.status_code == 302 and Job.objects.get().offline == "try"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("a\u202eb", "A tag cannot contain control characters"),
        ("x" * 41, "Ensure this value has at most 40 characters"),
        ("a\x00b", "Null characters are not allowed."),
    ],
)
def test_a_tag_name_that_cannot_be_a_label_is_refused(as_operator, token_a, chosen, name, error):
    select(as_operator, token_a, chosen)
    assert error in text(post(as_operator, "tag_add", chosen, tag=name))
    assert not Job.objects.exists()
