"""Custom command payloads: parsing with line numbers, size, and built-in look-alikes."""

from __future__ import annotations

import pytest

from devices.payloads import MAX_PAYLOAD_BYTES, PayloadError, looks_builtin, parse


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
