"""Editing a device's name and description in place, and as a plain form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, last_audit, uid_of, upstream_calls


def test_the_edit_form_comes_with_the_current_value(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.get(
        reverse("devices:edit", args=[uid, "name"]), headers=HTMX
    ).content.decode()
    assert body.lstrip().startswith('<form id="field-name"')
    assert 'value="Kitchen Relay"' in body and "autofocus" in body
    assert "Save" in body and "data-inline-cancel" in body


def test_it_saves_a_new_name_in_place_and_updates_the_heading(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_operator.post(
        reverse("devices:rename", args=[uid]), {"name": "Pantry Relay"}, headers=HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="field-name"' in body and "Kitchen Relay renamed to Pantry Relay." in body
    assert 'id="device-title-name" data-device-name' in body and ">Pantry Relay</span>" in body
    assert 'hx-swap-oob="true">Pantry Relay</span>' in body
    assert emulator.state.device_detail(TOKEN_A, uid)["name"] == "Pantry Relay"
    event = last_audit()
    assert (event.action, event.outcome, event.sent, event.device_uid) == (
        "device.rename",
        AuditEvent.Outcome.OK,
        {"name": "Pantry Relay", "from": "Kitchen Relay"},
        uid,
    )


def test_it_saves_a_description(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    as_operator.post(
        reverse("devices:rename", args=[uid]), {"description": "Under the sink"}, headers=HTMX
    )
    assert emulator.state.device_detail(TOKEN_A, uid)["description"] == "Under the sink"
    assert last_audit().sent["description"] == "Under the sink"


def test_it_shows_the_upstreams_validation_beside_the_field_and_keeps_the_typed_value(
    as_operator, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    too_long = "x" * 256
    body = as_operator.post(
        reverse("devices:rename", args=[uid]), {"name": too_long}, headers=HTMX
    ).content.decode()
    assert 'id="id_name_error"' in body
    assert "The name field must not be greater than 255 characters." in body
    assert f'value="{too_long}"' in body
    assert last_audit().outcome == AuditEvent.Outcome.REJECTED
    assert last_audit().status_code == 422


@pytest.mark.parametrize(("field", "limit"), [("name", 255), ("description", 1000)])
def test_a_name_or_description_as_long_as_the_upstream_accepts_is_saved(
    as_operator, emulator, field, limit
):
    uid = uid_of(emulator, "Kitchen Relay")
    form = as_operator.get(reverse("devices:edit", args=[uid, field]), headers=HTMX)
    assert f'maxlength="{limit}"' in form.content.decode()
    response = as_operator.post(
        reverse("devices:rename", args=[uid]), {field: "y" * limit}, headers=HTMX
    )
    said = "Kitchen Relay renamed to" if field == "name" else "Description of Kitchen Relay saved."
    assert response.status_code == 200 and said in response.content.decode()
    assert emulator.state.device_detail(TOKEN_A, uid)[field] == "y" * limit


def test_an_empty_name_is_refused_by_the_upstream_with_its_message(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.post(
        reverse("devices:rename", args=[uid]), {"name": ""}, headers=HTMX
    ).content.decode()
    assert "The name field is required." in body


def test_cancel_shows_the_value_again(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.get(
        reverse("devices:field", args=[uid, "name"]), headers=HTMX
    ).content.decode()
    assert body.lstrip().startswith('<div id="field-name"')
    assert "Kitchen Relay" in body and 'id="edit-name"' in body


def test_it_works_as_a_plain_form_without_javascript(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    page = as_operator.get(reverse("devices:edit", args=[uid, "name"]))
    assert page.status_code == 200 and "<html" in page.content.decode()
    response = as_operator.post(reverse("devices:rename", args=[uid]), {"name": "Pantry Relay"})
    assert response.status_code == 302
    assert response["Location"] == reverse("devices:detail", args=[uid])
    follow = as_operator.get(response["Location"]).content.decode()
    assert "Kitchen Relay renamed to Pantry Relay." in follow


def test_a_plain_form_with_an_error_shows_the_edit_page_again(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_operator.post(reverse("devices:rename", args=[uid]), {"name": ""})
    body = response.content.decode()
    assert "<html" in body and "The name field is required." in body


def test_it_refuses_a_viewer_and_records_the_refusal(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_viewer.post(reverse("devices:rename", args=[uid]), {"name": "Hacked"})
    assert response.status_code == 403
    assert "Renaming a device needs the operator role." in response.content.decode()
    assert upstream_calls(emulator, "PATCH") == []
    assert last_audit().outcome == AuditEvent.Outcome.REFUSED
    assert as_viewer.get(reverse("devices:edit", args=[uid, "name"])).status_code == 403


def test_it_404s_an_unknown_field(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    assert as_operator.get(reverse("devices:edit", args=[uid, "uid"])).status_code == 404


def test_an_upstream_failure_keeps_the_typed_value(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_fault("500", path="/devices/[^/]+$")
    body = as_operator.post(
        reverse("devices:rename", args=[uid]), {"name": "Pantry Relay"}, headers=HTMX
    ).content.decode()
    assert "The device service failed (HTTP 500)." in body
    assert 'value="Pantry Relay"' in body
    assert last_audit().outcome == AuditEvent.Outcome.FAILED
