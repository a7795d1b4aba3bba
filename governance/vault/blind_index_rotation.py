"""Blind-index key rotation: a new HMAC key version for the subject lookup indexes (external reference and
email), re-indexing as a resumable job, lookups by either version until it is done.

Keys: version 1 is the service key `vault_blind_index`, version N >= 2 is `vault_blind_index_v<N>` (a key file
`<key_dir>/vault_blind_index_v<N>.key` or `GOVERNANCE_KEY_VAULT_BLIND_INDEX_V<N>`, like every service key;
generated outside production). No key is ever in the database.

Step by step (reads and writes continue throughout):
1. `start_index_rotation` records a rotation `from -> to` (`running`) and enqueues `vault.reindex_blind`.
   From its commit on, new and changed rows are indexed with `to`, and lookups and uniqueness checks compute
   both versions' digests (`lookup_digests`) and match either.
2. The job (`reindex_all`) walks subjects still on an older version in key order, in committed batches:
   for each, the email is decrypted from the profile and the external reference from
   `external_ref_ciphertext`, both re-indexed with `to`, and `index_version` set; a crash loses at most the
   uncommitted batch. Subjects without the encrypted reference (created before it was kept) cannot be
   re-indexed and are counted as `legacy`: they keep the rotation running (lookups by both versions).
3. `finish_index_rotation` marks it `done` once no subject is on an older version: lookups use `to` only,
   the old version is retired for lookups (its key may be removed from the key directory, except version 1,
   which also keys the event-id digests, see docs/vault.md).

Writers read the rotation state in their own transaction (FOR SHARE on PostgreSQL; SQLite has one writer),
and `finish` locks it FOR UPDATE, so no row can be written with the old version after the finish.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.access.principals import ActorRef, Principal
from governance.audit import record
from governance.db import utcnow
from governance.jobs import enqueue
from governance.settings import ConfigError
from governance.vault.blind_keys import BlindIndexKeys
from governance.vault.crypto import BlindIndex, DecryptionError, SubjectCipher, WrappedKey
from governance.vault.errors import KeyRotationError, VaultIntegrityError
from governance.vault.fields import lookup_key
from governance.vault.keyproviders import UnwrapError
from governance.vault.models import BlindIndexRotation, DataKey, ProfileFieldValue, Subject
from governance.vault.runtime import get_runtime

Actor = Principal | ActorRef
REINDEX_JOB = "vault.reindex_blind"
EXTERNAL_REF_FIELD = "external_ref"  # the AAD name of `Subject.external_ref_ciphertext`


@dataclass(frozen=True)
class IndexState:
    """The version writes use and the versions lookups must match."""

    write_version: int
    read_versions: tuple[int, ...]


def _keys() -> BlindIndexKeys:
    return get_runtime().blind_keys


def index_state(session: Session, *, lock: bool = False) -> IndexState:
    """The blind-index versions in force, read in the caller's transaction (`lock`: FOR SHARE on PostgreSQL,
    for writers, so that a finishing rotation waits for them)."""
    query = select(BlindIndexRotation.from_version, BlindIndexRotation.to_version, BlindIndexRotation.status)
    query = query.order_by(BlindIndexRotation.to_version.desc()).limit(1)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    latest = session.execute(query).first()
    if latest is None:
        return IndexState(1, (1,))
    from_version, to_version, status = latest
    if status == "running":
        return IndexState(to_version, (to_version, from_version))
    return IndexState(to_version, (to_version,))


def lookup_digests(session: Session, purpose: str, value: str) -> list[bytes]:
    """The digests of `value` under every version lookups must match (one outside a rotation, two during)."""
    keys = _keys()
    return [keys.get(version).compute(purpose, value) for version in index_state(session).read_versions]


def write_index(session: Session) -> tuple[int, BlindIndex]:
    """The version (and its key) a new or changed subject row is indexed with; locks the state for writers."""
    version = index_state(session, lock=True).write_version
    return version, _keys().get(version)


def index_for_version(version: int) -> BlindIndex:
    return _keys().get(version)


# ---------------------------------------------------------------------------------------------- rotation


@dataclass(frozen=True, slots=True)
class IndexRotationView:
    id: uuid.UUID
    from_version: int
    to_version: int
    status: str
    job_id: uuid.UUID | None
    total: int
    done: int
    legacy: int


def _view(row: BlindIndexRotation) -> IndexRotationView:
    return IndexRotationView(
        row.id, row.from_version, row.to_version, row.status, row.job_id, row.total, row.done, row.legacy
    )


def start_index_rotation(session: Session, *, actor: Actor, enqueue_job: bool = True, batch_size: int = 1000):
    """Open blind-index key version `current + 1` and (by default) enqueue the re-indexing job. The caller
    commits. Raises `KeyRotationError` while another blind-index rotation runs."""
    state = index_state(session, lock=True)
    if len(state.read_versions) > 1:
        raise KeyRotationError("A blind-index key rotation is already running.", code="index_rotation_running")
    target = state.write_version + 1
    try:
        _keys().get(target)  # the key must exist (production: supplied by the operator) before anything is written
    except ConfigError:
        raise KeyRotationError(
            f"Blind-index key version {target} is not supplied (vault_blind_index_v{target} in the key directory).",
            code="index_key_missing",
        ) from None
    total = session.scalar(select(func.count()).select_from(Subject).where(Subject.index_version != target)) or 0
    rotation = BlindIndexRotation(
        id=uuid.uuid4(),
        from_version=state.write_version,
        to_version=target,
        status="running",
        total=total,
        done=0,
        legacy=0,
        started_at=utcnow(),
    )
    session.add(rotation)
    try:
        with session.begin_nested():
            session.flush()
    except sa.exc.IntegrityError:
        raise KeyRotationError(
            "A blind-index key rotation is already running.", code="index_rotation_running"
        ) from None
    if enqueue_job:
        ref = actor.ref if isinstance(actor, Principal) else actor
        rotation.job_id = enqueue(
            session,
            REINDEX_JOB,
            {"rotation_id": str(rotation.id), "batch_size": batch_size},
            dedupe_key=f"vault.reindex:{rotation.id}",
            created_by=f"{ref.kind}:{ref.id}",
        )
    record(
        session,
        actor=actor,
        action="vault.keys.index_rotation_start",
        target=("index_rotation", rotation.id),
        details={"from_version": rotation.from_version, "to_version": target, "subjects": total},
    )
    session.flush()
    return _view(rotation)


@dataclass(frozen=True, slots=True)
class ReindexBatch:
    count: int  # rows moved to the new version
    legacy: int  # rows that could not be (no encrypted external reference)
    last: uuid.UUID | None


def reindex_batch(
    session: Session, rotation_id: uuid.UUID, *, batch_size: int = 1000, after: uuid.UUID | None = None
) -> ReindexBatch:
    """Re-index up to `batch_size` subjects still on an older version, in id order after `after`. The caller
    commits; rows are claimed with SKIP LOCKED on PostgreSQL (a writer holding one is met by the next sweep),
    and each update is guarded by the row's old version, so a concurrent change wins and is retried."""
    rotation = session.get(BlindIndexRotation, rotation_id)
    if rotation is None:
        raise KeyRotationError("No such rotation.", code="rotation_not_found", status=404)
    if rotation.status != "running":
        return ReindexBatch(0, 0, None)
    target = rotation.to_version
    query = (
        select(Subject.id, Subject.index_version, Subject.status, Subject.key_version, Subject.external_ref_ciphertext)
        .where(Subject.index_version != target)
        .order_by(Subject.id)
        .limit(batch_size)
    )
    if after is not None:
        query = query.where(Subject.id > after)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return ReindexBatch(0, 0, None)
    index = index_for_version(target)
    ciphers = _ciphers(session, [(r.id, r.key_version) for r in rows if r.status == "active"])
    emails = _emails(session, ciphers)
    updates: list[dict[str, Any]] = []
    legacy = 0
    for row in rows:
        if row.status != "active":  # erased: no index left to move
            updates.append({"b_id": row.id, "b_old": row.index_version, "ref": None, "email": None})
            continue
        if row.external_ref_ciphertext is None:
            legacy += 1
            continue
        cipher = ciphers[row.id]
        ref = _decrypt(cipher, EXTERNAL_REF_FIELD, row.external_ref_ciphertext)
        email = emails.get(row.id)
        updates.append(
            {
                "b_id": row.id,
                "b_old": row.index_version,
                "ref": index.compute("external_ref", ref),
                "email": None if email is None else _email_digest(index, email),
            }
        )
    if updates:
        table = Subject.__table__
        statement = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"), table.c.index_version == sa.bindparam("b_old"))
            .values(external_ref_index=sa.bindparam("ref"), email_index=sa.bindparam("email"), index_version=target)
        )
        session.connection().execute(statement, updates)
    rotation.done = min(max(rotation.total, rotation.done), rotation.done + len(updates))
    rotation.legacy = legacy if after is None else rotation.legacy + legacy
    return ReindexBatch(len(updates), legacy, rows[-1].id)


