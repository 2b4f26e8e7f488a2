"""Nothing the user did is lost or done twice, in a real browser, on desktop and at 375 px:
an ended session keeps the page and says what was not sent, a double click sends once, and
leaving a half-typed form asks first."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HALF_TYPED = '{"relay": "on", "for'


@pytest.fixture(params=[1280, 375], ids=lambda w: f"{w}px")
def width(request, page):
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


def open_device(page, live_server, emulator, name: str = "Kitchen Relay") -> str:
    uid = emulator.device_uid(TOKEN_A, name)
    page.goto(f"{live_server.url}/devices/{uid}/")
    expect(page.locator("#device-title")).to_have_text(name)
    expect(page.locator("#command-form")).to_be_visible()  # the commands panel is in
    return uid


def writes(emulator) -> list[dict]:
    return [entry for entry in emulator.request_log if entry["method"] != "GET"]


def reboot(page) -> None:
    page.locator("#action-reboot").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Reboot").click()


def test_an_ended_session_keeps_the_page_and_what_is_typed_and_says_what_was_not_sent(
    sign_in, users, emulator, live_server, settings, width
):
    settings.PORTAL_REFRESH_SECONDS = 1
    page = sign_in("operator")
    uid = open_device(page, live_server, emulator)
    address = page.url
    page.locator("#id_payload").fill(HALF_TYPED)
    banner = page.locator("#session-banner")
    page.wait_for_timeout(1500)  # a refresh while signed in says nothing
    expect(banner).to_be_hidden()
    Session.objects.all().delete()  # the session ends on the server
    emulator.clear_log()

    expect(banner).to_be_visible(timeout=5000)  # the next background refresh finds out
    expect(banner).to_contain_text("Your session has ended.")
    expect(banner).to_contain_text("What you typed is still here.")
    assert page.url == address
    expect(page.locator("#id_payload")).to_have_value(HALF_TYPED)

    reboot(page)
    expect(banner).to_contain_text("Reboot was not sent.")
    new_tab = banner.get_by_role("link", name="Sign in again in a new tab")
    expect(new_tab).to_have_attribute("target", "_blank")
    expect(new_tab).to_have_attribute("href", re.compile(r"^/login/\?next=.*&reason=ended$"))
    assert writes(emulator) == []

    # Signed in again in another tab, this one simply sends again.
    other = page.context.new_page()
    other.goto(live_server.url + new_tab.get_attribute("href"))
    expect(other.locator("#sign-in-why")).to_have_text("Your session ended; sign in again.")
    other.get_by_label("Username").fill("operator")
    other.get_by_label("Password").fill(PASSWORD)
    with other.expect_navigation():
        other.get_by_role("button", name="Sign in").click()
    other.close()
    expect(banner).to_contain_text("You are signed in again.", timeout=5000)
    expect(banner).to_contain_text("Reboot was not sent: send it again if you still want it.")
    expect(page.locator("#id_payload")).to_have_value(HALF_TYPED)
    reboot(page)
    expect(page.locator("#commands-result")).to_contain_text("Reboot command sent.")
    assert [entry["path"] for entry in writes(emulator)] == [f"/v1/user/devices/{uid}/reboot"]


def test_signing_in_again_in_place_keeps_what_is_typed(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("operator")
    uid = open_device(page, live_server, emulator)
    page.locator("#id_payload").fill('{"relay": "on"}')
    Session.objects.all().delete()
    emulator.clear_log()
    page.get_by_role("button", name="Send command").click()
    banner = page.locator("#session-banner")
    expect(banner).to_contain_text("Send command was not sent.")
    assert writes(emulator) == []

    banner.get_by_role("button", name="sign in here").click()
    dialog = page.locator("#sign-in-dialog")
    dialog.get_by_label("Username").fill("operator")
    dialog.get_by_label("Password").fill("wrong")
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog.locator("#sign-in-dialog-error")).to_be_visible()
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog).to_be_hidden()
    expect(banner).to_contain_text("You are signed in again.")
    expect(page.locator("#id_payload")).to_have_value('{"relay": "on"}')
    page.get_by_role("button", name="Send command").click()
    expect(page.locator("#commands-result")).to_contain_text("Command sent.")
    assert emulator.state.received_commands(TOKEN_A, uid)[-1]["payload"] == {"relay": "on"}
    assert len(writes(emulator)) == 1


def test_with_cookies_cleared_a_reboot_is_not_sent_and_the_page_stays(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("operator")
    open_device(page, live_server, emulator)
    page.locator("#id_payload").fill(HALF_TYPED)
    page.context.clear_cookies()
    emulator.clear_log()
    reboot(page)
    banner = page.locator("#session-banner")
    expect(banner).to_contain_text("Your session has ended.")
    expect(banner).to_contain_text("Reboot was not sent.")
    expect(page.locator("#id_payload")).to_have_value(HALF_TYPED)
    expect(page.locator("#commands-result")).to_be_empty()
    assert writes(emulator) == []


def test_a_double_click_on_a_command_button_sends_once(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("operator")
    uid = open_device(page, live_server, emulator)
    emulator.clear_log()
    emulator.set_latency(400)  # the second click lands while the first is on its way
    button = page.locator("#send-relay_on")
    button.dblclick()
    expect(button).to_be_disabled()  # waits while its request runs
    expect(page.locator("#buttons-result")).to_contain_text("Command sent.")
    expect(button).to_be_enabled()
    page.wait_for_timeout(800)  # a second send, had there been one, would have arrived
    sends = [e for e in writes(emulator) if e["path"].endswith("/command-buttons/relay_on/send")]
    assert len(sends) == 1, sends
    # Sent again on purpose, it goes: the form took its next key with the answer.
    emulator.set_latency(0)
    button.click()
    expect(button).to_be_enabled()
    page.wait_for_timeout(300)
    assert len([e for e in writes(emulator) if e["path"].endswith("/send")]) == 2
    assert uid


def test_leaving_a_half_typed_command_by_a_link_or_back_asks_first(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("operator")
    open_device(page, live_server, emulator)
    address = page.url
    page.locator("#id_payload").fill(HALF_TYPED)
    asked = []

    def stay(dialog):
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.locator("nav.crumbs").get_by_role("link", name="Devices").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.url == address
    expect(page.locator("#id_payload")).to_have_value(HALF_TYPED)

    page.evaluate("history.back()")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload", "beforeunload"]
    assert page.url == address

    page.remove_listener("dialog", stay)
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("nav.crumbs").get_by_role("link", name="Devices").click()
    expect(page).to_have_url(re.compile(r"/devices/$"))


def test_a_sent_form_and_an_untouched_one_leave_without_asking(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("operator")
    open_device(page, live_server, emulator)
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.locator("#id_payload").fill('{"relay": "on"}')
    page.get_by_role("button", name="Send command").click()
    expect(page.locator("#commands-result")).to_contain_text("Command sent.")
    page.locator("nav.crumbs").get_by_role("link", name="Devices").click()
    expect(page).to_have_url(re.compile(r"/devices/$"))
    assert asked == []


def _beforeunload_listeners(page) -> int:
    """How many beforeunload listeners the page's window has (DevTools' own count)."""
    cdp = page.context.new_cdp_session(page)
    window = cdp.send("Runtime.evaluate", {"expression": "window"})["result"]["objectId"]
    listeners = cdp.send("DOMDebugger.getEventListeners", {"objectId": window})["listeners"]
    cdp.detach()
    return sum(1 for listener in listeners if listener["type"] == "beforeunload")


def test_an_untouched_page_has_no_beforeunload_listener_until_something_is_typed(
    sign_in, users, emulator, live_server
):
    # A beforeunload listener costs every navigation away a round trip to the page first.
    page = sign_in("operator")
    open_device(page, live_server, emulator)
    assert _beforeunload_listeners(page) == 0
    page.locator("#id_payload").fill(HALF_TYPED)
    assert _beforeunload_listeners(page) == 1
    page.locator("#id_payload").fill(HALF_TYPED + "x")
    assert _beforeunload_listeners(page) == 1  # one listener, however much is typed


def test_a_half_typed_rename_asks_before_leaving(sign_in, users, emulator, live_server, width):
    page = sign_in("operator")
    open_device(page, live_server, emulator)
    page.locator("#edit-name").click()
    page.locator("#id_name").fill("Kitchen Relay (new)")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.locator("nav.crumbs").get_by_role("link", name="Devices").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    expect(page.locator("#id_name")).to_have_value("Kitchen Relay (new)")


def test_a_half_typed_button_form_asks_before_the_panel_is_swapped_away(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("maintainer")
    open_device(page, live_server, emulator)
    form = page.locator("#button-form")
    form.get_by_label("Label").fill("Fan on")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    emulator.clear_log()
    # Deleting a button redraws the whole panel, the half-typed form with it.
    page.get_by_role("button", name="Delete the button Relay On").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    page.wait_for_timeout(500)
    assert asked == ["confirm"]
    assert writes(emulator) == []
    expect(page.locator("#button-form").get_by_label("Label")).to_have_value("Fan on")


def test_a_picked_firmware_file_asks_before_leaving(sign_in, users, emulator, live_server, width):
    from tests import firmware_samples as samples

    page = sign_in("maintainer")
    open_device(page, live_server, emulator)
    upload = page.locator("#upload-form")
    expect(upload).to_be_visible()
    upload.get_by_label("Firmware file (.bin, at most 4 MB)").set_input_files(
        {
            "name": "app.bin",
            "mimeType": "application/octet-stream",
            "buffer": samples.esp8266_image(),
        }
    )
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.locator("nav.crumbs").get_by_role("link", name="Devices").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]


def test_a_stale_security_check_says_what_was_not_sent_and_dismiss_puts_the_banner_away(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("operator")
    uid = open_device(page, live_server, emulator)
    page.locator("#id_payload").fill(HALF_TYPED)
    # Still signed in, but the CSRF cookie is gone (cleared by the browser, or renewed
    # elsewhere): the page's token no longer matches and the write is refused unsent.
    page.context.clear_cookies(name="csrftoken")
    emulator.clear_log()
    reboot(page)
    banner = page.locator("#session-banner")
    expect(banner).to_contain_text("This page's security check had expired.")
    expect(banner).to_contain_text("Reboot was not sent: it is renewed now, so send it again.")
    expect(banner.get_by_role("link", name="Sign in again in a new tab")).to_be_hidden()
    assert writes(emulator) == []
    expect(page.locator("#id_payload")).to_have_value(HALF_TYPED)

    banner.get_by_role("button", name="Dismiss").click()
    expect(banner).to_be_hidden()
    reboot(page)  # the answer renewed the cookie: sent again, it goes, once
    expect(page.locator("#commands-result")).to_contain_text("Reboot command sent.")
    expect(banner).to_be_hidden()
    assert [entry["path"] for entry in writes(emulator)] == [f"/v1/user/devices/{uid}/reboot"]


def send_twice(page, path_end: str, *, body: str | None = None) -> None:
    """The next request whose path ends so reaches the portal twice with the same body (a
    retry by the network, or a browser resubmitting); the page gets the second answer, with
    `body` instead of its own when given."""

    def retry(route):
        route.fetch()
        second = route.fetch()
        route.fulfill(response=second, body=body)

    page.route(re.compile(re.escape(path_end) + r"$"), retry, times=1)


def test_a_command_button_sent_twice_by_the_network_goes_once_and_the_page_says_so(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("operator")
    open_device(page, live_server, emulator)
    emulator.clear_log()
    send_twice(page, "/buttons/relay_on/send/")
    page.locator("#send-relay_on").click()
    refusal = "Already sent: this form was submitted once; nothing was sent again."
    expect(page.locator("#buttons-result")).to_contain_text(refusal)
    expect(page.get_by_text(refusal)).to_have_count(1)  # said once, not twice
    sends = [e for e in writes(emulator) if e["path"].endswith("/command-buttons/relay_on/send")]
    assert len(sends) == 1, sends


def test_a_refused_answer_that_draws_no_message_is_still_said_from_its_header(
    sign_in, users, emulator, live_server, width
):
    # Every write the portal has today draws its refusal in the page; one that did not (a
    # swap that shows nothing) is still not silent: the portal's script says the header's
    # sentence in the page's messages.
    page = sign_in("operator")
    open_device(page, live_server, emulator)
    send_twice(page, "/buttons/relay_on/send/", body="")
    page.locator("#send-relay_on").click()
    notice = page.locator("#messages").get_by_role("alert")
    expect(notice).to_have_text(
        "Already sent: this form was submitted once; nothing was sent again."
    )
    expect(page.locator("#buttons-result")).to_be_empty()


def test_a_lifted_pause_sent_twice_by_the_network_lands_on_a_page_that_says_so(
    sign_in, users, live_server, width
):
    from tests.browser.test_team_access import lock_out

    lock_out("operator")
    page = sign_in("admin")
    page.goto(f"{live_server.url}/users/")
    send_twice(page, "/users/lockouts/lift/")
    page.get_by_role("button", name=re.compile("Lift the pause")).click()
    page.get_by_role("dialog").get_by_role("button", name="Lift the pause").click()
    expect(page.get_by_text("No sign-in is paused now.")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text(
        "Already sent: this form was submitted once; nothing was sent again."
    )
