"""Tags: the rules for a name, a device's tags panel, the fleet's tags page, the table's tag
column and filter. Each write is one audit row through the one write path."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from fleet import tags
from fleet.models import DeviceTag, Tag
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, uid_of

LIST = reverse("devices:list")


def add_url(uid: str) -> str:
    return reverse("fleet:tag_add", args=[uid])


def remove_url(uid: str) -> str:
    return reverse("fleet:tag_remove", args=[uid])


def rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- the name ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [("  Greenhouse  ", "Greenhouse"), ("west   wing", "west wing"), ("Ünïcode ✓", "Ünïcode ✓")],
)
def test_a_name_is_stripped_and_its_inner_spaces_collapsed(typed, normalised):
    assert tags.normalise(typed) == normalised
    assert tags.problem(normalised) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "needs a name"),
        ("x" * 41, "at most 40 characters"),
        ("line\nbreak", "control characters"),  # normalise() would fold a newline; problem won't
        ("tab\there", "control characters"),
        ("bidi\u202eevil", "control characters"),
        ("nul\x00", "NUL"),
        ("lone \ud800", "surrogate"),
    ],
)
def test_a_name_that_cannot_be_a_tag_says_why(name, words):
    assert words in (tags.problem(name) or "")


def test_forty_characters_is_allowed():
    assert tags.problem("x" * 40) is None


# --- adding and removing on one device -------------------------------------------------------


def test_an_operator_adds_a_tag_with_one_audit_row(as_operator, emulator, token_a):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_operator.post(add_url(uid), {"tag": " Kitchen ", "device_name": "Kitchen Relay"})
    assert response.status_code == 302 and response["Location"] == f"/devices/{uid}/"
    assert tags.of_device(token_a, uid) == ["Kitchen"]
    (row,) = rows("tag.add")
    assert row.outcome == "ok" and row.device_uid == uid and row.device_name == "Kitchen Relay"
    assert row.sent["tag"] == "Kitchen"
    page = as_operator.get(f"/devices/{uid}/").content.decode()
    assert "Tag “Kitchen” added to Kitchen Relay." in page
    assert 'class="tag"' in page and "Remove the tag Kitchen" in page


def test_the_same_tag_in_another_case_is_the_same_tag(as_operator, emulator, token_a):
    relay, door = uid_of(emulator, "Kitchen Relay"), uid_of(emulator, "Garage Door")
    as_operator.post(add_url(relay), {"tag": "Kitchen"})
    as_operator.post(add_url(door), {"tag": "KITCHEN"})
    assert Tag.objects.count() == 1
    assert tags.of_device(token_a, door) == ["Kitchen"]  # the first spelling is kept
    assert tags.uids_with(token_a, "kitchen") == {relay, door}
    assert tags.of_fleet(token_a) == [("Kitchen", 2)]


def test_adding_a_tag_twice_changes_nothing_and_says_so(as_operator, emulator, token_a):
    uid = uid_of(emulator, "Kitchen Relay")
    as_operator.post(add_url(uid), {"tag": "Kitchen"})
    response = as_operator.post(add_url(uid), {"tag": "kitchen"}, headers=HTMX)
    assert "It already has this tag; nothing changed." in response.content.decode()
    assert DeviceTag.objects.count() == 1 and len(rows("tag.add")) == 2


def test_the_panel_comes_back_with_htmx_and_a_fresh_form(as_operator, emulator, token_a):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_operator.post(add_url(uid), {"tag": "Kitchen"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="tags-panel"')
    assert 'name="form_key"' in body and '<datalist id="fleet-tags">' in body
    assert '<option value="Kitchen">' in body


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("x" * 5000, "at most 40 characters"),
        ("a\u0007bell", "control characters"),
        ("   ", "needs a name"),
        ("nul\x00", "NUL"),
    ],
)
def test_a_bad_name_is_refused_with_one_row_and_shown_beside_the_field(
    as_operator, emulator, token_a, typed, words
):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_operator.post(add_url(uid), {"tag": typed}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert words in body and 'aria-invalid="true"' in body
    assert Tag.objects.count() == 0
    (row,) = rows("tag.add")
    assert row.outcome == "refused"


def test_a_device_the_fleet_does_not_have_is_not_tagged(as_operator, emulator, token_a):
    response = as_operator.post(add_url("espressif32_nosuchdevice"), {"tag": "x"}, headers=HTMX)
    assert response.status_code == 200
    assert "not added" in response.content.decode()
    assert Tag.objects.count() == 0
    (row,) = rows("tag.add")
    assert row.outcome != "ok"


def test_a_form_sent_twice_tags_once(as_operator, emulator, token_a):
    from portal import form_keys

    uid = uid_of(emulator, "Kitchen Relay")
    key = form_keys.new()
    as_operator.post(add_url(uid), {"tag": "Kitchen", "form_key": key})
    as_operator.post(add_url(uid), {"tag": "Other", "form_key": key})
    assert tags.of_device(token_a, uid) == ["Kitchen"]
    assert [r.outcome for r in rows("tag.add")] == ["ok", "refused"]


def test_removing_the_last_device_of_a_tag_removes_the_tag(as_operator, emulator, token_a):
    uid = uid_of(emulator, "Kitchen Relay")
    as_operator.post(add_url(uid), {"tag": "Kitchen"})
    response = as_operator.post(remove_url(uid), {"tag": "kitchen"}, headers=HTMX)
    assert "Tag “kitchen” removed from" in response.content.decode()
    assert Tag.objects.count() == 0
    (row,) = rows("tag.remove")
    assert row.outcome == "ok"
    again = as_operator.post(remove_url(uid), {"tag": "kitchen"}, headers=HTMX)
    assert "It does not have this tag; nothing changed." in again.content.decode()


def test_a_viewer_sees_tags_but_no_form(as_operator, client, viewer, emulator, token_a):
    uid = uid_of(emulator, "Kitchen Relay")
    as_operator.post(add_url(uid), {"tag": "Kitchen"})
    client.force_login(viewer)
    page = client.get(f"/devices/{uid}/").content.decode()
    assert ">Kitchen</a>" in page
    assert "tag-add-form" not in page and "Remove the tag" not in page
    refused = client.post(add_url(uid), {"tag": "Other"})
    assert refused.status_code == 403
    assert "Adding and removing device tags needs the operator role." in refused.content.decode()


def test_tags_belong_to_the_tokens_fleet(client, operator, token_a, token_b, emulator):
    from portal import services
    from portal.roles import Role
    from tests.conftest import make_user

    uid = uid_of(emulator, "Kitchen Relay")
    client.force_login(operator)
    client.post(add_url(uid), {"tag": "Team A only"})
    other = make_user("other-team", Role.OPERATOR, token_b)
    services.assign_token(other, token_b)
    from tests.conftest import KeyedClient

    fresh = KeyedClient()  # not the operator's session (its flash message names the tag)
    fresh.force_login(other)
    page = fresh.get(reverse("fleet:tags")).content.decode()
    assert "Team A only" not in page
    assert tags.of_fleet(token_b) == []


# --- the fleet's tags page and the table ---------------------------------------------------------


def test_the_tags_page_lists_each_tag_with_its_count_and_links_to_the_table(
    as_operator, emulator, token_a
):
    for name in ("Kitchen Relay", "Garage Door"):
        as_operator.post(add_url(uid_of(emulator, name)), {"tag": "Ground floor"})
    as_operator.post(add_url(uid_of(emulator, "Garage Door")), {"tag": "Doors & gates"})
    body = as_operator.get(reverse("fleet:tags")).content.decode()
    assert "Ground floor" in body and "Doors &amp; gates" in body
    assert 'href="/devices/?tag=Ground+floor"' in body and "<td>2</td>" in body
    assert 'href="/devices/?tag=Doors+%26+gates"' in body


def test_the_table_shows_each_rows_tags_and_filters_by_tag(as_operator, emulator, token_a):
    relay = uid_of(emulator, "Kitchen Relay")
    as_operator.post(add_url(relay), {"tag": "Kitchen"})
    body = as_operator.get(LIST).content.decode()
    assert (
        '<td data-label="Tags" title="Kitchen"><a class="tag" href="?tag=Kitchen">Kitchen</a></td>'
    ) in body
    assert '<option value="Kitchen">Kitchen</option>' in body  # the filter offers it
    filtered = as_operator.get(LIST, {"tag": "kitchen"}).content.decode()
    assert "1 of " in filtered and relay in filtered
    assert uid_of(emulator, "Garage Door") not in filtered
    assert '<option value="Kitchen" selected>' in filtered


def test_a_tag_no_device_has_filters_to_nothing_and_still_shows_as_chosen(as_viewer, emulator):
    body = as_viewer.get(LIST, {"tag": "gone"}).content.decode()
    assert "No device matches this search." in body
    assert '<option value="gone" selected>gone</option>' in body


def test_the_table_reads_all_the_pages_tags_in_one_query(as_operator, emulator, token_a):
    for name in ("Kitchen Relay", "Garage Door", "Front Porch Light"):
        as_operator.post(add_url(uid_of(emulator, name)), {"tag": "a"})
        as_operator.post(add_url(uid_of(emulator, name)), {"tag": "b"})
    as_operator.get(LIST)  # warm: the session, the user
    with CaptureQueriesContext(connection) as queries:
        as_operator.get(LIST, headers={**HTMX, "HX-Target": "device-rows"})
    tag_queries = [q["sql"] for q in queries.captured_queries if "fleet_devicetag" in q["sql"]]
    assert len(tag_queries) == 1


def test_a_tag_with_markup_is_shown_as_text(as_operator, emulator, token_a):
    uid = uid_of(emulator, "Kitchen Relay")
    as_operator.post(add_url(uid), {"tag": '<b>"x"</b>'})
    body = as_operator.get(LIST).content.decode()
    assert "<b>" not in body and "&lt;b&gt;&quot;x&quot;&lt;/b&gt;" in body


def test_the_tags_page_without_a_token_says_so(client, db):
    from portal.roles import Role
    from tests.conftest import make_user

    client.force_login(make_user("newcomer", Role.VIEWER))
    body = client.get(reverse("fleet:tags")).content.decode()
    assert "No API token is mapped to your account yet" in body


def test_the_device_tags_panel_opens_alone_without_javascript(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_viewer.get(reverse("fleet:device_tags", args=[uid]), {"device_name": "K"})
    assert response.status_code == 200 and "<h1>Tags of" in response.content.decode()


def test_a_team_token_tag_reads_the_same_for_another_user_of_it(client, users, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    client.force_login(users["maintainer"])
    client.post(add_url(uid), {"tag": "Shared"})
    client.force_login(users["viewer"])
    assert ">Shared</a>" in client.get(f"/devices/{uid}/").content.decode()
    assert TOKEN_A  # the team token is the one both use


@pytest.mark.parametrize("name", ["nul\x00", "x" * 5000])
def test_a_tag_filter_no_tag_can_hold_finds_nothing_and_never_fails(as_viewer, name):
    response = as_viewer.get(LIST, {"tag": name})
    assert response.status_code == 200
    assert "No device matches this search." in response.content.decode()
