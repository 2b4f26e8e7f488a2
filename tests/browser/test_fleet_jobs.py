"""Bulk actions and their jobs in a real browser, with the fleet worker as a real process:
the preview of the selection, the run, the rows filling in, cancel, retry; at 1280 and 375 px,
with axe-core over each new page.

The selection is put in the session as the device table's checkboxes put it there
(fleet/selection.py): the table's side of it is tested with the table.
"""

from __future__ import annotations

import re
from importlib import import_module

import pytest
from django.conf import settings
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from fleet import selection
from fleet.models import Job, JobItem
from tests.browser.test_device_quality import fits, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 375]
ONLINE = ("Kitchen Relay", "Garage Door", "Living Room Thermostat")
TIMEOUT = 20_000  # ms: a worker process starting and polling every 0.1 s


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def width(request, page):
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


def select_in_browser(page, token, uids) -> None:
    """Put `uids` in the signed-in browser's selection, as the table's checkboxes do."""
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    store[f"{selection.KEY}:{token.pk}"] = list(uids)
    store.save()


def uids_of(emulator, *names: str) -> list[str]:
    return [emulator.device_uid(TOKEN_A, name) for name in names]


def confirm_dialog(page, label: str) -> None:
    page.locator("#confirm-dialog").get_by_role("button", name=label).click()


def test_a_bulk_reboot_is_previewed_run_watched_and_retried(
    sign_in, users, token_a, emulator, live_server, fleet_worker, width
):
    page = sign_in("operator")
    chosen = uids_of(emulator, *ONLINE, "Front Porch Light")
    select_in_browser(page, token_a, chosen)
    # One device answers 500 to its reboot: it fails, and is retried below.
    emulator.set_fault("500", path=f"{chosen[1]}/reboot")
    page.goto(f"{live_server.url}/fleet/bulk/?action=reboot")
    expect(page.locator("#bulk-count")).to_have_text("4 devices")
    expect(page.locator("#bulk-offline")).to_have_text("1")
    assert serious_violations(page) == [] and fits(page)
    page.get_by_label("Try them anyway").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Reboot 4 devices").click()
    expect(page.locator(".flash")).to_contain_text("Reboot queued for 4 devices")
    # The rows fill in as the worker sends, without a reload.
    expect(page.locator("#job-state")).to_have_text("Done", timeout=TIMEOUT)
    expect(page.locator("#count-sent")).to_contain_text("2")
    expect(page.locator("#count-refused")).to_contain_text("1")
    expect(page.locator("#count-failed")).to_contain_text("1")
    expect(page.locator("#job-rows tr[data-state=refused]")).to_contain_text("Device is offline.")
    expect(page.locator("#job-progress-words")).to_have_text("4 of 4 devices done")
    assert serious_violations(page) == [] and fits(page)
    # Filtered by state, in the address bar.
    page.locator("#count-failed").click()
    expect(page).to_have_url(re.compile(r"\?state=failed$"))
    expect(page.locator("#job-rows tr")).to_have_count(1)
    # Retry the failed and refused ones, the fault gone.
    emulator.clear_faults()
    page.locator("#job-retry").click()
    confirm_dialog(page, "Retry")
    expect(page.locator(".flash")).to_contain_text("2 devices queued again")
    expect(page.locator("#job-state")).to_have_text("Done", timeout=TIMEOUT)
    page.goto(page.url.split("?")[0])
    expect(page.locator("#count-sent")).to_contain_text("3")
    expect(page.locator("#count-refused")).to_contain_text("1")  # still offline
    job = Job.objects.get()
    failed_once = job.items.get(device_uid=chosen[1])
    assert failed_once.state == JobItem.State.SENT and failed_once.attempts == 2
    assert page.csp_violations == []


def test_a_slow_job_is_cancelled_and_what_had_not_started_is_never_sent(
    sign_in, users, token_a, emulator, live_server, fleet_worker, width, settings
):
    settings.IOT_API_TIMEOUT = 5  # the page's own read of the list is slow too
    fleet_worker.stop()  # one call at a time (the engine sends up to 8 at once by default)
    fleet_worker.start(PORTAL_FLEET_MAX_IN_FLIGHT="1")
    page = sign_in("operator")
    chosen = emulator.uids(TOKEN_A)[:16]
    select_in_browser(page, token_a, chosen)
    page.goto(f"{live_server.url}/fleet/bulk/?action=reboot")
    page.get_by_label("Try them anyway").check()
    emulator.set_latency(1500)  # each call takes 1.5 s: time to cancel
    with page.expect_navigation():
        page.get_by_role("button", name="Reboot 16 devices").click()
    expect(page.locator("#job-rows tr[data-state=sending]")).to_have_count(1, timeout=TIMEOUT)
    # The rows are redrawn every 2 s; the focus stays on the button across a redraw...
    page.locator("#job-cancel").focus()
    page.wait_for_timeout(2500)
    expect(page.locator("#job-cancel")).to_be_focused()
    # ...and a confirmation that takes its time still sends (no redraw while it asks).
    page.locator("#job-cancel").click()
    page.wait_for_timeout(2500)
    confirm_dialog(page, "Cancel the job")
    expect(page.locator(".flash")).to_contain_text(
        re.compile(r"Job \d+ cancelled: \d+ devices will")
    )
    expect(page.locator("#job-state")).to_have_text("Cancelled")
    assert serious_violations(page) == [] and fits(page)
    job = Job.objects.get()
    cancelled = job.items.filter(state=JobItem.State.CANCELLED).count()
    assert cancelled >= 5  # about 1 call in 1.5 s went out while the user took 5 s
    # The call in flight ends as it ends; nothing cancelled is ever sent.
    expect(page.locator("#job-rows tr[data-state=sending]")).to_have_count(0, timeout=TIMEOUT)
    emulator.set_latency(0)
    page.wait_for_timeout(1000)
    reboots = [e for e in emulator.request_log if e["path"].endswith("/reboot")]
    assert len(reboots) == 16 - cancelled
    assert job.items.filter(state=JobItem.State.CANCELLED).count() == cancelled


def test_the_jobs_list_and_a_job_waiting_for_a_worker(
    sign_in, users, token_a, emulator, live_server, width
):
    page = sign_in("maintainer")
    select_in_browser(page, token_a, uids_of(emulator, *ONLINE))
    page.goto(f"{live_server.url}/fleet/bulk/")
    expect(page.get_by_text("3 devices selected.")).to_be_visible()
    assert serious_violations(page) == [] and fits(page)
    page.get_by_role("link", name="Reset Wi-Fi").click()
    page.get_by_label("Type 3, the number of devices, to confirm").fill("2")
    page.get_by_role("button", name="Reset the Wi-Fi of 3 devices").click()
    expect(page.locator("#typed-count-error")).to_contain_text("Type 3")
    assert serious_violations(page) == [] and fits(page)
    page.get_by_label("Type 3, the number of devices, to confirm").fill("3")
    with page.expect_navigation():
        page.get_by_role("button", name="Reset the Wi-Fi of 3 devices").click()
    expect(page.locator("#job-no-worker")).to_contain_text("The work is waiting for a worker")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.locator("table.jobs")).to_contain_text("Reset Wi-Fi")
    assert serious_violations(page) == [] and fits(page)
    assert page.csp_violations == []
