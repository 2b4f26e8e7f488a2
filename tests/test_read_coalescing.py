"""Shared tokens must not multiply upstream reads: per-token cache with single flight.

Several users on one team token, each loading the device list at the same moment, reach
the emulator once per cache window; a write makes the next read fresh.
"""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.iot import IoTClient, UpstreamUnavailable
from portal.roles import Role
from tests.conftest import KeyedClient as Client
from tests.conftest import make_user
from tests.devices_helpers import HTMX, uid_of, upstream_calls

pytestmark = pytest.mark.django_db(transaction=True)

LIST_PATH = "/v1/user/devices"


def list_reads(emulator) -> int:
    return len([e for e in emulator.request_log if e["path"] == LIST_PATH])


def load_together(clients: list[Client], url: str, **kwargs) -> list[int]:
    """Every client loads `url` at the same moment; returns the status codes."""
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def load(client: Client) -> None:
        start.wait()
        statuses.append(client.get(url, **kwargs).status_code)

    threads = [threading.Thread(target=load, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


@pytest.fixture
def team(token_a):
    """Six people of different roles, all on the one team token, each signed in."""
    clients = []
    for n, role in enumerate([Role.VIEWER, Role.VIEWER, Role.OPERATOR, Role.OPERATOR,
                              Role.MAINTAINER, Role.ADMIN]):  # fmt: skip
        client = Client()
        client.force_login(make_user(f"staff{n}", role, token_a))
        clients.append(client)
    return clients


def test_concurrent_list_loads_on_one_token_reach_the_upstream_once(team, emulator, settings):
    settings.PORTAL_READ_CACHE_SECONDS = 30
    emulator.set_latency(300)  # the first read is still in flight when the others arrive
    statuses = load_together(team, reverse("devices:list"))
    assert statuses == [200] * len(team)
    assert list_reads(emulator) == 1
    # The auto-refresh of the rows, for everyone, is served from the same window.
    load_together(team, reverse("devices:list"), headers={**HTMX, "HX-Target": "device-rows"})
    assert list_reads(emulator) == 1


def test_a_rename_is_visible_on_the_next_read(team, emulator, settings):
    settings.PORTAL_READ_CACHE_SECONDS = 30
    uid = uid_of(emulator, "Kitchen Relay")
    viewer, operator = team[0], team[2]
    assert "Kitchen Relay" in viewer.get(reverse("devices:list")).content.decode()
    assert "Kitchen Relay" in viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    operator.post(reverse("devices:rename", args=[uid]), {"name": "Pantry Relay"})
    listing = viewer.get(reverse("devices:list")).content.decode()
    detail = viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    assert "Pantry Relay" in listing and "Kitchen Relay" not in listing
    assert "Pantry Relay" in detail
    assert list_reads(emulator) == 2


def test_another_token_has_its_own_cache(team, token_b, emulator, settings):
    settings.PORTAL_READ_CACHE_SECONDS = 30
    team[0].get(reverse("devices:list"))
    other = Client()
    other.force_login(make_user("elsewhere", Role.VIEWER, token_b))
    other.get(reverse("devices:list"))
    assert list_reads(emulator) == 2


def test_the_window_ends(team, emulator, settings):
    # Long enough that two page loads fit in it on a loaded machine.
    settings.PORTAL_READ_CACHE_SECONDS = 1.5
    team[0].get(reverse("devices:list"))
    team[1].get(reverse("devices:list"))
    assert list_reads(emulator) == 1
    threading.Event().wait(1.6)
    team[1].get(reverse("devices:list"))
    assert list_reads(emulator) == 2


def test_a_failing_upstream_is_not_hammered_by_everyone_at_once(team, emulator, settings):
    settings.PORTAL_READ_CACHE_SECONDS = 5
    settings.IOT_API_READ_RETRIES = 0
    emulator.set_latency(200)
    emulator.set_fault("500")
    statuses = load_together(team, reverse("devices:list"))
    assert statuses == [200] * len(team)  # each shows the failure in its frame
    assert list_reads(emulator) == 1


def test_a_lost_generation_key_never_brings_back_a_read_from_before_a_write(
    token_a, emulator, settings
):
    settings.PORTAL_READ_CACHE_SECONDS = 30
    client = IoTClient(TOKEN_A, cache_id=token_a.pk)
    uid = uid_of(emulator, "Kitchen Relay")
    assert client.get_device(uid)["name"] == "Kitchen Relay"
    client.update_device(uid, name="Pantry Relay")
    cache.delete(f"iot:{token_a.pk}:gen")  # evicted, as LocMem culling or Redis may do
    assert client.get_device(uid)["name"] == "Pantry Relay"


def test_the_cache_key_names_the_tokens_id_never_its_value(token_a, emulator, settings):
    settings.PORTAL_READ_CACHE_SECONDS = 30
    client = IoTClient(TOKEN_A, cache_id=token_a.pk)
    client.list_devices()
    key = client._cache._key("devices")
    assert key.startswith(f"iot:{token_a.pk}:") and TOKEN_A not in key
    assert len(upstream_calls(emulator, "GET")) == 1


def test_a_shared_failure_is_forgotten_after_two_seconds(token_a, emulator, settings):
    settings.PORTAL_READ_CACHE_SECONDS = 30
    client = IoTClient(TOKEN_A, cache_id=token_a.pk, retries=0)
    emulator.set_fault("500", count=1)
    with pytest.raises(UpstreamUnavailable):
        client.list_devices()
    with pytest.raises(UpstreamUnavailable):
        client.list_devices()  # shared: the upstream is not asked again at once
    assert list_reads(emulator) == 1
    threading.Event().wait(2.5)  # the upstream has healed by now
    assert len(client.list_devices()) >= 12
    assert list_reads(emulator) == 2
