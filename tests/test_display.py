"""Any JSON value the upstream sends, as a person reads it: never a repr, `None` or `null`."""

from __future__ import annotations

import json

import pytest
from django.template import Context, Template

from portal.display import dash, text
from portal.iot import Named

BOARD = {"id": 6, "name": "ESP-07S", "key": "esp07s"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        ("WROOM-32E", "WROOM-32E"),
        ("Küche ☕", "Küche ☕"),
        (True, "Yes"),
        (False, "No"),
        (0, "0"),
        (-72, "-72"),
        (10**30, str(10**30)),
        (1.5, "1.5"),
        (float("nan"), ""),
        (float("inf"), ""),
        (BOARD, "ESP-07S"),
        ({"id": 1, "key": "4mb"}, "4mb"),  # no name: its key
        ({"id": 1, "name": None, "key": "4mb"}, "4mb"),
        ({"id": 1, "name": "", "key": "4mb"}, "4mb"),
        ({"name": 42}, "42"),
        ({"name": True}, "Yes"),
        ({"id": 7}, "id: 7"),
        ({"flash": "4MB", "psram": False}, "flash: 4MB, psram: No"),
        ({"a": None}, "a: —"),
        ({"a": {"b": 1, "c": 2}}, "a: (b: 1, c: 2)"),
        ({"a": {"name": "Named"}}, "a: Named"),
        ({"name": {"name": "inner"}}, "name: inner"),  # an object is not a name
        ({}, ""),
        ([], ""),
        (["a", "b"], "a, b"),
        ([1, None, "", True], "1, Yes"),
        ([BOARD, {"key": "x"}], "ESP-07S, x"),
        ([[1, 2], [3]], "1, 2, 3"),
        (Named(key="esp32dev", name="ESP32 DevKit"), "ESP32 DevKit"),
        (Named(key="esp32dev"), "esp32dev"),
        (Named(), ""),
        ("\ud800lone", "\ufffdlone"),  # a lone surrogate cannot reach the page
    ],
)
def test_text_reads_any_json_value(value, expected):
    assert text(value) == expected


def test_a_deeply_nested_value_ends_in_an_ellipsis_not_a_recursion_error():
    deep: object = "bottom"
    for _ in range(5000):
        deep = [deep]
    assert text(deep) == "…"
    nested: object = 1
    for _ in range(5000):
        nested = {"k": nested}
    assert text(nested).startswith("k: ") and "…" in text(nested)


@pytest.mark.parametrize(
    "value",
    [None, True, 3, 2.5, "s", BOARD, {"id": 1}, [None], [BOARD, None], {"x": [None, {}]}],
)
def test_no_value_reads_as_a_repr_none_or_null(value):
    shown = dash(value)
    for word in ("None", "null", "{'", "['", "True", "False"):
        assert word not in shown
    assert shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "—"), ("", "—"), (BOARD, "ESP-07S"), ([1, 2], "1, 2"), (False, "No")],
)
def test_the_template_filter_is_the_same_rule_with_a_dash_for_nothing(value, expected):
    template = Template("{% load portal_tags %}{{ value|shown }}|{{ value|shown:'n/a' }}")
    fallback = expected if expected != "—" else "n/a"
    assert template.render(Context({"value": value})) == f"{expected}|{fallback}"


def test_the_template_filter_reads_a_missing_field_as_a_dash():
    template = Template("{% load portal_tags %}{{ device.board_variant|shown }}")
    assert template.render(Context({"device": {}})) == "—"


def test_it_reads_what_json_decodes_from_an_odd_answer():
    body = json.loads('{"v": [{"name": "A"}, {"key": "b"}, {"id": 3}, null, 1e2, "x"]}')
    assert text(body["v"]) == "A, b, id: 3, 100.0, x"
