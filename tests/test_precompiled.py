"""Precompiled queries: the ORM's SQL compiled once, run again with other values."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.precompiled import Precompiled
from tests.conftest import make_user

BY_ID = Precompiled(lambda pk: User.objects.filter(pk=pk).values_list("username", "date_joined"))


def test_it_gives_the_rows_the_orm_gives_for_each_value(db):
    alice, bob = make_user("alice", None), make_user("bob", None)
    for user in (alice, bob):
        expected = list(User.objects.filter(pk=user.pk).values_list("username", "date_joined"))
        assert BY_ID.rows(user.pk) == expected


def test_values_come_back_converted_as_the_orm_converts_them(db):
    user = make_user("carol", None)
    ((_, joined),) = BY_ID.rows(user.pk)
    assert joined == user.date_joined and joined.tzinfo is not None  # not SQLite's text


def test_a_value_no_row_has_gives_no_rows(db):
    assert BY_ID.rows(987_654) == []


def test_it_runs_one_query_and_compiles_once_per_thread(db):
    user = make_user("dave", None)
    BY_ID.rows(user.pk)
    compiled = BY_ID._compiled("default")
    with CaptureQueriesContext(connection) as queries:
        BY_ID.rows(user.pk)
    assert len(queries) == 1 and BY_ID._compiled("default") is compiled

    seen = []
    thread = threading.Thread(target=lambda: seen.append(BY_ID._compiled("default")))
    thread.start()
    thread.join()
    assert seen[0] is not compiled and seen[0].connection is not compiled.connection


def test_a_query_that_does_not_use_its_value_is_refused(db):
    loose = Precompiled(lambda pk: User.objects.filter(is_active=True).values_list("pk"))
    with pytest.raises(ValueError, match="must filter on the value"):
        loose.rows(1)


def test_a_string_placeholder_is_replaced_and_other_parameters_kept(db):
    make_user("erin", None)
    by_name = Precompiled(
        lambda name: User.objects.filter(username=name, is_active=True).values_list("username"),
        placeholder="\x00placeholder",
    )
    assert by_name.rows("erin") == [("erin",)]
    assert by_name.rows("nobody") == []
