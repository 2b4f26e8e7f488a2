"""Every URL of the portal against every role: allowed for the roles that hold its permission,
refused (403, a sentence naming the role, no upstream call) for the others.

ROUTES is the table of every URL. `test_every_url_of_the_portal_is_in_the_table` enumerates
the URL resolver and fails when a URL is missing, so a new URL cannot skip its role check:
add a row for each method it answers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from fleet.models import Build, JobItem, Rollout, Target
from portal import services
from portal.decorators import NO_ROLE
from portal.models import AuditEvent
from portal.roles import PERMISSIONS, ROLE_ORDER, Role, refusal
from tests import firmware_samples as samples
from tests.conftest import PASSWORD
from tests.fleet_helpers import make_job

ANYONE = None  # any signed-in user, whatever their role
PUBLIC = "public"  # no sign-in needed (the sign-in page)
NEW_PASSWORD = "a-fresh-long-password-42"


@dataclass(frozen=True)
class Route:
    """One row: a URL name, its kwargs, a method, the data posted, the permission it needs.

    Strings starting with "@" in kwargs or data are filled in by the test: "@uid" (a device of
    the team token), "@job" (a job of the team token), "@build" (a library build of the team
    token's fleet), "@rollout" (a draft rollout of that build), "@token" (the team token's
    id), "@spare" (a token nobody uses), "@viewer" and the other role names (that user's id).
    """

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    method: str = "GET"
    data: dict[str, Any] = field(default_factory=dict)
    permission: str | None = ANYONE

    def __str__(self) -> str:
        return f"{self.method} {self.name}"


ROUTES: list[Route] = [
    Route("home", permission=PUBLIC),  # a redirect to the device list
    Route("login", permission=PUBLIC),
    Route("healthz", permission=PUBLIC),  # probes for the load balancer and the image
    Route("readyz", permission=PUBLIC),
    Route("login", method="POST", data={"username": "x", "password": "y"}, permission=PUBLIC),
    Route("logout", method="POST"),
    Route("password_change"),  # everyone changes their own password
    Route(
        "password_change",
        method="POST",
        data={
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    ),
    Route("devices:list", permission="view_devices"),
    # Devices (devices/urls.py)
    Route("devices:detail", {"uid": "@uid"}, permission="view_devices"),
    Route("devices:field", {"uid": "@uid", "field": "name"}, permission="view_devices"),
    Route("devices:edit", {"uid": "@uid", "field": "name"}, permission="rename_device"),
    Route(
        "devices:rename", {"uid": "@uid"}, "POST", {"name": "Greenhouse Sensor"}, "rename_device"
    ),
    Route("devices:commands", {"uid": "@uid"}, permission="view_devices"),
    Route(
        "devices:send_command", {"uid": "@uid"}, "POST", {"payload": '{"led": 1}'}, "send_command"
    ),
    Route("devices:reboot", {"uid": "@uid"}, "POST", {"confirmed": "yes"}, "reboot_device"),
    Route("devices:wifi_reset", {"uid": "@uid"}, "POST", {"confirmed": "yes"}, "wifi_reset"),
    Route("devices:ota", {"uid": "@uid"}, "POST", {"confirmed": "yes"}, "trigger_ota"),
    Route("devices:buttons", {"uid": "@uid"}, permission="view_devices"),
    Route(
        "devices:create_button",
        {"uid": "@uid"},
        "POST",
        {"id": "matrix", "label": "Matrix", "payload": '{"led": 1}'},
        "manage_buttons",
    ),
    Route(
        "devices:send_button",
        {"uid": "@uid", "button_id": "matrix"},
        "POST",
        {"confirmed": "yes"},
        "send_button",
    ),
    Route(
        "devices:delete_button",
        {"uid": "@uid", "button_id": "matrix"},
        "POST",
        {"confirmed": "yes"},
        "manage_buttons",
    ),
    # The selection (devices/urls.py) and tags (fleet/urls.py)
    Route("devices:selection", method="POST", data={"op": "page"}, permission="view_devices"),
    Route("fleet:tags", permission="view_devices"),
    Route("fleet:device_tags", {"uid": "@uid"}, permission="view_devices"),
    Route("fleet:tag_add", {"uid": "@uid"}, "POST", {"tag": "Matrix"}, "manage_tags"),
    Route("fleet:tag_remove", {"uid": "@uid"}, "POST", {"tag": "Matrix"}, "manage_tags"),
    Route("fleet:selection_tag_add", method="POST", data={"tag": "M"}, permission="manage_tags"),
    Route("fleet:selection_tag_remove", method="POST", data={"tag": "M"}, permission="manage_tags"),
    # Firmware (firmware/urls.py)
    Route("firmware:panel", {"uid": "@uid"}, permission="view_devices"),
    Route("firmware:follow", {"uid": "@uid"}, permission="view_devices"),
    Route("firmware:card", {"uid": "@uid", "firmware_id": 1}, permission="view_devices"),
    Route("firmware:edit", {"uid": "@uid", "firmware_id": 1}, permission="manage_firmware"),
    Route(
        "firmware:check",
        {"uid": "@uid"},
        "POST",
        {"head": lambda: SimpleUploadedFile("h.bin", b"\xe9"), "size": "1000"},
        "manage_firmware",
    ),
    Route(
        "firmware:upload",
        {"uid": "@uid"},
        "POST",
        {"name": "x", "file": lambda: SimpleUploadedFile("a.bin", samples.esp8266_image(1000))},
        "manage_firmware",
    ),
    Route(
        "firmware:update",
        {"uid": "@uid", "firmware_id": 1},
        "POST",
        {"name": "x"},
        "manage_firmware",
    ),
    Route(
        "firmware:delete",
        {"uid": "@uid", "firmware_id": 1},
        "POST",
        {"confirmed": "yes"},
        "manage_firmware",
    ),
    Route(
        "firmware:set_target",
        {"uid": "@uid"},
        "POST",
        {"md5": "0123456789abcdef0123456789abcdef", "confirmed": "yes"},
        "set_target",
    ),
    Route("firmware:ota", {"uid": "@uid"}, "POST", {"confirmed": "yes"}, "trigger_ota"),
    # Bulk actions and jobs (fleet/urls.py): a bulk action needs what the same action on one
    # device needs; so do cancelling and retrying a job ("@job" is a reboot of the team's).
    Route("fleet:bulk", permission="view_devices"),  # no action yet: the choices
    Route("fleet:bulk", data={"action": "reboot"}, permission="reboot_device"),
    Route("fleet:bulk", data={"action": "button"}, permission="send_button"),
    Route("fleet:bulk", data={"action": "command"}, permission="send_command"),
    Route("fleet:bulk", data={"action": "wifi_reset"}, permission="wifi_reset"),
    Route("fleet:bulk", data={"action": "ota"}, permission="trigger_ota"),
    Route("fleet:bulk", data={"action": "tag_add"}, permission="manage_tags"),
    Route("fleet:bulk", data={"action": "tag_remove"}, permission="manage_tags"),
    Route("fleet:bulk", {}, "POST", {"action": "reboot", "offline": "skip"}, "reboot_device"),
    Route("fleet:bulk", {}, "POST", {"action": "ota", "offline": "skip"}, "trigger_ota"),
    Route("fleet:bulk", {}, "POST", {"action": "tag_add", "tag": "x"}, "manage_tags"),
    Route("fleet:jobs", permission="view_devices"),
    Route("fleet:job", {"pk": "@job"}, permission="view_devices"),
    Route("fleet:job_csv", {"pk": "@job"}, permission="view_devices"),
    Route("fleet:job_cancel", {"pk": "@job"}, "POST", {"confirmed": "yes"}, "reboot_device"),
    Route("fleet:job_retry", {"pk": "@job"}, "POST", {"confirmed": "yes"}, "reboot_device"),
    # The firmware library (fleet/urls.py)
    Route("fleet:library", permission="view_devices"),
    Route(
        "fleet:library_check",
        method="POST",
        data={"head": lambda: SimpleUploadedFile("h.bin", b"\xe9"), "size": "1000"},
        permission="manage_library",
    ),
    Route(
        "fleet:library_upload",
        method="POST",
        data={"name": "x", "file": lambda: SimpleUploadedFile("a.bin", samples.esp8266_image(900))},
        permission="manage_library",
    ),
    Route("fleet:library_build", {"pk": "@build"}, permission="view_devices"),
    Route("fleet:library_find", {"pk": "@build"}, "POST", permission="manage_library"),
    Route("fleet:library_delete", {"pk": "@build"}, "POST", {"confirmed": "yes"}, "manage_library"),
    # Rollouts (fleet/urls.py): everyone with a role reads them, maintainers steer them
    Route("fleet:rollouts", permission="view_devices"),
    Route("fleet:rollout_new", permission="manage_rollouts"),
    Route(
        "fleet:rollout_new",
        method="POST",
        data={"build": "@build", "source": "tag", "tag": "Nowhere", "percents": "100"},
        permission="manage_rollouts",
    ),
    Route("fleet:rollout", {"pk": "@rollout"}, permission="view_devices"),
    Route("fleet:rollout_csv", {"pk": "@rollout"}, permission="view_devices"),
    Route("fleet:rollout_visits", {"pk": "@rollout"}, permission="view_devices"),
    Route(
        "fleet:rollout_start", {"pk": "@rollout"}, "POST", {"confirmed": "yes"}, "manage_rollouts"
    ),
    Route(
        "fleet:rollout_approve", {"pk": "@rollout"}, "POST", {"confirmed": "yes"}, "manage_rollouts"
    ),
    Route("fleet:rollout_pause", {"pk": "@rollout"}, "POST", permission="manage_rollouts"),
    Route("fleet:rollout_resume", {"pk": "@rollout"}, "POST", permission="manage_rollouts"),
    Route(
        "fleet:rollout_promote", {"pk": "@rollout"}, "POST", {"confirmed": "yes"}, "manage_rollouts"
    ),
    Route(
        "fleet:rollout_rollback",
        {"pk": "@rollout"},
        "POST",
        {"confirmed": "yes"},
        "manage_rollouts",
    ),
    Route(
        "fleet:rollout_abort", {"pk": "@rollout"}, "POST", {"confirmed": "yes"}, "manage_rollouts"
    ),
    # The token vault
    Route("team:tokens", permission="manage_tokens"),
    Route("team:token_add", permission="manage_tokens"),
    Route(
        "team:token_add",
        method="POST",
        data={"label": "Matrix", "value": TOKEN_B},
        permission="manage_tokens",
    ),
    Route("team:token_detail", {"pk": "@token"}, permission="manage_tokens"),
    Route(
        "team:token_relabel",
        {"pk": "@token"},
        "POST",
        {"label": "Team A, renamed"},
        permission="manage_tokens",
    ),
    Route("team:token_replace", {"pk": "@token"}, "POST", {"value": TOKEN_A}, "manage_tokens"),
    Route("team:token_verify", {"pk": "@token"}, "POST", permission="manage_tokens"),
    Route("team:token_delete", {"pk": "@spare"}, "POST", {"confirmed": "yes"}, "manage_tokens"),
    Route("team:my_token"),
    Route("team:my_token", method="POST", data={"value": TOKEN_A}),
    # Users
    Route("team:users", permission="manage_users"),
    Route("team:user_add", permission="manage_users"),
    Route(
        "team:user_add",
        method="POST",
        data={
            "username": "matrix",
            "role": "viewer",
            "token": "@token",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        permission="manage_users",
    ),
    Route("team:user_detail", {"pk": "@viewer"}, permission="manage_users"),
    Route(
        "team:user_access",
        {"pk": "@viewer"},
        "POST",
        {"role": "operator", "token": "@token"},
        "manage_users",
    ),
    Route(
        "team:user_active",
        {"pk": "@viewer"},
        "POST",
        {"active": "no", "confirmed": "yes"},
        "manage_users",
    ),
    Route(
        "team:user_password",
        {"pk": "@viewer"},
        "POST",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        "manage_users",
    ),
    Route(
        "team:user_require_password",
        {"pk": "@viewer"},
        "POST",
        {"required": "yes"},
        "manage_users",
    ),
    Route(
        "team:lockout_lift",
        method="POST",
        data={"username": "viewer", "ip": "127.0.0.1", "confirmed": "yes"},
        permission="manage_users",
    ),
    # The audit log
    Route("team:audit", permission="view_audit"),
    Route("team:audit_export", permission="view_audit"),
    Route("team:my_activity"),
]

# URL namespaces the table does not cover, and why.
EXCLUDED_NAMESPACES = {
    "admin": "Django's own admin: staff only, checked by Django; no portal role is staff",
}

ROLES = [*(r.value for r in ROLE_ORDER), "nobody"]
POSTS = [route for route in ROUTES if route.method == "POST"]


def may(role: str, permission: str | None) -> bool:
    """The oracle, from the roles table itself rather than from Django's permission check."""
    if permission in (ANYONE, PUBLIC):
        return True
    if role == "nobody":
        return False
    least = PERMISSIONS[permission][1]
    return ROLE_ORDER.index(Role(role)) >= ROLE_ORDER.index(least)


@pytest.fixture(name="fill")
def fill_fixture(users, token_a, emulator, settings):
    """Fills the "@" placeholders of a row; lets users enter their own token."""
    settings.PORTAL_ALLOW_SELF_TOKEN = True
    spare = services.save_token("Spare", TOKEN_B)
    job = make_job(token_a, None, [JobItem.State.WAITING, JobItem.State.FAILED])
    build = Build.objects.create(token=token_a, name="Matrix", md5="9" * 32, size=1)
    rollout = Rollout.objects.create(token=token_a, build=build, percents=[100])
    Target.objects.create(rollout=rollout, device_uid="dev-0", target_md5=build.md5)
    values = {
        "@build": build.pk,
        "@rollout": rollout.pk,
        "@uid": emulator.device_uid(TOKEN_A, "Greenhouse Sensor"),
        "@job": job.pk,
        "@token": token_a.pk,
        "@spare": spare.pk,
        **{f"@{name}": user.pk for name, user in users.items()},
    }

    def filled(mapping: dict[str, Any]) -> dict[str, Any]:
        # A callable makes a fresh value for each request (an upload is read only once).
        return {
            k: values.get(v, v) if isinstance(v, str) else v() if callable(v) else v
            for k, v in mapping.items()
        }

    return filled


def call(client, route: Route, fill):
    url = reverse(route.name, kwargs=fill(route.kwargs))
    if route.method == "POST":
        return client.post(url, fill(route.data))
    return client.get(url, fill(route.data))


def body_of(response) -> str:
    """The body as text, HTML entities decoded (a sentence's apostrophe is escaped)."""
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return html.unescape(response.content.decode())


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_each_url_allows_the_roles_that_have_its_permission_and_refuses_the_others(
    client, users, emulator, fill, route, subtests
):
    # Admin last: the writes only an admin may make (deactivating the viewer, say) then
    # cannot change what the other roles see.
    for role in ["nobody", *(r.value for r in ROLE_ORDER)]:
        with subtests.test(role=role):
            client.force_login(users[role])
            check(client, route, role, emulator, fill)


def check(client, route: Route, role: str, emulator, fill) -> None:
    emulator.clear_log()
    before = AuditEvent.objects.count()
    response = call(client, route, fill)
    body = body_of(response)
    if may(role, route.permission):
        assert response.status_code != 403, body[:500]
        if route.permission not in (ANYONE, PUBLIC):
            assert refusal(route.permission) not in body
        return
    sentence = refusal(route.permission)
    assert response.status_code == 403
    assert sentence in body
    if role == "nobody":  # one page saying there is no role yet, not a refusal loop
        assert NO_ROLE in body and reverse("devices:list") not in body
    assert PERMISSIONS[route.permission][1].value in sentence  # it names the role needed
    assert emulator.request_log == [], "a refused action made no upstream call"
    if route.method == "POST":
        refused = AuditEvent.objects.filter(outcome="refused", message=sentence)
        assert AuditEvent.objects.count() == before + 1 and refused.exists()


@pytest.mark.parametrize("route", [r for r in ROUTES if r.permission != PUBLIC], ids=str)
def test_each_url_sends_an_anonymous_visitor_to_sign_in(client, db, emulator, fill, route):
    emulator.clear_log()
    response = call(client, route, fill)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert emulator.request_log == []


def _named_patterns(patterns, prefix: str = "", route: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = pattern.namespace
            if namespace in EXCLUDED_NAMESPACES:
                continue
            inner = f"{prefix}{namespace}:" if namespace else prefix
            yield from _named_patterns(pattern.url_patterns, inner, route + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield (
                (f"{prefix}{pattern.name}" if pattern.name else None),
                route + str(pattern.pattern),
            )


def test_every_url_of_the_portal_is_in_the_table():
    in_table = {route.name for route in ROUTES}
    missing = [
        f"{name or '(unnamed)'} at /{path}"
        for name, path in _named_patterns(get_resolver().url_patterns)
        if name not in in_table
    ]
    assert missing == [], f"add these URLs to ROUTES in {__name__}: {missing}"


def test_the_table_names_only_urls_that_exist():
    known = {name for name, _ in _named_patterns(get_resolver().url_patterns)}
    assert {route.name for route in ROUTES} <= known


@pytest.mark.parametrize("role", ROLES)
def test_no_portal_role_opens_django_admin(client, users, role):
    client.force_login(users[role])
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_roles_sign_in_with_the_shared_password(client, users):
    """The matrix signs users in with force_login; a real sign-in works for them too."""
    response = client.post(reverse("login"), {"username": "viewer", "password": PASSWORD})
    assert response.status_code == 302
