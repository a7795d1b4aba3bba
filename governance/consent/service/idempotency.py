"""Idempotency keys of the consent API: a keyed write stores its response in its own transaction, and a replay of
the same request gets it back.

The stored response names its receipts by record id instead of holding them: the ledger keeps every receipt as
issued (`consent_events` is append-only and never erased), so a replay reads them back from there. A key then
takes about 250 bytes instead of about 4 KB per receipt (a 2-purpose write stored 8.3 KB, about a third of what
its transaction wrote to disk; docs/performance.md, session 19). Keys stored whole before this still replay as
stored.

Keys are kept for at least KEY_RETENTION (GOVERNANCE_IDEMPOTENCY_KEY_HOURS), then deleted by the hourly job
`consent.prune_idempotency_keys` (`prune_idempotency_keys`): every keyed write stores one, so without it the
table grew by one row per consent write for ever. A retry later than that is a new write."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.compiled import CompiledStatement
from governance.consent.errors import IdempotencyConflictError
from governance.consent.models import ConsentIdempotencyKey
from governance.consent.service.history import receipts_by_record_id
from governance.db import DIALECT_INSERTS, rowcount, utcnow

KEY_RETENTION = timedelta(hours=24)
PRUNE_BATCH = 5_000

_KEYS = ConsentIdempotencyKey.__table__
_KEY_COLUMNS = ("actor", "key", "request_sha256", "subject_id", "response", "created_at")
# ON CONFLICT DO NOTHING, not a unique-key failure: a taken key is expected (every replay finds one), and a failed
# INSERT made PostgreSQL log an ERROR whose DETAIL quoted the key, which is the client's own text.
_INSERT_IDEMPOTENCY_KEY = {
    dialect: CompiledStatement(
        insert(_KEYS).on_conflict_do_nothing(index_elements=[_KEYS.c.actor, _KEYS.c.key]).returning(_KEYS.c.key),
        [_KEYS.c.key.type],
        column_keys=_KEY_COLUMNS,
    )
    for dialect, insert in DIALECT_INSERTS.items()
}

# The stored response's receipts, as record ids in the response's order (in place of the `receipts` list).
_RECEIPT_IDS = "receipt_record_ids"


def idempotent_replay(session: Session, actor: str, key: str, request_sha256: str) -> dict[str, Any] | None:
    """The stored response for (actor, key) if the request is the same; IdempotencyConflictError if not."""
    row = session.get(ConsentIdempotencyKey, (actor, key))
    if row is None:
        return None
    if row.request_sha256 != request_sha256:
        raise IdempotencyConflictError()
    stored = dict(row.response)
    if _RECEIPT_IDS not in stored:
        return stored  # stored whole
    ids = [uuid.UUID(value) for value in stored.pop(_RECEIPT_IDS)]
    return {**stored, "receipts": [receipt.as_dict() for receipt in receipts_by_record_id(session, ids)]}


def remember_response(
    session: Session, actor: str, key: str, request_sha256: str, subject_id: uuid.UUID, response: dict[str, Any]
) -> bool:
    """Store the response of a keyed write in its transaction; False, with nothing stored, when (actor, key) is
    taken (a replay, or a concurrent request that committed first): the caller then rolls its write back and
    replays the stored response. One INSERT, compiled once. The response's `receipts` (each with its
    `record_id`) are stored as their record ids."""
    stored = {name: value for name, value in response.items() if name != "receipts"}
    stored[_RECEIPT_IDS] = [str(receipt["record_id"]) for receipt in response.get("receipts", ())]
    statement = _INSERT_IDEMPOTENCY_KEY[session.get_bind().dialect.name]
    inserted = statement.rows(
        session,
        {"actor": actor, "key": key, "request_sha256": request_sha256, "subject_id": subject_id,
         "response": stored, "created_at": utcnow()},
    )  # fmt: skip
    return bool(inserted)


def prune_idempotency_keys(
    session: Session, *, retention: timedelta = KEY_RETENTION, now: datetime | None = None, limit: int = PRUNE_BATCH
) -> int:
    """Delete at most `limit` keys stored more than `retention` ago; returns how many. Does not commit.

    No index on `created_at`: it would cost every consent write an index entry for an hourly delete, and the
    oldest keys are the first rows in insertion order, where the scan finds them."""
    t = ConsentIdempotencyKey.__table__.c
    oldest = sa.select(t.actor, t.key).where(t.created_at < (now or utcnow()) - retention).limit(limit)
    statement = sa.delete(ConsentIdempotencyKey.__table__).where(sa.tuple_(t.actor, t.key).in_(oldest))
    return rowcount(session.execute(statement))
