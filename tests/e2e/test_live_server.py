"""The live server the browser tests use survives a browser that drops a connection mid-response."""

from __future__ import annotations

import gc
import socket
import struct

from flask import Flask

from tests.e2e.browser import start_live_server


def _request_then_reset(port: int, path: str) -> bytes:
    """Send a GET, read the answer, then reset the connection at once (as a browser navigating away does)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    return answer


def test_static_files_are_closed_when_the_browser_resets_the_connection(app: Flask) -> None:
    server = start_live_server(app)
    try:
        for _ in range(30):
            answer = _request_then_reset(server.server.server_port, "/assets/web/favicon.svg")
            assert answer.startswith(b"HTTP/1.1 200")
    finally:
        server.stop()
    gc.collect()  # an unclosed file would warn here, and pytest turns the warning into a failure