def _ciphers(session: Session, keys: list[tuple[uuid.UUID, int]]) -> dict[uuid.UUID, SubjectCipher]:
    """The data-key ciphers of a batch's subjects, unwrapped in one provider call (an HSM: one session)."""
    if not keys:
        return {}
    wanted = set(keys)
    rows = session.execute(
        select(DataKey.subject_id, DataKey.version, DataKey.master_version, DataKey.wrapped).where(
            DataKey.subject_id.in_([subject_id for subject_id, _ in keys])
        )
    ).all()
    wrapped = [WrappedKey(*row) for row in rows if (row[0], row[1]) in wanted]
    out: dict[uuid.UUID, SubjectCipher] = {}
    for key, data_key in zip(wrapped, get_runtime().envelope.unwrap_many(wrapped), strict=True):
        if isinstance(data_key, UnwrapError):
            raise VaultIntegrityError("A data key could not be unwrapped during re-indexing.")
        out[key.subject_id] = SubjectCipher(data_key, key.subject_id, key.version)
    if len(out) != len(wanted):
        raise VaultIntegrityError("A subject's data key is missing.")
    return out


def _emails(session: Session, ciphers: dict[uuid.UUID, SubjectCipher]) -> dict[uuid.UUID, str]:
    if not ciphers:
        return {}
    rows = session.execute(
        select(ProfileFieldValue.subject_id, ProfileFieldValue.key_version, ProfileFieldValue.ciphertext).where(
            ProfileFieldValue.subject_id.in_(list(ciphers)), ProfileFieldValue.name == "email"
        )
    ).all()
    out: dict[uuid.UUID, str] = {}
    for subject_id, key_version, blob in rows:
        cipher = ciphers[subject_id]
        if cipher.version != key_version:
            raise VaultIntegrityError("A profile field is not under the subject's current data key.")
        out[subject_id] = _decrypt(cipher, "email", blob)
    return out


