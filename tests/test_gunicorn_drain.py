"""A connection that closes after a refused big body still delivers its answer
(gunicorn.conf.py's post_request reads the rest of the body first).

A form of several megabytes is refused before its body is read (DATA_UPLOAD_MAX_MEMORY_SIZE).
If the connection then closes with the body's bytes still arriving, the kernel resets it and
the client loses the answer: "Connection reset" instead of the page saying what was wrong.
Here every answer closes its connection (PORTAL_CONNECTION_REQUESTS=1), the worst case.
"""

from __future__ import annotations

import socket

from cryptography.fernet import Fernet

from tests.multi.deployment import instances

BIG = 8 * 1024 * 1024


def _post(url: str) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    body = b"name=" + b"y" * BIG
    head = (
        f"POST /login/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded"
        f"\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_big_form_refused_on_a_closing_connection_still_gets_its_answer(tmp_path):
    env = {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "drain-test-" + "x" * 40,
        "PORTAL_TOKEN_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "PORTAL_DATA_DIR": str(tmp_path),
        "PORTAL_CONNECTION_REQUESTS": "1",
        "PORTAL_SSL_REDIRECT": "false",
        "PATH": "/usr/bin:/bin",
    }
    with instances(env, count=1, workers=1, log_dir=tmp_path) as started:
        url, _ = started[0]
        answers = [_post(url) for _ in range(5)]
    for answer in answers:
        # Refused (no CSRF cookie: 403) before its body was read, and the answer arrived.
        assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
        assert b"Connection: close" in answer.split(b"\r\n\r\n")[0]
