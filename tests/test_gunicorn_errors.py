"""gunicorn's own refusals (oversized request line or headers, unparsable requests) are JSON error bodies that
echo nothing the client sent, like every other answer of the service (issue 18, finding 11).

A real gunicorn is started from the project folder, so it reads `gunicorn.conf.py` exactly as production does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.ports import unused_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CANARY = "canary.gunicorn.4417@example.org"


def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.fixture(scope="module")
def gunicorn_port(app_config: dict[str, Any], base_app: Any) -> Iterator[int]:
    port = unused_port()
    env = {**os.environ, **{f"GOVERNANCE_{k}": str(v) for k, v in app_config.items()}}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120  # a busy CI machine: wait on the condition, generously
        while True:
            assert proc.poll() is None, "gunicorn exited"
            try:
                if _exchange(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int, code: str) -> None:
    assert status == expected
    assert headers["content-type"] == "application/json"
    parsed = json.loads(body)
    assert parsed["error"] == code
    assert parsed["message"]
    assert CANARY not in body.decode()


def test_a_too_long_request_line_is_414_json(gunicorn_port: int) -> None:
    path = f"/api/v1/subjects/{CANARY}?" + "x" * 9000
    raw = f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
    _assert_json_error(*_exchange(gunicorn_port, raw), 414, "uri_too_long")


def test_too_many_header_fields_is_431_json(gunicorn_port: int) -> None:
    fields = "".join(f"X-Field-{i}: {CANARY}\r\n" for i in range(120))
    raw = f"GET /healthz HTTP/1.1\r\nHost: t\r\n{fields}Connection: close\r\n\r\n".encode()
    _assert_json_error(*_exchange(gunicorn_port, raw), 431, "header_fields_too_large")


def test_a_too_large_header_field_is_431_json(gunicorn_port: int) -> None:
    raw = f"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {CANARY}{'y' * 9000}\r\nConnection: close\r\n\r\n".encode()
    _assert_json_error(*_exchange(gunicorn_port, raw), 431, "header_fields_too_large")


def test_an_unparsable_request_is_400_json_without_echo(gunicorn_port: int) -> None:
    raw = f"GET /healthz {CANARY}\r\nHost: t\r\n\r\n".encode()
    _assert_json_error(*_exchange(gunicorn_port, raw), 400, "bad_request")


def test_requests_within_the_limits_reach_the_app(gunicorn_port: int) -> None:
    path = "/api/v1/purposes?" + "x" * 7000
    status, headers, _body = _exchange(
        gunicorn_port, f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
    )
    assert headers["content-type"] == "application/json"
    assert status in (200, 422)
