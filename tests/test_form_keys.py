"""One-time form keys (portal.form_keys): a write form sent twice does its write once."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from unittest import mock

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from emulator.pytest_plugin import TOKEN_A
from portal import form_keys, outcomes
from portal.models import AuditEvent, UsedFormKey
from tests.devices_helpers import HTMX, upstream_calls

KEY = re.compile(r'name="form_key" value="([^"]+)"')


def _reboot(client, uid, key, **headers):
    return client.post(
        reverse("devices:reboot", args=[uid]),
        {"confirmed": "yes", "form_key": key},
        headers=headers or None,
    )


def test_the_same_reboot_posted_twice_is_sent_once(as_operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    key = form_keys.new()
    first = _reboot(as_operator, uid, key, **HTMX)
    second = _reboot(as_operator, uid, key, **HTMX)
    assert first.status_code == second.status_code == 200
    assert len(upstream_calls(emulator, "POST", "/reboot")) == 1
    rows = list(AuditEvent.objects.filter(action="device.reboot").order_by("id"))
    assert [row.outcome for row in rows] == ["ok", "refused"]
    assert rows[1].message == form_keys.ALREADY_SENT
    assert "Already sent: this form was submitted once; nothing was sent again." in (
        second.content.decode()
    )
    assert second["X-Form-Key-Refused"] == form_keys.ALREADY_SENT


def test_a_command_resubmitted_without_javascript_is_sent_once_and_says_so(as_operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    data = {"payload": '{"relay": "on"}', "form_key": form_keys.new()}
    url = reverse("devices:send_command", args=[uid])
    assert as_operator.post(url, data).status_code == 302
    again = as_operator.post(url, data, follow=True)
    assert "Already sent: this form was submitted once" in again.content.decode()
    assert len(upstream_calls(emulator, "POST", "/commands")) == 1
    outcomes_ = list(
        AuditEvent.objects.filter(action="device.command").values_list("outcome", flat=True)
    )
    assert sorted(outcomes_) == ["ok", "refused"]


def test_a_command_replayed_by_htmx_says_so_though_its_form_shows_no_message(as_operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    data = {"payload": '{"relay": "on"}', "form_key": form_keys.new()}
    url = reverse("devices:send_command", args=[uid])
    as_operator.post(url, data, headers=HTMX)
    again = as_operator.post(url, data, headers=HTMX)
    assert again["X-Form-Key-Refused"] == form_keys.ALREADY_SENT
    assert len(upstream_calls(emulator, "POST", "/commands")) == 1


def test_two_requests_with_one_key_at_the_same_moment_send_once(
    operator, emulator, transactional_db
):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    emulator.set_latency(200)
    key = form_keys.new()
    clients = []
    for _ in range(2):
        c = Client()
        c.force_login(operator)
        clients.append(c)
    threads = [threading.Thread(target=_reboot, args=(c, uid, key)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(upstream_calls(emulator, "POST", "/reboot")) == 1
    rows = AuditEvent.objects.filter(action="device.reboot")
    assert sorted(rows.values_list("outcome", flat=True)) == ["ok", "refused"]


def test_every_drawn_form_has_its_own_key_and_each_sends_once(as_operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page = as_operator.get(reverse("devices:commands", args=[uid]), headers=HTMX)
    keys = KEY.findall(page.content.decode())
    assert len(keys) == len(set(keys)) == 2  # the reboot form, the command form
    again = KEY.findall(
        as_operator.get(reverse("devices:commands", args=[uid]), headers=HTMX).content.decode()
    )
    assert not set(keys) & set(again)


def test_the_answer_to_an_htmx_write_carries_the_next_key_for_a_form_that_stays(
    as_operator, emulator
):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    first = _reboot(as_operator, uid, form_keys.new(), **HTMX)
    second = _reboot(as_operator, uid, first["X-Form-Key"], **HTMX)
    assert "Already sent" not in second.content.decode()
    assert len(upstream_calls(emulator, "POST", "/reboot")) == 2


def test_a_write_without_a_key_or_with_a_made_up_one_is_refused(as_operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    for key in ("", "made-up", form_keys.new() + "x"):
        response = _reboot(as_operator, uid, key, **HTMX)
        assert form_keys.MISSING in response.content.decode()
    assert upstream_calls(emulator, "POST") == []
    assert list(AuditEvent.objects.values_list("outcome", flat=True)) == ["refused"] * 3


def test_a_key_older_than_a_week_is_refused(as_operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    week_ago = timezone.now().timestamp() - form_keys.MAX_AGE - 60
    with mock.patch("time.time", return_value=week_ago):
        old = form_keys.new()
    response = _reboot(as_operator, uid, old, **HTMX)
    assert form_keys.TOO_OLD in response.content.decode()
    assert upstream_calls(emulator, "POST") == []


def test_a_key_survives_the_session_so_a_page_can_send_after_signing_in_again(operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    key = form_keys.new()
    client = Client()
    assert _reboot(client, uid, key, **HTMX).status_code == 401  # signed out: not used up
    client.force_login(operator)
    _reboot(client, uid, key, **HTMX)
    assert len(upstream_calls(emulator, "POST", "/reboot")) == 1


def test_a_refused_form_does_not_use_its_key(as_operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    key = form_keys.new()
    url = reverse("devices:send_command", args=[uid])
    as_operator.post(url, {"payload": "not json", "form_key": key}, headers=HTMX)
    as_operator.post(url, {"payload": '{"a": 1}', "form_key": key}, headers=HTMX)
    assert len(upstream_calls(emulator, "POST", "/commands")) == 1


def test_a_job_without_a_request_needs_no_key(operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    actor = outcomes.Actor(user=operator)
    for _ in range(2):
        assert outcomes.perform(actor, "device.reboot", lambda: {}, device_uid=uid).ok


def test_used_keys_older_than_a_key_can_be_are_dropped(as_operator, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    stale = timezone.now() - timedelta(seconds=form_keys.MAX_AGE + 60)
    UsedFormKey.objects.create(key="old", used_at=stale)
    with mock.patch.object(form_keys, "PURGE_CHANCE", 1.0):
        _reboot(as_operator, uid, form_keys.new(), **HTMX)
    assert list(UsedFormKey.objects.values_list("key", flat=True)) != ["old"]
    assert not UsedFormKey.objects.filter(key="old").exists()


def test_a_replayed_htmx_write_that_leaves_the_page_says_so_on_the_next_one(as_admin, users):
    # Deactivating then reactivating frees the user for a replay of the first form.
    url = reverse("team:user_active", args=[users["viewer"].pk])
    data = {"active": "no", "confirmed": "yes", "form_key": form_keys.new()}
    as_admin.post(url, data, headers=HTMX)
    as_admin.post(url, {"active": "yes"})
    again = as_admin.post(url, data, headers=HTMX)
    assert again.status_code == 200 and again["HX-Redirect"] == url.replace("active/", "")
    assert again["X-Form-Key-Refused"] == form_keys.ALREADY_SENT
    landed = as_admin.get(again["HX-Redirect"]).content.decode()
    assert form_keys.ALREADY_SENT in landed
    assert users["viewer"].__class__.objects.get(pk=users["viewer"].pk).is_active


def test_a_replayed_htmx_write_that_stays_on_the_page_leaves_nothing_for_the_next_one(
    as_operator, emulator
):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    key = form_keys.new()
    _reboot(as_operator, uid, key, **HTMX)
    _reboot(as_operator, uid, key, **HTMX)  # refused: the panel says so in place
    page = as_operator.get(reverse("devices:detail", args=[uid])).content.decode()
    assert form_keys.ALREADY_SENT not in page
