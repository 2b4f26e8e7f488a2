"""Custom command payloads: parsing with line numbers, size, and built-in look-alikes."""

from __future__ import annotations

import re

import pytest

from portal.payloads import MAX_PAYLOAD_BYTES, PayloadError, looks_builtin, parse


def test_it_accepts_a_json_object():
    assert parse('{"relay": "on", "level": 3}') == {"relay": "on", "level": 3}


def test_it_names_the_line_of_a_parse_error():
    with pytest.raises(PayloadError) as caught:
        parse('{\n  "relay": "on"\n  "level": 3\n}')
    assert caught.value.line == 3
    assert caught.value.message == (
        'Line 3, column 3: A comma (,) or the closing "}" is expected after the value.'
    )


@pytest.mark.parametrize("text", ["[1, 2]", '"reboot"', "42", "null"])
def test_it_refuses_anything_but_an_object(text):
    with pytest.raises(PayloadError, match="must be a JSON object"):
        parse(text)


def test_it_refuses_an_empty_payload_with_an_example():
    with pytest.raises(PayloadError, match="Type a JSON object"):
        parse("   ")


def test_it_accepts_8_kb_and_refuses_one_byte_more():
    filler = "x" * (MAX_PAYLOAD_BYTES - len('{"a": ""}'))
    assert parse(f'{{"a": "{filler}"}}')
    with pytest.raises(PayloadError, match="at most 8 KB"):
        parse(f'{{"a": "{filler}x"}}')


def test_it_counts_bytes_not_characters():
    with pytest.raises(PayloadError, match="at most 8 KB"):
        parse('{"a": "' + "é" * 4100 + '"}')


@pytest.mark.parametrize(
    ("payload", "builtin"),
    [
        ({"cmd": "reboot"}, "reboot"),
        ({"restart": True}, "reboot"),
        ({"action": "wifi_reset"}, "wifi_reset"),
        ({"wifiReset": 1}, "wifi_reset"),
        ({"command": "reset", "target": "Wi-Fi"}, "wifi_reset"),
        ({"ota": "start"}, "ota"),
        ({"do": ["update", "firmware"]}, "ota"),
        ({"relay": "on"}, None),
        ({"rebooted_count": 0}, None),
        ({"total": "quota"}, None),
    ],
)
def test_it_spots_payloads_that_look_like_built_in_actions(payload, builtin):
    assert looks_builtin(payload) == builtin


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1,\n "b": NaN}', "Line 2, column 7: NaN is not a number JSON allows"),
        ('{"s": "NaN", "b": -Infinity}', "Line 1, column 19: -Infinity is not a number"),
        ('{"a": 1e999}', "Line 1, column 7: 1e999 is too large a number to send."),
        ('{"a": -' + "1" * 4301 + "}", "Line 1, column 7: -1111111111111111111… is too large"),
        ('{"a": ' + "[" * 33 + "]" * 33 + "}", "nested more than 32 levels deep"),
        ('{"a": "\\u0000"}', "contains a NUL character"),
        ('{"\\udfff": 1}', "contains a lone surrogate"),
    ],
)
def test_it_refuses_what_cannot_be_sent_faithfully_and_says_where(text, message):
    with pytest.raises(PayloadError) as caught:
        parse(text)
    assert message in caught.value.message


def test_it_accepts_the_largest_64_bit_integers():
    assert parse('{"a": 9223372036854775807, "b": -9223372036854775807}')["a"] == 2**63 - 1


# One of each kind of mistake, and where it is (line, column).
EVERY_KIND = [
    ('{"a": 1,}', 1, 8, 'There is a comma too many before the closing "}".'),
    ('{"a": [1,]}', 1, 9, 'There is a comma too many before the closing "]".'),
    ('{"a": }', 1, 7, "A value is expected here"),
    ('{"a": ', 1, 7, "The JSON ends where a value should be."),
    ('{"a": 1', 1, 8, 'The JSON ends before the closing "}" of an object.'),
    ('{"a": [1', 1, 9, 'The JSON ends before the closing "]" of a list.'),
    ('{"a": tru}', 1, 7, "The word tru is not a JSON value"),
    ("{'a': 1}", 1, 2, "Text must be in double quotes"),
    ("{a: 1}", 1, 2, 'A key must be in double quotes, like "a".'),
    ('{"a":1,,}', 1, 8, "A key in double quotes is expected here"),
    ('{"a" 1}', 1, 6, "A colon (:) is expected after the key."),
    ('{"a": 1 "b": 2}', 1, 9, 'A comma (,) or the closing "}" is expected after the value.'),
    ('{"a": [1 2]}', 1, 10, 'A comma (,) or the closing "]" is expected after the item.'),
    ('{"a": 1}\n x', 2, 2, "There is more text after the end of the JSON"),
    ('{"a": "x', 1, 7, 'This text has no closing double quote (").'),
    ('{"a": "x\ty"}', 1, 9, "A line break or a tab inside text must be written as \\n or \\t."),
    ('{"a": "\\q"}', 1, 8, "A backslash in text must start an escape"),
    ('{"a": "\\u12"}', 1, 8, "A \\u escape needs four hexadecimal digits"),
    ('{"a": 01}', 1, 7, "This number is not written as JSON allows"),
    ('{"a": NaN}', 1, 7, "NaN is not a number JSON allows"),
]


@pytest.mark.parametrize(("text", "line", "column", "sentence"), EVERY_KIND)
def test_every_kind_of_mistake_says_what_and_where_in_a_sentence_of_our_own(
    text, line, column, sentence
):
    with pytest.raises(PayloadError) as caught:
        parse(text)
    message = caught.value.message
    assert message.startswith(f"Line {line}, column {column}: {sentence}")
    assert caught.value.line == line
    assert re.fullmatch(r"Line \d+, column \d+: [A-Z].*\.", message, re.DOTALL)
    # Never the parser's own words.
    for words in ("Expecting", "delimiter", "Extra data", "starting at", "Invalid", "Illegal"):
        assert words not in message
