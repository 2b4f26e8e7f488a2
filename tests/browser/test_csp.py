"""The strict Content Security Policy holds on every page: the browser reports no violation.

The walk starts at the device list, signed in as an admin (who sees every page), and follows
every same-origin link it finds, so pages added later are covered without editing this test.
It also drives htmx swaps, which must neither inject styles nor evaluate code.
"""

from __future__ import annotations

from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAX_PAGES = 40
# Not pages of the portal's own: Django's admin (its own templates) and static files.
SKIP_PREFIXES = ("/django-admin/", "/static/", "/logout/")

REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const what = e.blockedURI || "inline";
  window.__reportCsp(`${e.violatedDirective} blocked ${what} on ${location.pathname}`);
});
"""


@pytest.fixture
def violations(page):
    """Every CSP violation the page reports, by event and by console message."""
    reported: list[str] = []
    page.expose_function("__reportCsp", lambda text: reported.append(text))
    page.add_init_script(REPORTER)
    yield reported


def _links(page, origin: str) -> set[str]:
    # Links marked as downloads (the audit CSV) are files, not pages to check.
    hrefs = page.eval_on_selector_all("a[href]:not([download])", "els => els.map(e => e.href)")
    found = set()
    for href in hrefs:
        url = urldefrag(href).url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == origin and not parts.path.startswith(
            SKIP_PREFIXES
        ):
            found.add(url)
    return found


def _no_injected_styles(page) -> None:
    assert page.evaluate("document.querySelectorAll('style').length") == 0
    assert page.evaluate("document.querySelectorAll('[style]').length") == 0


def _seeds(origin: str, uid: str) -> list[str]:
    """Where the walk starts: the device list, and a device's pages where they exist."""
    from django.urls import NoReverseMatch, reverse

    urls = []
    for name, kwargs in (
        ("devices:list", {}),
        ("devices:detail", {"uid": uid}),
        ("firmware:panel", {"uid": uid}),
    ):
        try:
            urls.append(origin + reverse(name, kwargs=kwargs))
        except NoReverseMatch:
            continue
    return urls


def test_walking_every_page_reports_no_csp_violation(
    page, violations, sign_in, users, emulator, live_server
):
    sign_in("admin")
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()
    origin = live_server.url
    # One visit per path: the same page sorted or paged another way is the same template.
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    to_visit, seen = _seeds(origin, uid), set()
    while to_visit and len(seen) < MAX_PAGES:
        url = to_visit.pop(0)
        if urlsplit(url).path in seen:
            continue
        seen.add(urlsplit(url).path)
        page.goto(url)
        page.wait_for_load_state("load")
        _no_injected_styles(page)
        to_visit.extend(sorted(_links(page, origin)))
    assert len(seen) >= 2, f"the walk found too few pages: {sorted(seen)}"
    assert violations == []
    assert page.csp_violations == []


def test_the_sign_in_page_reports_no_csp_violation(page, violations, live_server):
    page.goto(f"{live_server.url}/login/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    _no_injected_styles(page)
    assert violations == [] and page.csp_violations == []


def test_htmx_swaps_inject_no_styles_and_evaluate_no_code(
    page, violations, sign_in, users, emulator, live_server
):
    sign_in("viewer")
    config = page.evaluate(
        "({eval: htmx.config.allowEval, styles: htmx.config.includeIndicatorStyles,"
        " scripts: htmx.config.allowScriptTags})"
    )
    assert config == {"eval": False, "styles": False, "scripts": False}
    with page.expect_response(lambda r: "q=Kitchen" in r.url):
        page.get_by_role("searchbox").fill("Kitchen")
    expect(page.get_by_role("table")).to_contain_text("Kitchen Relay")
    page.get_by_role("table").get_by_role("link").first.click()
    page.wait_for_load_state("networkidle")
    _no_injected_styles(page)
    assert violations == [] and page.csp_violations == []


def test_the_reporter_would_catch_a_violation(page, violations, live_server):
    """The walk proves something: an inline style, which the policy forbids, is reported."""
    page.goto(f"{live_server.url}/login/")
    page.evaluate(
        "() => { const s = document.createElement('style');"
        " s.textContent = 'body{color:red}'; document.head.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert any("style-src" in v for v in violations)
