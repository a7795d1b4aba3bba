"""Opaque keyset cursors for `GET /api/v1/requests`: the (received_at, id) of the last request of a page.

Opaque (base64url) so callers do not build them; a cursor names no person (a time and a request id the caller
already saw). A cursor that does not decode is a 422 naming the field, never echoing it.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime

from governance.errors import ValidationFailedError


def encode_cursor(received_at: datetime, request_id: uuid.UUID) -> str:
    text = f"{received_at.astimezone(UTC).isoformat()}|{request_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, _, rid = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii").partition("|")
        received_at, request_id = datetime.fromisoformat(moment), uuid.UUID(rid)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise ValidationFailedError("The cursor is not valid.", fields={"cursor": "invalid cursor"}) from exc
    if received_at.tzinfo is None:
        raise ValidationFailedError("The cursor is not valid.", fields={"cursor": "invalid cursor"})
    return received_at, request_id
