"""Upstream answers of every broken shape, as exact bytes for the emulator's `raw` fault.

Three families:

- `generic()`: any endpoint's answer broken as a whole: every status family, bodies that are
  not JSON or not objects, invalid UTF-8, lone surrogate escapes, deep nesting, huge numbers,
  redirects to other hosts, 4xx with odd `message`/`errors`, 429 with odd Retry-After, 5xx,
  and Content-Encoding or Content-Length that lie.
- `next_links()`: a list page whose `next` link goes to another host, loops on itself, is
  relative, or points at another path of the same host.
- `mutations(item)`: a good item (device, button, firmware) with one field replaced by a value
  of another JSON type, missing, or null, chosen from a fixed seed.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from typing import Any

from tests.hostile.corpus import KB, MB, SEED

JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}

# A JSON value that json.dumps cannot write: inserted as raw text.
_RAW = "\x00raw:"


def raw(text: str) -> str:
    return _RAW + text


def dumps(value: Any) -> bytes:
    """JSON with raw(...) strings spliced in verbatim (NaN, 5,000 digits, \\ud800 escapes)."""
    spliced: list[str] = []

    def mark(v: Any) -> Any:
        if isinstance(v, str) and v.startswith(_RAW):
            spliced.append(v[len(_RAW) :])
            return f"@@RAW{len(spliced) - 1}@@"
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        return v

    text = json.dumps(mark(value))
    for n, piece in enumerate(spliced):
        text = text.replace(f'"@@RAW{n}@@"', piece)
    return text.encode()


def _deep(levels: int) -> bytes:
    return b'{"data": ' + b"[" * levels + b"]" * levels + b"}"


MISSING = object()

# Values a field may arrive as, whatever its type should be.
WRONG: list[tuple[str, Any]] = [
    ("missing", MISSING),
    ("null", None),
    ("true", True),
    ("zero", 0),
    ("negative", -1),
    ("float", 1.5),
    ("1e308", 1e308),
    ("1e999", raw("1e999")),
    ("NaN", raw("NaN")),
    ("-Infinity", raw("-Infinity")),
    ("5,000-digit integer", raw("9" * 5000)),
    ("empty string", ""),
    ("text", "Something else"),
    ("HTML", "<script>alert(1)</script><img src=x onerror=alert(1)>"),
    ("template", "{{ request }}{% debug %}"),
    ("lone surrogate escape", raw('"a\\ud800b"')),
    ("NUL escape", raw('"a\\u0000b"')),
    ("bidi and zero-width", "\u202eevil\u200b"),
    ("10 KB string", "s" * (10 * KB)),
    ("bad date", "9999-99-99T99:99:99Z"),
    ("date with odd offset", "2026-01-01T00:00:00+25:00"),
    ("empty list", []),
    ("list of mixed", [1, "a", None, {"name": "x"}]),
    ("empty object", {}),
    ("named object", {"id": 1, "name": "4MB", "key": "4m"}),
    ("object without name", {"id": 7, "key": ["k"], "name": None}),
    ("object of objects", {"name": {"name": {"name": "deep"}}, "key": {"k": 1}}),
    ("nested 50 levels", json.loads("[" * 50 + "]" * 50)),
]
ALWAYS = {"missing", "null", "named object", "lone surrogate escape"}


def mutations(item: dict[str, Any], per_field: int, seed: int = SEED) -> list[tuple[str, dict]]:
    """(label, item) pairs: each field replaced by `per_field` WRONG values (a fixed sample)."""
    rng = random.Random(f"{seed}:{sorted(item)}")
    out = []
    others = [w for w in WRONG if w[0] not in ALWAYS]
    for name in item:
        picked = [w for w in WRONG if w[0] in ALWAYS] + rng.sample(others, per_field)
        for label, value in picked:
            changed = {k: v for k, v in item.items() if k != name}
            if value is not MISSING:
                changed[name] = value
            out.append((f"{name} {label}", changed))
    return out


def generic(kind: str) -> list[tuple[str, int, dict[str, str], bytes]]:
    """(label, status, headers, body) for any endpoint; `kind` is "list", "object" or "write"."""
    good = b'{"data": []}' if kind == "list" else b'{"data": {}, "message": "Done."}'
    gz = gzip.compress(good, mtime=0)
    out: list[tuple[str, int, dict[str, str], bytes]] = [
        ("200 empty body", 200, JSON, b""),
        ("200 empty, no Content-Type", 200, {}, b""),
        ("200 null", 200, JSON, b"null"),
        ("200 []", 200, JSON, b"[]"),
        ("200 a string", 200, JSON, b'"Done."'),
        ("200 a number", 200, JSON, b"42"),
        ("200 true", 200, JSON, b"true"),
        ("200 {}", 200, JSON, b"{}"),
        ("200 data null", 200, JSON, b'{"data": null}'),
        ("200 data string", 200, JSON, b'{"data": "x"}'),
        ("200 data number", 200, JSON, b'{"data": 1e999}'),
        ("200 data object of items", 200, JSON, b'{"data": {"0": {"uid": "a"}}}'),
        ("200 data list of junk", 200, JSON, b'{"data": [null, 1, "x", [], true]}'),
        ("200 HTML", 200, HTML, b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>"),
        ("200 HTML labelled JSON", 200, JSON, b"<html><body>Gateway</body></html>"),
        ("200 JSON labelled HTML", 200, HTML, good),
        ("200 truncated JSON", 200, JSON, good[:-3]),
        ("200 trailing garbage", 200, JSON, good + b"<!-- proxy -->"),
        ("200 invalid UTF-8", 200, JSON, b'{"data": "\xff\xfe\xc3", "message": "\xed\xa0\x80"}'),
        ("200 latin-1 declared", 200, {"Content-Type": "application/json; charset=latin-1"}, good),
        ("200 BOM", 200, JSON, b"\xef\xbb\xbf" + good),
        ("200 UTF-16", 200, JSON, good.decode().encode("utf-16")),
        ("200 NaN top level", 200, JSON, b"NaN"),
        ("200 lone surrogate escapes", 200, JSON, b'{"data": "\\ud800", "message": "\\udfff"}'),
        ("200 NUL escapes", 200, JSON, b'{"data": "\\u0000", "message": "a\\u0000b"}'),
        ("200 5,000-digit number", 200, JSON, b'{"data": ' + b"9" * 5000 + b"}"),
        ("200 deep nesting 10,000", 200, JSON, _deep(10000)),
        ("200 deep nesting 100,000", 200, JSON, _deep(100000)),
        ("200 duplicate keys", 200, JSON, b'{"data": [], "data": {}, "data": null}'),
        ("200 2 MB of whitespace", 200, JSON, b" " * (2 * MB) + good),
        ("200 message 100 KB", 200, JSON, b'{"message": "' + b"m" * (100 * KB) + b'"}'),
        ("200 message object", 200, JSON, b'{"message": {"text": "x"}, "data": {}}'),
        ("gzip, honest", 200, {**JSON, "Content-Encoding": "gzip"}, gz),
        ("gzip declared, plain body", 200, {**JSON, "Content-Encoding": "gzip"}, good),
        ("deflate declared, junk", 200, {**JSON, "Content-Encoding": "deflate"}, b"\x00junk"),
        ("br declared", 200, {**JSON, "Content-Encoding": "br"}, b"\x1b\x00junk"),
        ("unknown encoding", 200, {**JSON, "Content-Encoding": "x-evil, gzip"}, gz),
        (
            "gzip of 20 MB of spaces",
            200,
            {**JSON, "Content-Encoding": "gzip"},
            gzip.compress(b" " * (20 * MB), mtime=0),
        ),
        (
            "deflate twice",
            200,
            {**JSON, "Content-Encoding": "deflate, deflate"},
            zlib.compress(zlib.compress(good)),
        ),
        ("Content-Length short", 200, {**JSON, "Content-Length": "5"}, good),
        ("204 with body", 204, JSON, good),
        ("204 empty", 204, {}, b""),
        ("205", 205, {}, b""),
        ("206 partial", 206, {**JSON, "Content-Range": "bytes 0-4/99"}, good[:5]),
        ("299 unknown success", 299, JSON, good),
        ("304", 304, {}, b""),
    ]
    for status in (301, 302, 303, 307, 308):
        out.append(
            (f"{status} to another host", status, {"Location": "http://evil.example/steal"}, good)
        )
    out.append(("302 to itself", 302, {"Location": "/v1/user/devices"}, b""))
    out.append(("307 protocol-relative", 307, {"Location": "//evil.example/x"}, b""))
    out += rejections()
    for value in ("", "junk", "-1", "99999999999999999999", "1e3", "1.5", " 5 ", "9" * 5000):
        out.append(
            (
                f"429 Retry-After {value[:20]!r}",
                429,
                {**JSON, "Retry-After": value},
                b'{"message": "Too Many Attempts."}',
            )
        )
    out.append(("429 Retry-After date", 429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b""))
    out.append(("429 no Retry-After, HTML", 429, HTML, b"<h1>Slow down</h1>"))
    for status in (500, 501, 502, 503, 504, 507, 599):
        out.append((f"{status} JSON", status, JSON, b'{"message": "Server Error"}'))
    out += [
        ("500 HTML", 500, HTML, b"<h1>Whoops, looks like something went wrong.</h1>"),
        ("503 empty", 503, {}, b""),
        ("500 message 100 KB", 500, JSON, b'{"message": "' + b"e" * (100 * KB) + b'"}'),
        ("600 status", 600, JSON, good),
        ("999 status", 999, JSON, good),
    ]
    return out


def rejections() -> list[tuple[str, int, dict[str, str], bytes]]:
    """4xx answers with and without `message`, with `errors` of every odd shape."""
    bodies: list[tuple[str, bytes]] = [
        ("no body", b""),
        ("message", b'{"message": "Device is offline."}'),
        ("message number", b'{"message": 123}'),
        ("message null", b'{"message": null}'),
        ("message list", b'{"message": ["a", "b"]}'),
        ("message 100 KB", b'{"message": "' + b"r" * (100 * KB) + b'"}'),
        ("message HTML", b'{"message": "<script>alert(1)</script>{{ x }}"}'),
        ("message lone surrogate", b'{"message": "a\\ud800b"}'),
        ("message NUL", b'{"message": "a\\u0000b"}'),
        ("errors string", b'{"message": "Invalid.", "errors": "name is bad"}'),
        ("errors list", b'{"message": "Invalid.", "errors": ["name is bad"]}'),
        ("errors field string", b'{"message": "Invalid.", "errors": {"name": "too long"}}'),
        ("errors field junk", b'{"message": "Invalid.", "errors": {"name": [1, null, {}, []]}}'),
        ("errors NUL field", b'{"errors": {"\\u0000": ["x"], "\\ud800": ["\\ud800"]}}'),
        ("errors null", b'{"message": "Invalid.", "errors": null}'),
        ("errors nested lists", b'{"message": "m", "errors": {"payload": [["nested", ["x"]]]}}'),
        ("errors 10,000 fields", dumps({"errors": {f"f{i}": ["bad"] for i in range(10000)}})),
        ("errors deep", b'{"errors": {"name": ' + b"[" * 5000 + b"]" * 5000 + b"}}"),
        ("HTML", b"<html><body>Bad Request</body></html>"),
    ]
    out = []
    statuses = (400, 401, 403, 404, 405, 409, 410, 413, 418, 422, 451, 499)
    for n, (label, body) in enumerate(bodies):
        # Every body as a 422, and as two other 4xx codes in turn.
        for status in (422, statuses[n % len(statuses)], statuses[(n * 5 + 3) % len(statuses)]):
            headers = HTML if label == "HTML" else JSON
            out.append((f"{status} {label}", status, headers, body))
    return list({(s, label): (label, s, h, b) for label, s, h, b in out}.values())


def next_links(base_url: str, path: str) -> list[tuple[str, bytes]]:
    """(label, body) for a list at `path` whose `next` link misbehaves."""
    item = {"uid": "espressif32_NextLink0001", "name": "Paged"}
    links: list[tuple[str, Any]] = [
        ("another host", "http://evil.example/v1/user/devices?page=2"),
        ("protocol-relative", "//evil.example/v1/user/devices"),
        ("same host, other port", "http://127.0.0.1:1/v1/user/devices"),
        ("localhost for 127.0.0.1", base_url.replace("127.0.0.1", "localhost") + path),
        ("another path of the same host", "/v1/user/devices/espressif32_x/reboot"),
        ("the emulator's controls", "/_emulator/log"),
        ("dot-dot out of the API", f"{path}/../../../_emulator/faults"),
        ("encoded dot-dot", f"{path}/%2e%2e/%2e%2e/x"),
        ("absolute, itself", base_url + path),
        ("relative, itself", "?page=2"),
        ("javascript URL", "javascript:alert(1)"),
        ("file URL", "file:///etc/passwd"),
        ("empty", ""),
        ("a number", 2),
        ("an object", {"href": "http://evil.example/"}),
        ("a list", ["/v1/user/devices?page=2"]),
        ("CRLF in link", "/v1/user/devices?page=2\r\nX-Evil: 1"),
        ("with credentials", base_url.replace("http://", "http://user:pass@") + path),
    ]
    out = []
    for n, (label, link) in enumerate(links):
        if n % 2:
            body = {"data": [item], "links": {"next": link}}
        else:
            body = {"data": [item], "meta": {"next": link}}
        out.append((label, dumps(body)))
    return out
