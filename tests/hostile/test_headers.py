"""Hostile request headers: forged X-Forwarded-For and Host, htmx headers with junk, huge and
broken cookies, lying content types, on a page that reads, a write, and the sign-in page.
"""

from __future__ import annotations

import pytest

from tests.hostile.harness import Case

pytestmark = pytest.mark.multi

HEADERS: list[tuple[str, dict[str, str]]] = [
    ("forged X-Forwarded-For", {"X-Forwarded-For": "203.0.113.9"}),
    ("X-Forwarded-For chain", {"X-Forwarded-For": "203.0.113.9, 198.51.100.1, 127.0.0.1"}),
    ("X-Forwarded-For junk", {"X-Forwarded-For": "not-an-ip, ::ffff:999.1.1.1, <script>"}),
    ("X-Forwarded-For IPv6", {"X-Forwarded-For": "[2001:db8::1]:443"}),
    ("X-Forwarded-For 7 KB", {"X-Forwarded-For": ", ".join(["10.0.0.1"] * 700)}),
    ("X-Real-IP junk", {"X-Real-IP": "999.999.999.999", "Forwarded": 'for="[::1]";by=x'}),
    ("X-Forwarded-Proto https", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}),
    ("Host evil", {"Host": "evil.example"}),
    ("Host with port junk", {"Host": "127.0.0.1:99999"}),
    ("Host empty", {"Host": ""}),
    ("Host with userinfo", {"Host": "user@127.0.0.1"}),
    ("HX-Request junk", {"HX-Request": "\x7fjunk"}),
    ("HX-Target script", {"HX-Request": "true", "HX-Target": "<script>alert(1)</script>"}),
    ("HX-Target 4 KB", {"HX-Request": "true", "HX-Target": "t" * 4096}),
    ("HX-Current-URL javascript", {"HX-Request": "true", "HX-Current-URL": "javascript:alert(1)"}),
    ("HX-Trigger junk", {"HX-Request": "true", "HX-Trigger": "%00", "HX-Trigger-Name": "{{x}}"}),
    ("HX-Boosted and History", {"HX-Boosted": "true", "HX-History-Restore-Request": "true"}),
    ("HX-Prompt UTF-8 bytes", {"HX-Request": "true", "HX-Prompt": "Ã©\u00ff"}),
    ("Referer javascript", {"Referer": "javascript:alert(1)"}),
    ("Referer other host", {"Referer": "http://evil.example/steal"}),
    ("Origin other host", {"Origin": "http://evil.example"}),
    ("Origin null", {"Origin": "null"}),
    ("Accept JSON only", {"Accept": "application/json"}),
    ("Accept junk", {"Accept": "*/*;q=junk, text/html;level=\x01"}),
    ("Accept-Language junk", {"Accept-Language": "xx-YY;q=2, ../../etc, *;q=-1"}),
    ("Accept-Language 4 KB", {"Accept-Language": "de-DE," * 600}),
    ("User-Agent 7 KB", {"User-Agent": "A" * 7000}),
    ("Range junk", {"Range": "bytes=9-1,-0"}),
    ("If-Modified-Since junk", {"If-Modified-Since": "yesterday", "If-None-Match": '"*"'}),
    ("X-Request-ID junk", {"X-Request-ID": "\x1b[31m" + "r" * 500}),
    ("X-HTTP-Method-Override", {"X-HTTP-Method-Override": "DELETE", "X-Method-Override": "PUT"}),
    ("Content-Type charset junk", {"Content-Type": "application/x-www-form-urlencoded; charset=x"}),
    ("Content-Type UTF-16", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-16"}),
    ("Content-Type multipart no boundary", {"Content-Type": "multipart/form-data"}),
    ("Content-Type JSON", {"Content-Type": "application/json"}),
]

COOKIES: list[tuple[str, str]] = [
    ("cookie 7 KB", "junk=" + "c" * 7000),
    ("cookie junk session", "sessionid=../../etc/passwd%00"),
    ("cookie junk CSRF", "csrftoken=%00%ff<script>"),
    ("cookie many", "; ".join(f"c{i}=v" for i in range(300))),
    ("cookie bad syntax", 'a="unterminated; b=;;; =c; sessionid'),
    ("cookie duplicate session", "sessionid=00000000000000000000000000000000"),
    ("cookie messages junk", "messages=W1siX19qc29uX21lc3NhZ2UiXV0:junk"),
]


def _targets(uid: str) -> list[tuple[str, str, dict[str, str] | None]]:
    return [
        ("GET", "/devices/?q=a", None),
        ("GET", f"/devices/{uid}/", None),
        ("POST", f"/devices/{uid}/reboot/", {"confirmed": "yes"}),
        ("POST", f"/devices/{uid}/rename/", {"name": "Greenhouse Sensor"}),
        ("POST", "/login/", {"username": "hostile-nobody", "password": "wrong"}),
        ("GET", "/audit/export.csv", None),
    ]


def test_hostile_headers_and_cookies(batch, uid):
    cases = []
    for method, path, form in _targets(uid):
        role = "anonymous" if path == "/login/" else "admin"
        for label, headers in HEADERS:
            cases.append(Case("header", label, method, path, role=role, form=form, headers=headers))
        for label, cookie in COOKIES:
            cases.append(
                Case(
                    "cookie",
                    label,
                    method,
                    path,
                    role=role,
                    form=form,
                    cookie=cookie,
                    may_sign_out="session" in label,
                )
            )
        cases.append(
            Case("header", "no CSRF token", method, path, role=role, form=form, csrf=False)
        )
    batch.run(cases)
    batch.assert_clean()
