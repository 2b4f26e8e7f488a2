#!/usr/bin/env python
"""Screenshots for the README, taken from the demo fleet.

Starts the emulator (curated demo fleet) and a portal on loopback, signs in, and saves PNGs
under docs/screenshots/: the device pages (desktop and phone), then the team pages (desktop)
after a short day's work through the pages (two users added, a sign-in paused, a reboot and a
command sent). Uses Playwright with Debian's Chromium (never a downloaded browser):

    .venv/bin/python bin/screenshots.py           # all of them
    .venv/bin/python bin/screenshots.py team      # only the Users page and the audit log
    .venv/bin/python bin/screenshots.py fleet     # a bulk reboot's preview and its job page
    .venv/bin/python bin/screenshots.py rollouts  # a rollout's preview and its page, live

The fleet set runs a fleet worker (`manage.py db_worker`) beside the portal.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PASSWORD, TOKEN, emulator, portal_site  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


SETS = ("devices", "team", "fleet", "rollouts")
NEW_PASSWORD = "screenshot-passphrase-4"
# A rollout that moves while it is photographed: follow reads every second, a budget that
# does not hold it back.
ROLLOUT_PACE = {"PORTAL_ROLLOUT_POLL_SECONDS": "1", "PORTAL_CALLS_PER_MINUTE": "600"}


def sign_in(page, site: str) -> None:
    page.goto(f"{site}/login/")
    page.get_by_label("Username").fill("bench")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#device-rows tr").first.wait_for()


def add_user(page, site: str, username: str, role: str, token: str) -> None:
    page.goto(f"{site}/users/add/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Role").select_option(role)
    page.get_by_label("API token").select_option(label=token)
    page.locator("#id_password1").fill(NEW_PASSWORD)
    page.locator("#id_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create user").click()
    page.get_by_role("heading", name=username).wait_for()


def team_pages(page, site: str, uid: str) -> None:
    """A short day's work through the pages, then the Users page and the audit log."""
    import requests

    add_user(page, site, "dana", "operator", "Bench (…0000)")
    add_user(page, site, "sam", "viewer", "No token")
    someone = requests.Session()  # mistypes sam's password until sign-in pauses
    for _ in range(5):
        form = someone.get(f"{site}/login/", timeout=10).text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        someone.post(
            f"{site}/login/",
            data={"username": "sam", "password": "nope", "csrfmiddlewaretoken": csrf},
            timeout=10,
        )
    page.goto(f"{site}/devices/{uid}/")
    page.locator("#edit-name").click()
    page.get_by_label("Name", exact=True).fill("Greenhouse Sensor (north bed)")
    page.get_by_label("Name", exact=True).press("Enter")
    page.locator("#device-title").get_by_text("north bed").wait_for()
    page.locator("#action-reboot").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Reboot").click()
    page.locator("#commands-result").get_by_text("Reboot").wait_for()
    page.locator("#id_payload").fill('{"fan": "on", "speed": 2}')
    page.get_by_role("button", name="Send command").click()
    page.locator("#commands-result").get_by_text("Command").wait_for()
    page.goto(f"{site}/users/")
    page.screenshot(path=str(OUT / "users-desktop.png"), full_page=True)
    page.goto(f"{site}/audit/")
    page.screenshot(path=str(OUT / "audit-log-desktop.png"), full_page=True)


def fleet_pages(page, site: str) -> None:
    """Select every device, preview a bulk reboot, run it and watch its job to the end."""
    page.goto(f"{site}/devices/")
    page.locator("#select-all").click()
    page.get_by_text("selected").first.wait_for()
    page.goto(f"{site}/fleet/bulk/?action=reboot")
    page.locator("#bulk-run").wait_for()
    page.screenshot(path=str(OUT / "bulk-preview-desktop.png"), full_page=True)
    page.locator("#bulk-run").click()
    page.get_by_text("Job ").first.wait_for()
    page.get_by_text("devices done").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[hx-trigger^=\"every\"]')", timeout=60_000
    )
    page.screenshot(path=str(OUT / "job-desktop.png"), full_page=True)


