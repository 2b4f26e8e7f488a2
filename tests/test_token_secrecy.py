"""The token's plaintext appears in no page and no log line, whatever happens upstream."""

from __future__ import annotations

import logging

from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.models import ApiToken


def test_the_token_is_in_no_page_and_no_log_line(as_viewer, emulator, log_lines):
    logging.getLogger("portal.iot").setLevel(logging.DEBUG)
    bodies = [as_viewer.get(reverse("devices:list")).content.decode()]
    for fault in ("500", "malformed", "429", "drop", "html"):
        emulator.set_fault(fault)
        bodies.append(as_viewer.get(reverse("devices:list")).content.decode())
        emulator.clear_faults()
    assert log_lines, "the upstream calls were logged"
    assert any("devices.list" in line for line in log_lines)
    for text in [*bodies, *log_lines]:
        assert TOKEN_A not in text


def test_the_token_is_stored_encrypted_and_shown_only_as_a_hint(token_a):
    stored = ApiToken.objects.values().get(pk=token_a.pk)
    assert TOKEN_A not in str(stored)
    assert stored["hint"] == TOKEN_A[-4:]
    assert token_a.value() == TOKEN_A
    assert TOKEN_A not in repr(token_a) and TOKEN_A not in str(token_a)
