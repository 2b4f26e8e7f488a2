"""The main menu: the links a role may follow, the current page marked, none when signed out."""

from __future__ import annotations

import re

from django.test import override_settings
from django.urls import reverse, set_script_prefix

from portal.context_processors import menu

MENU = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>')


def _menu(client, url: str) -> list[tuple[str, bool, str]]:
    page = client.get(url).content.decode()
    found = MENU.search(page)
    return [(href, bool(cur), label) for href, cur, label in LINK.findall(found.group(1))]


def test_a_viewer_sees_only_the_links_a_viewer_may_follow(as_viewer):
    links = _menu(as_viewer, reverse("devices:list"))
    assert [label for _, _, label in links] == [
        "Devices",
        "Jobs",
        "Firmware library",
        "Rollouts",
        "My activity",
    ]


def test_an_admin_sees_every_link_with_its_address(as_admin):
    links = _menu(as_admin, reverse("team:my_activity"))
    assert [(href, label) for href, _, label in links] == [
        (reverse("devices:list"), "Devices"),
        (reverse("fleet:jobs"), "Jobs"),
        (reverse("fleet:library"), "Firmware library"),
        (reverse("fleet:rollouts"), "Rollouts"),
        (reverse("team:tokens"), "Tokens"),
        (reverse("team:users"), "Users"),
        (reverse("team:audit"), "Audit log"),
        (reverse("team:my_activity"), "My activity"),
    ]


def test_the_current_page_and_only_it_is_marked(as_admin):
    for url, label in (
        (reverse("devices:list"), "Devices"),
        (reverse("fleet:jobs"), "Jobs"),
        (reverse("fleet:bulk"), "Jobs"),
        (reverse("fleet:library"), "Firmware library"),
        (reverse("fleet:rollouts"), "Rollouts"),
        (reverse("fleet:rollout_new"), "Rollouts"),
        (reverse("team:tokens"), "Tokens"),
        (reverse("team:users"), "Users"),
        (reverse("team:audit"), "Audit log"),
        (reverse("team:my_activity"), "My activity"),
    ):
        marked = [name for _, current, name in _menu(as_admin, url) if current]
        assert marked == [label], url


@override_settings(PORTAL_ALLOW_SELF_TOKEN=True)
def test_my_api_token_is_offered_only_where_the_site_allows_it(as_viewer):
    links = _menu(as_viewer, reverse("team:my_token"))
    assert links[-1] == (reverse("team:my_token"), True, "My API token")


def test_a_signed_out_visitor_gets_no_menu(client, db):
    page = client.get(reverse("login")).content.decode()
    assert "<nav" not in page and reverse("team:my_activity") not in page


def test_links_follow_the_sites_path_prefix(rf, viewer):
    request = rf.get("/portal/devices/")
    request.user, request.resolver_match = viewer, None
    set_script_prefix("/portal/")
    try:
        portal_links = [link.href for link in menu(request)]
    finally:
        set_script_prefix("/")
    assert portal_links == [
        "/portal/devices/",
        "/portal/fleet/jobs/",
        "/portal/fleet/library/",
        "/portal/fleet/rollouts/",
        "/portal/account/activity/",
    ]
    assert [link.href for link in menu(request)] == [
        "/devices/",
        "/fleet/jobs/",
        "/fleet/library/",
        "/fleet/rollouts/",
        "/account/activity/",
    ]


def _counting_checks(monkeypatch, user) -> list[str]:
    asked: list[str] = []
    has_perm = type(user).has_perm

    def counted(self, perm, obj=None):
        asked.append(perm)
        return has_perm(self, perm, obj)

    monkeypatch.setattr(type(user), "has_perm", counted)
    return asked


def test_the_menu_is_worked_out_once_for_all_the_templates_of_a_request(rf, viewer, monkeypatch):
    # A device's page draws its panels in it: five templates, one menu.
    from portal.context_processors import portal

    request = rf.get("/devices/")
    request.user, request.resolver_match = viewer, None
    asked = _counting_checks(monkeypatch, viewer)
    first = portal(request)
    checks = len(asked)
    assert checks >= 3  # the links that need a permission
    for _ in range(4):
        assert portal(request)["menu"] == first["menu"]
    assert len(asked) == checks


def test_the_menu_follows_a_role_change_made_earlier_in_the_same_request(rf, viewer):
    from portal.context_processors import portal
    from portal.roles import Role
    from portal.services import set_role

    request = rf.get("/devices/")
    request.user, request.resolver_match = viewer, None
    assert "Users" not in [link.label for link in portal(request)["menu"]]
    set_role(viewer, Role.ADMIN)
    assert "Users" in [link.label for link in portal(request)["menu"]]
    assert portal(request)["portal_role"] == Role.ADMIN


def test_the_menu_follows_a_sign_out_earlier_in_the_same_request(rf, viewer):
    from django.contrib.auth.models import AnonymousUser

    from portal.context_processors import portal

    request = rf.get("/devices/")
    request.user, request.resolver_match = viewer, None
    assert portal(request)["menu"]
    request.user = AnonymousUser()
    assert portal(request)["menu"] == [] and portal(request)["portal_role"] is None


def test_a_permission_asked_again_in_templates_is_checked_once(viewer, monkeypatch):
    from portal.templatetags.portal_tags import can

    asked = _counting_checks(monkeypatch, viewer)
    assert [can(viewer, "view_devices") for _ in range(5)] == [True] * 5
    assert [can(viewer, "reboot_device") for _ in range(5)] == [False] * 5
    assert asked == ["portal.view_devices", "portal.reboot_device"]


def test_a_permission_check_follows_a_role_change_in_the_same_request(viewer):
    from portal.roles import Role
    from portal.services import set_role
    from portal.templatetags.portal_tags import can

    assert not can(viewer, "manage_users")
    set_role(viewer, Role.ADMIN)
    assert can(viewer, "manage_users")
