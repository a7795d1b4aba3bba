"""Idempotency keys of the consent API: a keyed write stores its response in its own transaction, and a replay of
the same request gets it back."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.compiled import CompiledStatement
from governance.consent.errors import IdempotencyConflictError
from governance.consent.models import ConsentIdempotencyKey
from governance.db import utcnow

_INSERT_IDEMPOTENCY_KEY = CompiledStatement(
    sa.insert(ConsentIdempotencyKey.__table__),
    column_keys=("actor", "key", "request_sha256", "subject_id", "response", "created_at"),
)


def idempotent_replay(session: Session, actor: str, key: str, request_sha256: str) -> dict[str, Any] | None:
    """The stored response for (actor, key) if the request is the same; IdempotencyConflictError if not."""
    row = session.get(ConsentIdempotencyKey, (actor, key))
    if row is None:
        return None
    if row.request_sha256 != request_sha256:
        raise IdempotencyConflictError()
    return dict(row.response)


def remember_response(
    session: Session, actor: str, key: str, request_sha256: str, subject_id: uuid.UUID, response: dict[str, Any]
) -> None:
    """Store the response of a keyed write in its transaction (a replay or a concurrent duplicate fails on the
    key with IntegrityError, and the caller's transaction rolls back). One INSERT, compiled once."""
    _INSERT_IDEMPOTENCY_KEY.execute(
        session,
        {"actor": actor, "key": key, "request_sha256": request_sha256, "subject_id": subject_id,
         "response": response, "created_at": utcnow()},
    )  # fmt: skip
