"""JSON for the errors gunicorn answers itself, before the app sees the request.

gunicorn refuses an oversized request line (414), too many or too large header fields (431) and unparsable
requests (400) with an HTML page that quotes the offending input. `install()` replaces its writer with one that
answers the service's error body (`{"error", "message"}`, a fixed message per status: nothing the client sent
is echoed). `gunicorn.conf.py` calls it and sets the limits (documented in README.md).
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util

CODES = {
    400: ("bad_request", "The request is malformed."),
    403: ("forbidden", "The request is forbidden."),
    414: ("uri_too_long", "The request line is too long."),
    417: ("expectation_failed", "The expectation cannot be met."),
    431: ("header_fields_too_large", "Too many header fields, or a header field is too large."),
    500: ("internal_error", "An unexpected error occurred."),
    501: ("not_implemented", "The method is not implemented."),
}


def error_bytes(status: int, reason: str) -> bytes:
    code, message = CODES.get(status, ("http_error", "The request cannot be processed."))
    body = json.dumps({"error": code, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Cache-Control: no-store\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for `gunicorn.util.write_error`; `mesg` (which may quote the request) is never sent."""
    util.write_nonblock(sock, error_bytes(int(status_int), reason))


def install() -> None:
    util.write_error = write_json_error
