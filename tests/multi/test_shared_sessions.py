"""A sign-in on one instance holds on every instance: sessions live in the shared database."""

from __future__ import annotations

import pytest
import requests

from tests.multi.deployment import PASSWORD, csrf_from, is_signed_in, post_login

pytestmark = pytest.mark.multi


def test_a_session_signed_in_on_one_instance_is_valid_on_the_other(deployment):
    first, other = deployment.instance(0), deployment.instance(1)
    session = requests.Session()
    response = post_login(session, first, "alice", PASSWORD)
    assert response.status_code == 302
    page = session.get(f"{other}/devices/", allow_redirects=False, timeout=15)
    assert page.status_code == 200
    assert "alice" in page.text
    assert "Kitchen Relay" in page.text


def test_a_form_from_one_instance_posts_to_the_other(deployment):
    session = requests.Session()
    csrf = csrf_from(session, deployment.instance(0))
    response = post_login(session, deployment.instance(1), "dave", PASSWORD, csrf=csrf)
    assert response.status_code == 302
    assert is_signed_in(session, deployment.instance(0))


def test_signing_out_on_one_instance_ends_the_session_on_the_other(deployment):
    first, other = deployment.instance(0), deployment.instance(1)
    session = requests.Session()
    post_login(session, first, "alice", PASSWORD)
    assert is_signed_in(session, other)
    session.post(
        f"{other}/logout/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{other}/devices/"},
        timeout=15,
    )
    assert not is_signed_in(session, first)