def rollout_pages(page, site: str) -> None:
    """A build added to the library, rolled out to every ESP8266 (a canary, then 50 % and
    100 %): the preview, then the rollout's page once the canary has passed."""
    from tests.firmware_samples import esp8266_image

    page.goto(f"{site}/devices/")
    page.locator("#select-all").click()
    page.get_by_text("selected").first.wait_for()
    page.goto(f"{site}/fleet/library/")
    page.get_by_label("Name (required)").fill("Relay firmware")
    page.get_by_label("Version").fill("2.0.0")
    page.get_by_label("Firmware file").set_input_files(
        files=[{"name": "relay-2.0.0.bin", "mimeType": "application/octet-stream",
                "buffer": esp8266_image(300_000, salt="screenshot")}]
    )  # fmt: skip
    page.locator("#image-check").get_by_text("ESP8266").first.wait_for()
    page.get_by_role("button", name="Add to library").click()
    page.locator("#upload-result").get_by_role("link").first.click()
    page.get_by_role("link", name="Roll out this build").click()
    page.get_by_label("Canary devices").fill("1")
    page.get_by_label("Then waves up to (%)").fill("50, 100")
    page.get_by_label("Soak time (minutes)").fill("0")
    page.get_by_label("Pause after this many failures").fill("2")
    page.locator("#rollout-plan").click()
    page.locator("#rollout-start").wait_for(timeout=120_000)
    page.screenshot(path=str(OUT / "rollout-preview-desktop.png"), full_page=True)
    page.locator("#rollout-start").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Start the rollout").click()
    page.locator('#wave-0[data-state="passed"]').wait_for(timeout=120_000)
    page.wait_for_timeout(4000)  # the first wave under way (its offline devices wait)
    page.screenshot(path=str(OUT / "rollout-desktop.png"), full_page=True)


@contextmanager
def fleet_worker(env: dict[str, str]):
    """A fleet worker beside the portal, stopped (SIGTERM) when the screenshots are taken."""
    import subprocess

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    from playwright.sync_api import sync_playwright

    wanted = sys.argv[1:] or list(SETS)
    if not set(wanted) <= set(SETS):
        sys.exit(f"usage: bin/screenshots.py [{' | '.join(SETS)} ...]")

    chromium = os.environ.get("PORTAL_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        sys.exit("Debian's chromium is needed: apt-get install chromium")
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        emulator() as upstream,
        portal_site(upstream, ROLLOUT_PACE) as (site, _, env),
        fleet_worker(env),
        sync_playwright() as playwright,
    ):
        import requests

        uid = next(
            d["uid"]
            for d in requests.get(
                f"{upstream}/v1/user/devices",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            ).json()["data"]
            if d["name"] == "Greenhouse Sensor"
        )
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, viewport in (("desktop", (1280, 900)), ("phone", (390, 844))):
            if name == "phone" and "devices" not in wanted:
                continue
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                device_scale_factor=1,
                locale="en-GB",
                timezone_id="Europe/London",
            )
            page = context.new_page()
            sign_in(page, site)
            if "devices" in wanted:
                page.screenshot(
                    path=str(OUT / f"device-list-{name}.png"), full_page=name == "desktop"
                )
                page.goto(f"{site}/devices/{uid}/")
                page.locator("#buttons-panel:not([aria-busy])").wait_for()
                page.locator("#firmware-panel:not([aria-busy])").wait_for()
                page.screenshot(path=str(OUT / f"device-detail-{name}.png"), full_page=True)
            if name == "desktop" and "team" in wanted:
                team_pages(page, site, uid)
            if name == "desktop" and "fleet" in wanted:
                fleet_pages(page, site)
            if name == "desktop" and "rollouts" in wanted:
                rollout_pages(page, site)
            context.close()
        browser.close()
    print(f"Saved screenshots in {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
