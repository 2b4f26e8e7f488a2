"""The secrecy scan: after the main flows, no token plaintext is anywhere it could leak.

The flows: an admin signs in, adds tokens (accepted, rejected, a refused form), relabels,
re-verifies (also while the upstream fails), replaces a value, creates a user on a token and
changes them; that user signs in, reads the fleet and a firmware panel, enters their own token;
the admin reads and exports the audit log and deletes a token. Then every response body, every
log record, every audit row, every column of every database table, every session and every
cache key is searched for each plaintext.
"""

from __future__ import annotations

import logging

from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from portal.models import ApiToken, AuditEvent
from tests.conftest import PASSWORD

REJECTED = "scan-rejected-token-5678"
SECRETS = (TOKEN_A, TOKEN_B, REJECTED)
NEW_PASSWORD = "scan-user-long-password-1"


class Recorder:
    """A test client wrapper that keeps every response body."""

    def __init__(self, client) -> None:
        self.client, self.bodies = client, []

    def _keep(self, response):
        content = b"".join(response.streaming_content) if response.streaming else response.content
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        self.bodies.append(f"{headers}\n{response.cookies.output()}\n{content.decode()}")
        return response

    def get(self, name: str, *args, **params):
        return self._keep(self.client.get(reverse(name, args=args), params))

    def post(self, name: str, *args, **data):
        return self._keep(self.client.post(reverse(name, args=args), data))


def run_the_main_flows(client, users, emulator, settings) -> list[str]:
    settings.PORTAL_ALLOW_SELF_TOKEN = True
    settings.PORTAL_READ_CACHE_SECONDS = 5  # exercise the read cache: its keys are scanned
    web = Recorder(client)
    web.post("login", username="admin", password=PASSWORD)
    web.get("team:tokens")
    web.post("team:token_add", label="Scan B", value=TOKEN_B)
    web.post("team:token_add", label="Scan B", value=TOKEN_B)  # refused: label taken
    web.post("team:token_add", label="Scan rejected", value=REJECTED)
    scan_b = ApiToken.objects.get(label="Scan B")
    rejected = ApiToken.objects.get(label="Scan rejected")
    web.get("team:tokens")
    web.get("team:token_detail", scan_b.pk)
    web.get("team:token_detail", rejected.pk)
    web.post("team:token_relabel", scan_b.pk, label="Scan Bravo")
    web.post("team:token_verify", scan_b.pk)
    emulator.set_fault("500")
    web.post("team:token_verify", scan_b.pk)
    web.post("team:token_replace", scan_b.pk, value=TOKEN_B)
    emulator.clear_faults()
    web.post("team:token_replace", scan_b.pk, value=TOKEN_B)
    web.post(
        "team:user_add",
        username="scanner",
        role="operator",
        token=scan_b.pk,
        password1=NEW_PASSWORD,
        password2=NEW_PASSWORD,
    )
    scanner = users["viewer"].__class__.objects.get(username="scanner")
    web.get("team:users")
    web.get("team:user_detail", scanner.pk)
    web.post("team:user_access", scanner.pk, role="maintainer", token=scan_b.pk)
    web.get("team:token_detail", scan_b.pk)
    web.post("logout")

    web.post("login", username="scanner", password=NEW_PASSWORD)
    web.get("devices:list")
    web.get("devices:list")  # from the cache
    web.get("firmware:panel", emulator.device_uid(TOKEN_B, "Greenhouse Sensor"))
    web.get("team:my_token")
    web.post("team:my_token", value=TOKEN_A)
    web.post("team:my_token", value="")
    web.get("devices:list")
    web.get("team:my_activity")
    emulator.set_fault("500")
    web.get("devices:list")
    emulator.clear_faults()
    web.post("logout")

    web.post("login", username="admin", password=PASSWORD)
    web.get("team:audit")
    web.get("team:audit", action="token.add")
    web.get("team:audit_export")
    web.post("team:token_delete", rejected.pk, confirmed="yes")
    web.get("team:tokens")
    return web.bodies


def every_database_value() -> list[str]:
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            values.extend(
                str(v.tobytes() if isinstance(v, memoryview) else v)
                for row in cursor.fetchall()
                for v in row
            )
    return values


def test_no_token_plaintext_is_in_any_page_log_audit_row_table_session_or_cache_key(
    client, users, emulator, settings, log_lines
):
    logging.getLogger("portal").setLevel(logging.DEBUG)
    bodies = run_the_main_flows(client, users, emulator, settings)

    # The flows really happened (so the scan below means something).
    assert ApiToken.objects.get(label="Scan Bravo").verified_ok is True
    assert ApiToken.objects.get(label="scanner (own token)").value() == TOKEN_A
    assert not ApiToken.objects.filter(label="Scan rejected").exists()
    assert AuditEvent.objects.filter(action="token.add").count() == 3
    assert any("Greenhouse Sensor" in body for body in bodies)
    assert any("upstream GET devices.list" in line for line in log_lines)
    assert len(bodies) > 30

    audit_rows = [str(row) for row in AuditEvent.objects.values()]
    tables = every_database_value()
    sessions = [str(s.get_decoded()) for s in Session.objects.all()]
    cache_keys = list(getattr(cache, "_cache", {}).keys())
    assert cache_keys, "the read cache was used"
    assert len(tables) > 100 and sessions

    for secret in SECRETS:
        for where, texts in (
            ("response", bodies),
            ("log line", log_lines),
            ("audit row", audit_rows),
            ("database column", tables),
            ("session", sessions),
            ("cache key", cache_keys),
        ):
            leaks = [text[:200] for text in texts if secret in text]
            assert leaks == [], f"a token's plaintext is in a {where}"
    # The stored tokens are still there, readable only through the vault's keys.
    assert {t.value() for t in ApiToken.objects.all()} == {TOKEN_A, TOKEN_B}
