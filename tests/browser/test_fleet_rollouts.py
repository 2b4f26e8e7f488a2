"""A staged rollout in a real browser, with the fleet worker as a real process and the
emulator as a test range (OTA outcomes per device, a time scale): upload a build to the
library, plan a rollout on a tag and see its preview, start it, watch the canary pass without
a reload, promote, see the failure threshold pause it, export the report, roll back the
failed devices (their targets set back); at 1280 and 375 px, with axe-core over each new
page."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from fleet import tags
from fleet.models import Rollout, Target
from tests import firmware_samples as samples
from tests.browser.test_device_quality import fits, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30_000  # ms: a worker process starting, a wave of updates, the page's 2 s polls
KITCHEN = "Kitchen Relay"  # an online ESP8266 of the curated fleet, copied


@pytest.fixture(params=[1280, 375], ids=lambda w: f"{w}px")
def width(request, page):
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


@pytest.fixture
def rollout_worker(fleet_worker, emulator):
    """The fleet worker following devices every 0.1 s; the emulator 20x faster (an OTA and a
    restart of 50 ms each: a read may or may not see the restart, the device's last_ota_at
    tells it came back either way)."""
    emulator.set_time_scale(20)
    fleet_worker.kill()  # the fixture's own, with the default 10 s between reads
    fleet_worker.start(PORTAL_ROLLOUT_POLL_SECONDS="0.1")
    return fleet_worker


def confirm(page, label: str) -> None:
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=label).click()


def clean(page) -> None:
    assert serious_violations(page) == []
    assert fits(page)


def tagged_devices(emulator, token, count: int, tag: str) -> list[str]:
    """`count` online ESP8266 devices "Device 0".. (copies of Kitchen Relay), tagged."""
    source = emulator.device_uid(TOKEN_A, KITCHEN)
    uids = []
    for n in range(count):
        uid = f"roll-{n:03d}"
        emulator.copy_device(TOKEN_A, source, uid)
        emulator.set_device(TOKEN_A, uid, name=f"Device {n}")
        tags.apply_add(token, uid, tag)
        uids.append(uid)
    return uids


def test_a_rollout_on_a_tag_is_previewed_started_promoted_paused_rolled_back_and_reported(
    sign_in, users, token_a, emulator, live_server, rollout_worker, width
):
    tagged_devices(emulator, token_a, 6, "Greenhouse")
    esp32 = emulator.device_uid(TOKEN_A, "Chicken Coop Door")
    tags.apply_add(token_a, esp32, "Greenhouse")
    page = sign_in("maintainer")

    # Upload the build to the library, and roll it out from its page.
    page.goto(f"{live_server.url}/fleet/library/")
    page.get_by_label("Name (required)").fill("Relay firmware")
    page.get_by_label("Version").fill("2.0.0")
    data = samples.esp8266_image(60_000, f"rollout {width}")
    page.get_by_label("Firmware file").set_input_files(
        files=[{"name": "relay.bin", "mimeType": "application/octet-stream", "buffer": data}]
    )
    expect(page.locator("#image-check")).to_contain_text("ESP8266")
    page.get_by_role("button", name="Add to library").click()
    page.locator("#upload-result").get_by_role("link", name="Open Relay firmware 2.0.0").click()
    page.get_by_role("link", name="Roll out this build").click()

    # The plan: on a tag, a canary, then 50 % and 100 %, manual promotion, 2 failures pause it.
    expect(page.get_by_role("heading", name="Plan a rollout")).to_be_visible()
    expect(page.get_by_label("Build from the library")).to_have_value(
        str(Rollout._meta.apps.get_model("fleet", "Build").objects.get().pk)
    )
    clean(page)
    page.get_by_label("The devices with a tag").check()
    page.get_by_label("Tag", exact=True).fill("Greenhouse")
    page.get_by_label("Canary devices").fill("1")
    page.get_by_label("Then waves up to (%)").fill("50, 100")
    page.get_by_label("Wait for a maintainer to promote").check()
    page.get_by_label("Soak time (minutes)").fill("0")
    page.get_by_label("Pause after this many failures").fill("2")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview the rollout").click()

    # The worker reads each device (the page follows it), then the preview: what will be
    # updated, what is left out and why; nothing sent yet.
    expect(page.locator(".flash")).to_contain_text("their details are being read")
    expect(page.locator("#preview-count")).to_have_text("6 devices", timeout=TIMEOUT)
    expect(page.locator("#excluded-list")).to_contain_text("Chicken Coop Door")
    expect(page.locator("#excluded-list")).to_contain_text("The build is for ESP8266")
    expect(page.locator("#waves tbody tr")).to_have_count(3)
    clean(page)
    rollout = Rollout.objects.get()
    assert rollout.state == Rollout.State.DRAFT

    # Start; the canary passes while the page watches (no reload), then it waits for us.
    page.locator("#rollout-start").click()
    confirm(page, "Start the rollout")
    expect(page.locator("#rollout-state")).to_have_text("Running")
    expect(page.locator("#wave-0")).to_have_attribute("data-state", "passed", timeout=TIMEOUT)
    expect(page.locator("#rollout-promote")).to_be_visible(timeout=TIMEOUT)
    canary = page.locator("#target-rows tr[data-state=healthy]")
    expect(canary).to_have_count(1)
    for step in ("Upload", "Set target", "Start update", "Follow"):
        expect(canary.locator("ol.timeline")).to_contain_text(step)
    clean(page)

    # The next wave's two devices come back on their old build: the threshold pauses it.
    wave1 = [t.device_uid for t in rollout.targets.filter(wave__number=1)]
    assert len(wave1) == 2
    emulator.set_ota_outcomes(devices={uid: "old_build" for uid in wave1})
    # The confirmation takes its time: the page's redraws wait for it (static/fleet/live.js).
    page.locator("#rollout-promote").click()
    page.wait_for_timeout(2500)
    confirm(page, "Promote")
    expect(page.locator("#rollout-state")).to_have_text("Paused", timeout=TIMEOUT)
    expect(page.locator("#rollout-paused")).to_contain_text("threshold is 2")
    expect(page.locator("#wave-2")).to_have_attribute("data-state", "pending")
    expect(page.locator("#target-rows tr[data-state=failed]")).to_have_count(2, timeout=TIMEOUT)
    expect(page.locator("#rollout-resume")).to_be_visible()
    clean(page)
    wave2 = rollout.targets.filter(wave__number=2)
    assert all(t.state == Target.State.WAITING and not t.steps.exists() for t in wave2)

    # The report: every device, its state and steps, as a spreadsheet opens it.
    with page.expect_download() as download:
        page.locator("#rollout-csv").click()
    with open(download.value.path(), encoding="utf-8") as report:
        rows = list(csv.DictReader(io.StringIO(report.read())))
    assert len(rows) == 7
    by_uid = {row["device_uid"]: row for row in rows}
    assert by_uid[esp32]["state"] == "Excluded"
    assert {by_uid[uid]["state"] for uid in wave1} == {"Failed"}
    assert "trigger ok" in by_uid[wave1[0]]["steps"]

    # Roll back the failed devices: a rollout of its own, linked both ways.
    page.locator("#rollout-rollback").click()
    confirm(page, "Plan the rollback")
    expect(page.get_by_role("heading", name="roll back")).to_be_visible()
    expect(page.locator("#rollback-of")).to_have_text(f"Rollout {rollout.pk}")
    back = Rollout.objects.get(rollback_of=rollout)
    assert sorted(back.targets.values_list("device_uid", flat=True)) == sorted(wave1)
    # They came back on the build they ran before, but their target is still the new build:
    # the rollback sets it back, and starts no update.
    expect(page.locator("#preview-count")).to_have_text("2 devices", timeout=TIMEOUT)
    expect(page.locator("#target-rows")).to_contain_text("only the target is set back")
    clean(page)
    page.locator("#rollout-start").click()
    confirm(page, "Start the rollout")
    expect(page.locator("#rollout-state")).to_have_text("Done", timeout=TIMEOUT)
    healthy = page.locator("#target-rows tr[data-state=healthy]")
    expect(healthy).to_have_count(2)
    for n in range(2):
        timeline = healthy.nth(n).locator("ol.timeline")
        expect(timeline).to_contain_text("Set target")
        expect(timeline).to_contain_text("its target was set back to it")
        expect(timeline).not_to_contain_text("Start update")
    clean(page)
    for uid in wave1:
        detail = emulator.state.device_detail(TOKEN_A, uid)
        assert detail["target_firmware"]["md5"] == detail["current_firmware"]["md5"]
    page.get_by_role("link", name=f"Rollout {rollout.pk}").click()
    expect(page.locator("#rollbacks")).to_contain_text(f"rollout {back.pk}")

    # The team's rollouts, newest first.
    page.get_by_role("link", name="Rollouts", exact=True).first.click()
    expect(page.locator("table.rollouts tbody tr")).to_have_count(2)
    expect(page.locator("table.rollouts tbody tr").first).to_contain_text("roll back")
    clean(page)
    page.goto(f"{live_server.url}/fleet/rollouts/{rollout.pk}/visits/")
    expect(page.get_by_text("No device of this rollout needs a visit.")).to_be_visible()
    clean(page)
    assert page.csp_violations == []
