"""The token vault pages: list, add, replace, relabel, re-verify, delete; nothing shows a value."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from portal import services
from portal.models import ApiToken, AuditEvent

REJECTED_VALUE = "revoked-value-9z9z"


def last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).first()


def test_the_list_shows_label_hint_who_when_status_and_users(as_admin, token_a, users):
    body = as_admin.get(reverse("team:tokens")).content.decode()
    assert "Team A" in body and f"…{TOKEN_A[-4:]}" in body
    assert "Not verified" in body  # the fixture stored it without a check
    for name in ("viewer", "operator", "maintainer", "admin", "nobody"):
        assert name in body
    assert TOKEN_A not in body


def test_adding_a_token_verifies_it_with_one_device_list_read(as_admin, users, emulator):
    emulator.clear_log()
    response = as_admin.post(reverse("team:token_add"), {"label": "Bravo", "value": TOKEN_B})
    token = ApiToken.objects.get(label="Bravo")
    assert response.status_code == 302 and response["Location"] == reverse(
        "team:token_detail", args=[token.pk]
    )
    assert [(e["method"], e["path"]) for e in emulator.request_log] == [("GET", "/v1/user/devices")]
    assert token.verified_ok is True and token.last_verified_at and token.last_error == ""
    assert token.created_by == users["admin"] and token.hint == TOKEN_B[-4:]
    entry = last("token.add")
    assert entry.outcome == "ok" and entry.sent["label"] == "Bravo"
    assert entry.sent["verified"] == "ok" and TOKEN_B not in str(entry.sent)
    page = as_admin.get(response["Location"]).content.decode()
    assert "the device service accepted it" in page and TOKEN_B not in page


def test_a_token_the_upstream_rejects_is_saved_and_flagged(as_admin, users, emulator):
    as_admin.post(reverse("team:token_add"), {"label": "Old", "value": REJECTED_VALUE})
    token = ApiToken.objects.get(label="Old")
    assert token.verified_ok is False
    assert "rejected by the device service" in token.last_error.lower()
    assert last("token.add").sent["verified"] == "rejected"
    body = as_admin.get(reverse("team:tokens")).content.decode()
    assert "Rejected" in body and REJECTED_VALUE not in body


def test_a_token_checked_while_the_upstream_is_down_is_saved_as_not_checked(
    as_admin, users, emulator
):
    emulator.set_fault("500")
    as_admin.post(reverse("team:token_add"), {"label": "Unsure", "value": TOKEN_B})
    token = ApiToken.objects.get(label="Unsure")
    assert token.verified_ok is None and token.last_error == "The device service failed (HTTP 500)."
    assert "Not checked" in as_admin.get(reverse("team:tokens")).content.decode()


def test_a_refused_form_keeps_the_label_but_never_sends_the_value_back(as_admin, token_a):
    response = as_admin.post(reverse("team:token_add"), {"label": "Team A", "value": TOKEN_B})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Another token already has this label." in body
    assert 'value="Team A"' in body
    assert TOKEN_B not in body
    assert 'type="password"' in body
    entry = last("token.add")
    assert (
        entry.outcome == "refused" and "label" in entry.message and TOKEN_B not in str(entry.sent)
    )


def test_an_empty_value_is_refused_with_a_message(as_admin, users):
    response = as_admin.post(reverse("team:token_add"), {"label": "Empty", "value": "   "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.filter(label="Empty").exists()


def test_replacing_the_value_keeps_the_users_and_verifies_again(as_admin, token_a, emulator):
    url = reverse("team:token_replace", args=[token_a.pk])
    as_admin.post(url, {"value": REJECTED_VALUE})
    token_a.refresh_from_db()
    assert token_a.value() == REJECTED_VALUE and token_a.verified_ok is False
    assert token_a.hint == REJECTED_VALUE[-4:]
    assert token_a.profiles.count() == 5
    as_admin.post(url, {"value": TOKEN_A})
    token_a.refresh_from_db()
    assert token_a.verified_ok is True
    assert [e.sent["verified"] for e in AuditEvent.objects.filter(action="token.replace")] == [
        "ok",
        "rejected",
    ]


def test_relabelling_refuses_a_taken_label_and_keeps_what_was_typed(as_admin, token_a, token_b):
    url = reverse("team:token_relabel", args=[token_a.pk])
    response = as_admin.post(url, {"label": "Team B"})
    assert response.status_code == 400
    assert "Another token already has this label." in response.content.decode()
    response = as_admin.post(url, {"label": "Greenhouse team"})
    token_a.refresh_from_db()
    assert response.status_code == 302 and token_a.label == "Greenhouse team"
    assert last("token.relabel").sent == {"from": "Team A", "to": "Greenhouse team"}


def test_reverifying_records_the_result(as_admin, token_a, emulator):
    emulator.set_fault("500")
    as_admin.post(reverse("team:token_verify", args=[token_a.pk]))
    token_a.refresh_from_db()
    assert token_a.verified_ok is None and "HTTP 500" in token_a.last_error
    emulator.clear_faults()
    response = as_admin.post(reverse("team:token_verify", args=[token_a.pk]), follow=True)
    token_a.refresh_from_db()
    assert token_a.verified_ok is True and token_a.last_error == ""
    assert "The device service accepts “Team A”." in response.content.decode()
    assert AuditEvent.objects.filter(action="token.verify").count() == 2


def test_a_token_in_use_cannot_be_deleted(as_admin, token_a):
    response = as_admin.post(
        reverse("team:token_delete", args=[token_a.pk]), {"confirmed": "yes"}, follow=True
    )
    assert ApiToken.objects.filter(pk=token_a.pk).exists()
    assert "still assigned to users" in response.content.decode()
    assert last("token.delete").outcome == "refused"
    page = as_admin.get(reverse("team:token_detail", args=[token_a.pk])).content.decode()
    assert "cannot be deleted while 5 users are assigned" in page


def test_deleting_asks_first_without_javascript(as_admin, users, token_b):
    url = reverse("team:token_delete", args=[token_b.pk])
    response = as_admin.post(url)
    body = response.content.decode()
    assert response.status_code == 200 and "Please confirm" in body
    assert 'name="confirmed" value="yes"' in body
    assert ApiToken.objects.filter(pk=token_b.pk).exists()
    response = as_admin.post(url, {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == reverse("team:tokens")
    assert not ApiToken.objects.filter(pk=token_b.pk).exists()
    assert last("token.delete").sent == {"label": "Team B", "hint": TOKEN_B[-4:]}


def test_deleting_through_htmx_redirects_the_page(as_admin, users, token_b):
    response = as_admin.post(
        reverse("team:token_delete", args=[token_b.pk]),
        {"confirmed": "yes"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("team:tokens")


def test_an_htmx_delete_of_a_token_in_use_sends_the_page_back_to_it_saying_why(as_admin, token_a):
    # The page offered Delete before someone assigned the token: the answer is a whole page.
    response = as_admin.post(
        reverse("team:token_delete", args=[token_a.pk]),
        {"confirmed": "yes"},
        headers={"HX-Request": "true"},
    )
    assert response["HX-Redirect"] == reverse("team:token_detail", args=[token_a.pk])
    assert ApiToken.objects.filter(pk=token_a.pk).exists()
    page = as_admin.get(response["HX-Redirect"]).content.decode()
    assert "still assigned to users" in page


def test_the_detail_page_offers_the_delete_dialog_only_when_unused(as_admin, users, token_b):
    body = as_admin.get(reverse("team:token_detail", args=[token_b.pk])).content.decode()
    assert 'hx-confirm="Delete the token “Team B”? This cannot be undone."' in body
    assert "data-confirm-danger" in body
    assert TOKEN_B not in body


def test_django_admin_does_not_offer_the_vault(client, token_a):
    """Tokens are managed on the portal's own pages; Django's admin never lists a ciphertext."""
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="x-long-password-1"))
    assert not admin.site.is_registered(ApiToken)
    assert client.get("/django-admin/portal/apitoken/").status_code == 404
    index = client.get("/django-admin/").content.decode()
    assert "Api tokens" not in index and token_a.ciphertext not in index


def test_replacing_a_value_forgets_the_reads_cached_under_the_old_one(
    client, token_a, users, emulator, settings
):
    settings.PORTAL_READ_CACHE_SECONDS = 60
    client.force_login(users["viewer"])
    client.get(reverse("devices:list"))
    services.replace_token_value(token_a, REJECTED_VALUE)
    body = client.get(reverse("devices:list")).content.decode()
    assert "Your API token was rejected" in body
