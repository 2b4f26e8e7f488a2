"""The selection: boxes in the table, "select this page", "select all N matching", kept on the
server across pages and sorts; the bar's count and actions per role; tagging the selection."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from fleet import selection, tags
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, uid_of

LIST = reverse("devices:list")
SELECT = reverse("devices:selection")


@pytest.fixture
def big_fleet(emulator, settings):
    """60 devices, 5 a page: several pages to select across."""
    settings.PORTAL_PAGE_SIZE = 5
    was = emulator.state.fleet_size
    emulator.state.fleet_size = 60
    emulator.reset()
    yield emulator
    emulator.state.fleet_size = was  # the emulator is the session's: the next test's fleet
    emulator.reset()


def selected_of(client, token) -> list[str]:
    session = client.session
    return [u for u in session.get(f"{selection.KEY}:{token.pk}", [])]


def page_uids(body: str) -> list[str]:
    return re.findall(r'name="uid" value="([^"]+)"', body)


def test_select_all_matching_stores_every_match_and_survives_paging_and_sorting(
    as_operator, big_fleet, token_a
):
    response = as_operator.post(f"{SELECT}?q=espressif32", {"op": "all"})
    assert response.status_code == 302 and response["Location"] == f"{LIST}?q=espressif32"
    matched = [d["uid"] for d in big_fleet.state.list_devices(TOKEN_A) if "espressif32" in d["uid"]]
    assert sorted(selected_of(as_operator, token_a)) == sorted(matched)
    for params in ({"q": "espressif32", "page": "2"}, {"q": "espressif32", "sort": "-uid"}):
        body = as_operator.get(LIST, params).content.decode()
        assert f"<strong>{len(matched)}</strong> devices selected" in body
        boxes = re.findall(r'value="([^"]+)" id="pick-[^"]+"( checked)?', body)
        assert boxes and all(checked for _, checked in boxes)


def test_select_this_page_takes_the_pages_devices_from_the_server(as_operator, big_fleet, token_a):
    first = page_uids(as_operator.get(LIST, {"sort": "uid", "page": "2"}).content.decode())
    as_operator.post(f"{SELECT}?sort=uid&page=2", {"op": "page", "uid": ["forged_uid"]})
    assert sorted(selected_of(as_operator, token_a)) == sorted(first)


def test_the_boxes_set_the_pages_part_of_the_selection_only(as_operator, big_fleet, token_a):
    one = page_uids(as_operator.get(LIST, {"sort": "uid"}).content.decode())
    two = page_uids(as_operator.get(LIST, {"sort": "uid", "page": "2"}).content.decode())
    as_operator.post(f"{SELECT}?sort=uid", {"op": "page"})
    as_operator.post(f"{SELECT}?sort=uid&page=2", {"uid": [two[0], "not_in_the_fleet"]})
    assert sorted(selected_of(as_operator, token_a)) == sorted([*one, two[0]])
    as_operator.post(f"{SELECT}?sort=uid", {"uid": one[1:]})  # one box unticked on page 1
    assert sorted(selected_of(as_operator, token_a)) == sorted([*one[1:], two[0]])


def test_clear_and_unselect_this_page(as_operator, big_fleet, token_a):
    as_operator.post(SELECT, {"op": "all"})
    as_operator.post(f"{SELECT}?sort=uid", {"op": "page_none"})
    assert len(selected_of(as_operator, token_a)) == 55
    as_operator.post(SELECT, {"op": "clear"})
    assert selected_of(as_operator, token_a) == []


def test_with_htmx_the_table_comes_back_with_the_boxes_ticked(as_operator, big_fleet, token_a):
    response = as_operator.post(f"{SELECT}?sort=uid", {"op": "page"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="device-table"')
    assert body.count(" checked>") == 5
    assert "<strong>5</strong> devices selected (5 on this page)" in body
    assert 'id="select-clear"' in body
    # The rows' own refresh goes to the list, not to the selection's address.
    assert f'hx-get="{SELECT}' not in body.split('id="device-rows"')[1][:200]


def test_the_bar_offers_the_bulk_actions_of_the_users_role(client, users, big_fleet):
    expected = {
        "operator": {"reboot", "button", "command"},
        "maintainer": {"reboot", "button", "command", "ota", "wifi_reset"},
        "admin": {"reboot", "button", "command", "ota", "wifi_reset"},
    }
    for role, actions in expected.items():
        client.force_login(users[role])
        client.post(SELECT, {"op": "all"})
        body = client.get(LIST).content.decode()
        assert set(re.findall(r"/fleet/bulk/\?action=(\w+)", body)) == actions, role
        assert 'id="bulk-tag-add"' in body and 'id="bulk-tag-remove"' in body


def test_a_viewer_gets_no_boxes_and_no_bar(as_viewer, emulator):
    body = as_viewer.get(LIST).content.decode()
    assert 'class="pick-box"' not in body and "selection-bar" not in body
    assert 'data-label="Tags"' in body  # the tags are still shown


def test_each_box_has_a_label_naming_its_device(as_operator, emulator):
    body = as_operator.get(LIST).content.decode()
    assert re.search(
        r'<label class="pick"><input type="checkbox" class="pick-box" name="uid" value="[^"]+" '
        r'id="pick-[^"]+"><span class="visually-hidden">Select Kitchen Relay</span></label>',
        body,
    )


def test_selections_are_per_user_and_per_fleet(client, users, big_fleet, token_a):
    client.force_login(users["operator"])
    client.post(SELECT, {"op": "all"})
    from tests.conftest import KeyedClient

    other = KeyedClient()
    other.force_login(users["maintainer"])
    assert "<strong>0</strong> devices selected" in other.get(LIST).content.decode()


# --- tagging the selection ---------------------------------------------------------------------


def test_tagging_the_selection_writes_one_row_per_device(as_operator, big_fleet, token_a):
    as_operator.post(f"{SELECT}?q=espressif32", {"op": "all"})
    chosen = selected_of(as_operator, token_a)
    response = as_operator.post(
        reverse("fleet:selection_tag_add"), {"tag": "Batch", "next": "?q=espressif32"}
    )
    assert response.status_code == 302 and response["Location"] == f"{LIST}?q=espressif32"
    assert tags.uids_with(token_a, "batch") == set(chosen)
    added = AuditEvent.objects.filter(action="tag.add")
    assert added.count() == len(chosen)
    assert set(added.values_list("device_uid", flat=True)) == set(chosen)
    assert all(name for name in added.values_list("device_name", flat=True))
    body = as_operator.get(LIST, {"q": "espressif32"}).content.decode()
    assert f"Tag “Batch” added to {len(chosen)} devices." in body
    removed = as_operator.post(reverse("fleet:selection_tag_remove"), {"tag": "batch"})
    assert removed.status_code == 302
    assert tags.uids_with(token_a, "batch") == set()
    assert AuditEvent.objects.filter(action="tag.remove", outcome="ok").count() == len(chosen)


def test_a_selected_device_gone_from_the_fleet_is_refused_on_its_own_row(
    as_operator, emulator, token_a
):
    relay = uid_of(emulator, "Kitchen Relay")
    session = as_operator.session
    session[f"{selection.KEY}:{token_a.pk}"] = [relay, "espressif32_gone"]
    session.save()
    as_operator.post(reverse("fleet:selection_tag_add"), {"tag": "T"})
    outcomes = dict(
        AuditEvent.objects.filter(action="tag.add").values_list("device_uid", "outcome")
    )
    assert outcomes == {relay: "ok", "espressif32_gone": "refused"}
    assert tags.uids_with(token_a, "T") == {relay}


def test_tagging_an_empty_selection_or_a_bad_name_is_one_refused_row(as_operator, emulator):
    as_operator.post(reverse("fleet:selection_tag_add"), {"tag": "T"})
    as_operator.post(SELECT, {"op": "all"})
    as_operator.post(reverse("fleet:selection_tag_add"), {"tag": "x" * 100})
    rows = list(AuditEvent.objects.filter(action="tag.add").values_list("outcome", flat=True))
    assert rows == ["refused", "refused"]


def test_a_tagging_form_sent_twice_tags_once(as_operator, emulator, token_a):
    from portal import form_keys

    as_operator.post(SELECT, {"op": "all"})
    count = len(selected_of(as_operator, token_a))
    key = form_keys.new()
    as_operator.post(reverse("fleet:selection_tag_add"), {"tag": "T", "form_key": key})
    as_operator.post(reverse("fleet:selection_tag_add"), {"tag": "T", "form_key": key})
    rows = AuditEvent.objects.filter(action="tag.add")
    assert rows.filter(outcome="ok").count() == count
    assert rows.filter(outcome="refused").count() == 1


def test_next_cannot_send_the_user_elsewhere(as_operator, emulator):
    as_operator.post(SELECT, {"op": "all"})
    response = as_operator.post(
        reverse("fleet:selection_tag_add"), {"tag": "T", "next": "//evil.example/"}
    )
    assert response["Location"] == LIST
