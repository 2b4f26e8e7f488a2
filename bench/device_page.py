"""A device's page in Chromium until every panel is complete, against one direct upstream read.

The emulator answers every call after 50 ms; the portal runs with its read cache off, so each
load pays for every upstream read it makes. Chromium (Debian's, driven by Playwright) loads
the page signed in. A script installed before any of the page's own records
`performance.now()` (milliseconds since the navigation started) at the first moment the
commands, buttons and firmware panels are all in the document as panels, not placeholders
(checked on every DOM mutation, so no polling interval is added to the figure); a load's
figure is the later of that and the document's `domInteractive` (parsed).

One upstream read is measured twice, interleaved with the page in blocks so all see the same
machine load:

- in Chromium: a navigation to the upstream's `GET /v1/user/devices/{uid}` (the bearer token
  sent by that browser context), to its `domInteractive`. Any page about one device must at
  least wait for this: one upstream read plus the browser's own cost of a navigation (on a
  loaded 2-core machine, 40-60 ms even for a page of a few bytes). This is the ratio's
  denominator: same browser, same milestone.
- with `requests` (what `device_list` compares with), which has no browser cost at all.
"""

from __future__ import annotations

import json
import shutil

import requests

from bench.common import PASSWORD, TOKEN, emulator, p, portal, timings

LATENCY_MS, RUNS, BLOCK = 50, 100, 10
PANELS = ("#commands-panel", "#buttons-panel", "#firmware-panel")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"]  # fmt: skip

# Runs in every document before its own scripts; `window.__panelsDone` is the figure.
WATCH = """
(() => {
  const ids = IDS;
  const done = () => ids.every((id) => {
    const el = document.querySelector(id);
    return el && !el.classList.contains("panel-placeholder");
  });
  const check = () => {
    if (window.__panelsDone === undefined && done()) {
      window.__panelsDone = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, {childList: true, subtree: true, attributes: true,
                              attributeFilter: ["class"]});
})();
""".replace("IDS", json.dumps(PANELS))


def _device_uid(upstream: str) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    devices = requests.get(f"{upstream}/v1/user/devices", headers=headers, timeout=10).json()
    return next(d["uid"] for d in devices["data"] if d["name"] == "Kitchen Relay")


def _upstream_reads(upstream: str, load) -> int:
    requests.delete(f"{upstream}/_emulator/log", timeout=5)
    load()
    return len(requests.get(f"{upstream}/_emulator/log", timeout=5).json()["data"])


def run() -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with (
        emulator("--latency-ms", str(LATENCY_MS)) as upstream,
        portal(upstream, {"PORTAL_READ_CACHE_SECONDS": "0"}) as site,
        sync_playwright() as playwright,
    ):
        uid = _device_uid(upstream)
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(WATCH)
        page = context.new_page()
        page.goto(f"{site}/login/")
        page.get_by_label("Username").fill("bench")
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="Sign in").click()
        url = f"{site}/devices/{uid}/"
        page_ms: list[float] = []
        browser_ms: list[float] = []
        parsed = "() => performance.getEntriesByType('navigation')[0].domInteractive"

        def load() -> None:
            page.goto(url, wait_until="commit")
            page.wait_for_function("() => window.__panelsDone !== undefined", polling=5)
            page.wait_for_load_state("domcontentloaded")
            page_ms.append(max(page.evaluate("() => window.__panelsDone"), page.evaluate(parsed)))

        upstream_tab = browser.new_context(
            extra_http_headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
        ).new_page()
        detail_url = f"{upstream}/v1/user/devices/{uid}"

        def browser_read() -> None:
            upstream_tab.goto(detail_url, wait_until="domcontentloaded")
            assert uid in upstream_tab.content()
            browser_ms.append(upstream_tab.evaluate(parsed))

        direct = requests.Session()
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}

        def direct_call() -> None:
            response = direct.get(detail_url, headers=headers, timeout=10)
            assert response.json()["data"]["uid"] == uid

        reads = _upstream_reads(upstream, load)
        direct_ms: list[float] = []
        for _ in range(RUNS // BLOCK):
            direct_ms += timings(direct_call, BLOCK, warmup=1)
            for call, samples in ((browser_read, browser_ms), (load, page_ms)):
                call()  # a warm-up, not counted
                del samples[-1]
                for _ in range(BLOCK):
                    call()
        browser.close()
    result = {"reads": reads}
    for name, samples in (("direct", direct_ms), ("browser", browser_ms), ("page", page_ms)):
        result[f"{name}_p50"] = p(samples, 50)
        result[f"{name}_p95"] = p(samples, 95)
    for base in ("browser", "direct"):
        result[f"ratio_{base}_p50"] = result["page_p50"] / result[f"{base}_p50"]
        result[f"ratio_{base}_p95"] = result["page_p95"] / result[f"{base}_p95"]
    return result


def report(result: dict[str, float]) -> str:
    def row(label: str, name: str) -> str:
        return f"| {label} | {result[f'{name}_p50']:.1f} | {result[f'{name}_p95']:.1f} |"

    def ratio(base: str) -> str:
        return f"{result[f'ratio_{base}_p50']:.2f}× | {result[f'ratio_{base}_p95']:.2f}×"

    return "\n".join(
        [
            f"### A device's page with every panel, {LATENCY_MS} ms upstream latency, cache off",
            "",
            "| | p50 (ms) | p95 (ms) |",
            "|---|---|---|",
            row("one upstream read in Chromium (navigation to `GET /v1/user/devices/{uid}`)",
                "browser"),
            row("one upstream read with `requests`", "direct"),
            row("the device's page in Chromium, every panel complete", "page"),
            f"| ratio to the read in Chromium (target ≤ 1.3×) | **{ratio('browser')} |",
            f"| ratio to the read with `requests` | {ratio('direct')} |",
            "",
            f"Upstream reads a load: {result['reads']:.0f}.",
        ]
    )  # fmt: skip
