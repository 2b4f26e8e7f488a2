#!/usr/bin/env python
"""Screenshots of the device pages for the README, taken from the demo fleet.

Starts the emulator (curated demo fleet) and a portal on loopback, signs in, and saves PNGs
under docs/screenshots/. Uses Playwright with Debian's Chromium (never a downloaded browser):

    .venv/bin/python bin/screenshots.py
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PASSWORD, TOKEN, emulator, portal  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("PORTAL_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        sys.exit("Debian's chromium is needed: apt-get install chromium")
    OUT.mkdir(parents=True, exist_ok=True)
    with emulator() as upstream, portal(upstream) as site, sync_playwright() as playwright:
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
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                device_scale_factor=1,
                locale="en-GB",
                timezone_id="Europe/London",
            )
            page = context.new_page()
            page.goto(f"{site}/login/")
            page.get_by_label("Username").fill("bench")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.locator("#device-rows tr").first.wait_for()
            page.screenshot(path=str(OUT / f"device-list-{name}.png"), full_page=name == "desktop")
            page.goto(f"{site}/devices/{uid}/")
            page.locator("#buttons-panel:not([aria-busy])").wait_for()
            page.locator("#firmware-panel:not([aria-busy])").wait_for()
            page.screenshot(path=str(OUT / f"device-detail-{name}.png"), full_page=True)
            context.close()
        browser.close()
    print(f"Saved screenshots in {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
