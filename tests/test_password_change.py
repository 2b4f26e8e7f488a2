"""Everyone changes their own password (Django's form, audited, signed in afterwards); an admin
can require a change, and every page then sends that user to the change page until done."""

from __future__ import annotations

import html

from django.contrib.auth.models import User
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent, Profile
from tests.conftest import PASSWORD
from tests.conftest import KeyedClient as Client

NEW = "a-brand-new-passphrase-9"
URL = reverse("password_change")


def change(client, old: str = PASSWORD, new: str = NEW, **extra):
    data = {"old_password": old, "new_password1": new, "new_password2": new, **extra}
    return client.post(URL, data)


def test_every_page_links_to_change_your_password(as_viewer):
    page = as_viewer.get(reverse("devices:list")).content.decode()
    assert f'<a href="{URL}">Change password</a>' in page


def test_a_user_changes_their_own_password_and_stays_signed_in(as_viewer, viewer):
    other = Client()
    other.force_login(viewer)
    response = change(as_viewer)
    assert response.status_code == 302
    assert User.objects.get(pk=viewer.pk).check_password(NEW)
    flashed = html.unescape(as_viewer.get(response["Location"], follow=True).content.decode())
    assert "Your password is changed." in flashed
    assert as_viewer.get(reverse("devices:list")).status_code == 200  # still signed in
    assert other.get(reverse("devices:list")).status_code == 302  # the other session ended
    entry = AuditEvent.objects.get(action="auth.password_change")
    assert entry.outcome == "ok" and entry.username == "viewer"
    assert NEW not in str(entry.sent) + entry.message and PASSWORD not in str(entry.sent)


def test_a_wrong_old_password_or_a_weak_new_one_is_refused_and_recorded(as_viewer, viewer):
    wrong = change(as_viewer, old="not-it-at-all")
    assert wrong.status_code == 400
    assert "Your old password was entered incorrectly." in html.unescape(wrong.content.decode())
    weak = change(as_viewer, new="12345678")
    assert weak.status_code == 400 and "This password is too common." in weak.content.decode()
    assert User.objects.get(pk=viewer.pk).check_password(PASSWORD)
    refused = AuditEvent.objects.filter(action="auth.password_change", outcome="refused")
    assert refused.count() == 2
    assert "12345678" not in str(list(AuditEvent.objects.values()))


def test_an_admin_requires_a_change_and_the_user_is_sent_to_it_until_done(
    as_admin, users, emulator
):
    viewer = users["viewer"]
    response = as_admin.post(
        reverse("team:user_require_password", args=[viewer.pk]), {"required": "yes"}
    )
    assert response.status_code == 302
    assert Profile.objects.get(user=viewer).must_change_password
    entry = AuditEvent.objects.get(action="user.require_password_change")
    assert entry.outcome == "ok" and entry.sent == {"username": "viewer", "required": True}
    listing = as_admin.get(reverse("team:users")).content.decode()
    assert "Must change password" in listing

    client = Client()
    signed_in = client.post(reverse("login"), {"username": "viewer", "password": PASSWORD})
    page = client.get(signed_in["Location"])
    assert page.status_code == 302 and page["Location"] == f"{URL}?next=/devices/"
    form = client.get(page["Location"])
    assert "An admin asked you to choose a new password" in form.content.decode()
    assert client.get(reverse("team:my_activity"))["Location"].startswith(URL)
    partial = client.get(reverse("devices:list"), HTTP_HX_REQUEST="true")
    assert partial["HX-Redirect"] == URL
    done = change(client, next="/devices/")
    assert done.status_code == 302 and done["Location"] == "/devices/"
    assert not Profile.objects.get(user=viewer).must_change_password
    assert client.get("/devices/").status_code == 200


def test_a_post_while_a_change_is_required_is_not_made_and_is_recorded(users, emulator):
    from portal import services

    services.require_password_change(users["operator"], True)
    client = Client()
    client.force_login(users["operator"])
    emulator.clear_log()
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    response = client.post(reverse("devices:reboot", args=[uid]), {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == URL
    assert emulator.request_log == []
    entry = AuditEvent.objects.get(action="auth.password_change_required")
    assert entry.outcome == "refused"


def test_signing_out_still_works_while_a_change_is_required(users):
    from portal import services

    services.require_password_change(users["operator"], True)
    client = Client()
    client.force_login(users["operator"])
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def test_an_admin_can_stop_requiring_the_change(as_admin, users):
    from portal import services

    services.require_password_change(users["viewer"], True)
    as_admin.post(reverse("team:user_require_password", args=[users["viewer"].pk]), {})
    assert not Profile.objects.get(user=users["viewer"]).must_change_password