def _decrypt(cipher: SubjectCipher, name: str, blob: bytes) -> str:
    try:
        return cipher.decrypt(name, blob).decode("utf-8")
    except DecryptionError:
        raise VaultIntegrityError("A stored value failed its integrity check.") from None


def _email_digest(index: BlindIndex, email: str) -> bytes:
    return index.compute("email", lookup_key("email", email))


def reindex_all(
    session: Session,
    rotation_id: uuid.UUID,
    *,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """`reindex_batch` in committed transactions: one pass in id order, then sweeps from the start (rows that
    were locked, or written under the old version before a process saw the rotation) until a sweep moves
    nothing. Legacy rows stay behind (counted)."""
    done = 0
    after: uuid.UUID | None = None
    swept_clean = False
    while True:
        with session.begin():
            batch = reindex_batch(session, rotation_id, batch_size=batch_size, after=after)
        if batch.last is None:
            if after is None or swept_clean:
                return done
            after, swept_clean = None, True  # the sweep: from the start once more
            continue
        if batch.count:
            swept_clean = False
        done += batch.count
        after = batch.last
        if on_batch is not None:
            on_batch(done)


def finish_index_rotation(session: Session, rotation_id: uuid.UUID, *, actor: Actor) -> IndexRotationView:
    """Close the rotation once no subject is on an older version (lookups then use the new one only).
    Raises `KeyRotationError` (`index_rotation_incomplete`) while some are, e.g. legacy rows."""
    is_postgres = session.get_bind().dialect.name == "postgresql"
    rotation = session.get(BlindIndexRotation, rotation_id, with_for_update=is_postgres)
    if rotation is None:
        raise KeyRotationError("No such rotation.", code="rotation_not_found", status=404)
    if rotation.status == "done":
        return _view(rotation)
    left = (
        session.scalar(select(func.count()).select_from(Subject).where(Subject.index_version != rotation.to_version))
        or 0
    )
    if left:
        raise KeyRotationError(
            f"{left} subjects are still indexed with an older blind-index key version.",
            code="index_rotation_incomplete",
            extra={"remaining": left},
        )
    rotation.status = "done"
    rotation.finished_at = utcnow()
    rotation.done = rotation.total
    record(
        session,
        actor=actor,
        action="vault.keys.index_rotation_finish",
        target=("index_rotation", rotation.id),
        details={
            "retired_version": rotation.from_version,
            "to_version": rotation.to_version,
            "subjects": rotation.total,
        },
    )
    session.flush()
    return _view(rotation)


def run_index_rotation(
    session: Session,
    rotation_id: uuid.UUID,
    *,
    actor: Actor,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Re-index and, when nothing is left behind, finish (the job's body; inline in tests). Subjects without
    an encrypted reference (legacy) leave the rotation running: lookups keep matching both versions."""
    moved = reindex_all(session, rotation_id, batch_size=batch_size, on_batch=on_batch)
    with session.begin():
        rotation = session.get_one(BlindIndexRotation, rotation_id)
        if rotation.legacy:
            return {"reindexed": moved, "legacy": rotation.legacy, "status": rotation.status}
        view = finish_index_rotation(session, rotation_id, actor=actor)
    return {"reindexed": moved, "legacy": 0, "status": view.status}
