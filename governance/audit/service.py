"""The audit log in the database: writing entries, sealing them into the Merkle tree, checkpoints, verify,
search and export.

Concurrency design (docs/audit.md): `record` only INSERTs a row with a provisional id, in the caller's
transaction, so writers never wait on each other. The sealer (`seal_pending`, run by the periodic job
`audit.seal`, before verify/export, and by the CLI) locks the single chain-head row, reads committed unsealed
entries in provisional-id order, gives them consecutive positions `seq` from the head's size, hashes them into
the tree (only the right-edge frontier is needed) and signs a checkpoint every N entries or M seconds. A
rolled-back writer never received a position, so positions have no gaps; one head row means one tree (no fork).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import queue
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy.orm import Session

from governance.audit import anchors, merkle
from governance.audit.canonical import (
    CanonicalizationError,
    build_entry,
    details_json,
    entry_bytes,
    format_time,
    to_typed,
)
from governance.audit.checkpoint import Checkpoint, CheckpointError, parse_checkpoint, sign_checkpoint
from governance.audit.errors import AuditDetailsError, AuditFilterError, AuditProofError, CheckpointNotFoundError
from governance.audit.export import ExportEntry, ExportHeader
from governance.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from governance.audit.offline_verify import VerificationFailed, WitnessKey, parse_vkey, verify_cosignature
from governance.audit.publish import PublishedFileError, leaf_segments
from governance.audit.verifier import LOG_TRUNCATED, PUBLISHED_CHECKPOINT_INVALID, Failure, VerifyReport, verify_leaves
from governance.core.principals import ActorRef, Principal
from governance.db import rowcount, utcnow

__all__ = [
    "AuditConfig",
    "Entry",
    "SealResult",
    "consistency_proof",
    "inclusion_proof",
    "record",
    "record_many",
    "seal_pending",
    "search",
    "verify",
]

Target = tuple[str, str | uuid.UUID] | None

KEY_NAME = "governance-audit"  # the signed-note key name in checkpoints
SIGNING_KEY = "audit_checkpoint"  # the foundation key helper's name for the Ed25519 key file

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)
_PHONE = re.compile(r"\+?\(?\d[\d ().-]{7,}\d")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # due dates and the like are not phone numbers
_UUID = re.compile(r"(?:urn:uuid:)?\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?", re.I)
_PHONE_START = frozenset("+(0123456789")
_SCALARS = frozenset({int, bool, float, type(None)})  # no personal data possible: nothing to check
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$")
_MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class AuditConfig:
    origin: str = "governance/audit"
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 60.0
    signing_key: Ed25519PrivateKey | None = None
    public_keys: tuple[tuple[str, Ed25519PublicKey], ...] = ()
    publish_dir: Path | None = None  # the append-only published checkpoint directory (docs/audit.md)
    witness_url: str | None = None
    witness: WitnessKey | None = None  # the witness's verifier key
    witness_timeout: float = 10.0


def publish_dir_setting(settings: Any) -> Path:
    """`GOVERNANCE_AUDIT_PUBLISH_DIR`, by default `<instance folder>/audit-published`."""
    return Path(settings.get("AUDIT_PUBLISH_DIR") or settings.instance_path / "audit-published")


def current_config() -> AuditConfig:
    """The configuration of the running app (settings + the checkpoint key from the key helper)."""
    settings = current_app.extensions["governance.settings"]
    keys = current_app.extensions["governance.keys"]
    key = keys.signing_key(SIGNING_KEY)
    vkey = settings.get("AUDIT_WITNESS_KEY")
    return AuditConfig(
        origin=settings.get("AUDIT_ORIGIN", "governance/audit") or "governance/audit",
        checkpoint_every=settings.get_int("AUDIT_CHECKPOINT_EVERY", 1000),
        checkpoint_seconds=settings.get_float("AUDIT_CHECKPOINT_SECONDS", 60.0),
        signing_key=key,
        public_keys=((KEY_NAME, key.public_key()),),
        publish_dir=publish_dir_setting(settings),
        witness_url=settings.get("AUDIT_WITNESS_URL") or None,
        witness=parse_vkey(vkey) if vkey else None,
        witness_timeout=settings.get_float("AUDIT_WITNESS_TIMEOUT_SECONDS", 10.0),
    )


# --- writing ------------------------------------------------------------------------------------------------


def _policy_version() -> str | None:
    if has_app_context():
        return current_app.extensions.get("governance.policy_version")
    return None


def _check_text(value: str, what: str) -> None:
    # cheap tests first: record() runs in every audited transaction (docs/audit.md, "Throughput")
    if len(value) > _MAX_TEXT or ("@" in value and _EMAIL.search(value)):
        raise AuditDetailsError(f"{what} looks like personal data or free text")
    stripped = value.strip()
    looks_like_phone = stripped[:1] in _PHONE_START and _PHONE.fullmatch(stripped)
    # ids and due dates are not phone numbers
    if looks_like_phone and not (_UUID.fullmatch(value) or _ISO_DATE.match(value)):
        raise AuditDetailsError(f"{what} looks like personal data or free text")


def _check_details(value: Any, path: str = "details") -> None:
    kind = type(value)
    if kind is str:
        _check_text(value, path)
    elif kind in _SCALARS:
        return
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if type(key) is not str or not _KEY.match(key):
                raise AuditDetailsError(f"{path} keys are lowercase identifiers")
            if type(item) not in _SCALARS:
                _check_details(item, f"{path}.{key}")
    elif isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_details(item, path)


_INSERT_ENTRY = sa.insert(AuditEntry.__table__).inline()
REDACTED_PREFIX = "redacted:"
_REDACTION_INFO = b"governance audit redaction v1"


def _redaction_key() -> bytes:
    """A key for the keyed hashes that stand in for refused values, derived from the app's session secret (no
    extra secret to provision); outside an app, a per-process random key (the hashes then only correlate within
    the process)."""
    cached = _REDACTION_KEY.get("key")
    if cached is None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        secret = current_app.secret_key if has_app_context() else None
        material = secret if isinstance(secret, bytes) and secret else uuid.uuid4().bytes * 2
        cached = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_REDACTION_INFO).derive(material)
        if has_app_context():
            _REDACTION_KEY["key"] = cached
    return cached


_REDACTION_KEY: dict[str, bytes] = {}


def redacted(value: str) -> str:
    """The stand-in for a value that looks like personal data: a keyed hash, so repeated probes with the same
    value can be told apart from different ones, without the value being recoverable."""
    import hmac

    digest = hmac.new(_redaction_key(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return REDACTED_PREFIX + digest[:24]


# What a refusal keeps in clear: id-like tokens (UUIDs, client ids, purpose keys). Names, free text, e-mail- and
# phone-like values are replaced by their keyed hash.
_TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def _redact_text(value: str) -> str:
    if not _TOKEN.match(value):
        return redacted(value)
    try:
        _check_text(value, "value")
    except AuditDetailsError:
        return redacted(value)
    return value


def _redact_details(value: Any) -> Any:
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, Mapping):
        return {
            (key if type(key) is str and _KEY.match(key) else "redacted_key"): _redact_details(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_details(item) for item in value]
    return value


def record(
    session: Session,
    *,
    actor: Principal | ActorRef,
    action: str,
    target: Target,
    details: dict[str, Any] | None = None,
    redact: bool = False,
) -> None:
    """Add one audit entry in `session`'s transaction; it commits (or rolls back) with the change it records.

    `details` must hold no personal data: internal ids, counts and enumerated values only. Raises
    AuditDetailsError (and so refuses the caller's whole transaction) for e-mail- or phone-like text, free text
    over 200 characters, or values without a canonical form.

    `redact=True` is for refusals, whose ids and values come from the client (a URL id, a purpose): a refusal
    must always leave a trail, so each value that looks like personal data is replaced by `redacted(value)`
    (a keyed hash) instead of refusing the entry.
    """
    values = _entry_values(actor=actor, action=action, target=target, details=details, redact=redact)
    # one INSERT in the caller's transaction, with no RETURNING (the provisional id is not needed): on
    # PostgreSQL straight through the driver, elsewhere as a cached Core statement. This is most of what an
    # audited change costs the writer (docs/audit.md, "Throughput").
    connection = session.connection()
    if connection.dialect.driver == "psycopg":
        _insert_psycopg(connection, values)
    else:
        session.execute(_INSERT_ENTRY, dict(zip(_INSERT_COLUMNS, values, strict=True)))


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit entry for `record_many` (the arguments of `record`)."""

    actor: Principal | ActorRef
    action: str
    target: Target
    details: dict[str, Any] | None = None
    redact: bool = False


def record_many(session: Session, entries: Sequence[Entry]) -> None:
    """Add several audit entries in `session`'s transaction with ONE multi-row INSERT (a change that writes
    several entries, e.g. a consent request with two purposes, pays one statement instead of one each).

    The same checks as `record` apply to every entry, all before anything is written: one refused entry
    refuses them all. The entries get their provisional ids in list order, so the sealer gives them
    consecutive positions in that order (gap-free, as for `record`). Nothing is written for an empty list.
    """
    if not entries:
        return
    rows = [
        dict(zip(_INSERT_COLUMNS, _entry_values(actor=e.actor, action=e.action, target=e.target,
                                                details=e.details, redact=e.redact), strict=True))
        for e in entries
    ]  # fmt: skip
    # executemany of one cached statement: SQLAlchemy sends it as a single INSERT ... VALUES (...), (...)
    # ("insertmanyvalues") on PostgreSQL, and as one prepared statement stepped per row on SQLite; either way
    # the provisional ids follow the list order.
    session.execute(_INSERT_ENTRY, rows)


def _entry_values(
    *, actor: Principal | ActorRef, action: str, target: Target, details: dict[str, Any] | None, redact: bool
) -> tuple[Any, ...]:
    """The checked, canonical column values of one entry (raises AuditDetailsError; see `record`)."""
    ref = actor.ref if isinstance(actor, Principal) else actor
    if not _ACTION.match(action):
        raise AuditDetailsError("audit action names read domain.thing.verb")
    actor_id, target_id = str(ref.id), (str(target[1]) if target else None)
    if redact:
        actor_id = _redact_text(actor_id)
        target_id = _redact_text(target_id) if target_id is not None else None
        details = _redact_details(details or {})
    _check_text(actor_id, "actor id")
    if target_id is not None:
        _check_text(target_id, "target id")
    _check_details(details or {})
    try:
        typed_details = to_typed(dict(details or {}))
    except CanonicalizationError as exc:
        raise AuditDetailsError(str(exc)) from exc
    return (
        utcnow(),
        ref.kind,
        actor_id,
        action,
        target[0] if target else None,
        target_id,
        g.get("request_id") if has_request_context() else None,
        _policy_version(),
        typed_details,
    )


_INSERT_COLUMNS = (
    "occurred_at",
    "actor_kind",
    "actor_id",
    "action",
    "target_kind",
    "target_id",
    "request_id",
    "policy_version",
    "details",
)
_INSERT_SQL = (
    "INSERT INTO audit_entries (occurred_at, actor_kind, actor_id, action, target_kind, target_id, request_id,"
    " policy_version, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _insert_psycopg(connection: sa.Connection, values: tuple[Any, ...]) -> None:
    """The audit INSERT on the session's own psycopg connection and transaction, skipping SQLAlchemy's
    per-statement execution machinery (about a tenth of a writer's CPU per audited change). Driver errors are
    wrapped as SQLAlchemy's DBAPIError, as they would be through `session.execute`."""
    import psycopg
    from psycopg.types.json import Jsonb

    driver: Any = connection.connection.driver_connection  # psycopg's own connection (PostgreSQL only)
    try:
        driver.execute(_INSERT_SQL, (*values[:-1], Jsonb(values[-1])))
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError.instance(_INSERT_SQL, None, exc, psycopg.Error) from exc


# --- sealing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealResult:
    sealed: int
    size: int
    checkpoint: Checkpoint | None
    publications: list[Any] = field(default_factory=list)  # PublishedCheckpoint files to write after commit
    refused: str | None = None  # why the sealer refused to sign (anchors.Refusal reason)


def typed_entry(row: Any) -> dict[str, Any]:
    """The typed JSON form of a stored entry (its `seq` must be set)."""
    return build_entry(
        seq=row.seq,
        time=row.occurred_at,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        request_id=row.request_id,
        policy_version=row.policy_version,
        details=row.details,
        details_typed=True,
    )


def _lock_head(session: Session) -> AuditHead:
    head = session.scalars(sa.select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        table = AuditHead.__table__
        values = {"id": 1, "size": 0, "frontier": [], "root": merkle.EMPTY_ROOT, "checkpoint_size": 0}
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            session.execute(insert(table).values(values).on_conflict_do_nothing())
        else:
            session.execute(sa.insert(table).prefix_with("OR IGNORE").values(values))
        head = session.scalars(sa.select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    return head


def seal_pending(
    session: Session,
    config: AuditConfig,
    *,
    limit: int = 20_000,
    force_checkpoint: bool = False,
    now: dt.datetime | None = None,
) -> SealResult:
    """Sequence committed unsealed entries into the tree and sign a checkpoint when one is due. Does not commit.

    Holds the chain-head row lock until the caller commits, so concurrent sealers queue behind each other.
    """
    now = now or utcnow()
    head = _lock_head(session)
    frontier = merkle.Frontier(head.size, [bytes.fromhex(h) for h in head.frontier])
    c = AuditEntry.__table__.c
    rows = session.execute(sa.select(c.id, *_CONTENT_COLUMNS).where(c.seq.is_(None)).order_by(c.id).limit(limit)).all()
    sha256, append = hashlib.sha256, frontier.append
    positions: list[tuple[int, int, bytes]] = []
    for row in rows:
        seq = frontier.size
        digest = sha256(b"\x00" + _row_bytes(seq, row)).digest()
        append(digest)
        positions.append((row.id, seq, digest))
    _store_positions(session, positions)
    head.size = frontier.size
    head.frontier = [node.hex() for node in frontier.nodes]
    head.root = frontier.root()
    checkpoint = None
    pending = head.size - head.checkpoint_size
    elapsed = None if head.checkpoint_at is None else (now - head.checkpoint_at).total_seconds()
    due = pending >= config.checkpoint_every or (
        pending > 0 and (elapsed is None or elapsed >= config.checkpoint_seconds)
    )
    publications: list[Any] = []
    if config.signing_key is not None and (due or (force_checkpoint and pending > 0)):
        session.flush()
        # sign only a tree that extends the newest checkpoint published outside the database
        trusted = anchors.extend_published(session, config, head.size, head.root)
        if isinstance(trusted, anchors.Refusal):
            anchors.record_alarm(
                session,
                "audit.checkpoint.refused",
                {"reason": trusted.reason, "published_size": trusted.published_size},
                dedupe=trusted.published_root or head.root.hex(),
            )
            session.flush()
            return SealResult(len(rows), head.size, None, [], trusted.reason)
        checkpoint = sign_checkpoint(
            config.signing_key, key_name=KEY_NAME, origin=config.origin, size=head.size, root=head.root, time=now
        )
        session.add(
            AuditCheckpoint(
                size=checkpoint.size,
                root=checkpoint.root,
                signed_at=checkpoint.time,
                key_id=checkpoint.key_id,
                note=checkpoint.to_text(),
            )
        )
        head.checkpoint_size, head.checkpoint_at = head.size, now
        publications = anchors.publications(trusted, checkpoint)
    session.flush()
    return SealResult(len(rows), head.size, checkpoint, publications)


_CONTENT_COLUMNS = tuple(
    AuditEntry.__table__.c[name]
    for name in (
        "occurred_at",
        "actor_kind",
        "actor_id",
        "action",
        "target_kind",
        "target_id",
        "request_id",
        "policy_version",
        "details",
    )
)


def _row_bytes(seq: int, row: Any) -> bytes:
    """Canonical bytes of a stored entry at position `seq` (see `canonical.entry_bytes`)."""
    return entry_bytes(
        seq,
        format_time(row.occurred_at),
        row.actor_kind,
        row.actor_id,
        row.action,
        row.target_kind,
        row.target_id,
        row.request_id,
        row.policy_version,
        details_json(row.details),
    )


_SEAL_POSTGRES = sa.text(
    "UPDATE audit_entries AS e SET seq = v.seq, leaf_hash = v.leaf_hash"
    " FROM unnest(:ids, :seqs, :hashes) AS v(id, seq, leaf_hash) WHERE e.id = v.id AND e.seq IS NULL"
).bindparams(
    sa.bindparam("ids", type_=sa.ARRAY(sa.BigInteger())),
    sa.bindparam("seqs", type_=sa.ARRAY(sa.BigInteger())),
    sa.bindparam("hashes", type_=sa.ARRAY(sa.LargeBinary())),
)


def _store_positions(session: Session, positions: list[tuple[int, int, bytes]]) -> None:
    """Write (provisional id, seq, leaf hash) for a batch: one statement on PostgreSQL, executemany elsewhere.
    Refuses (and so rolls back the whole seal) if any entry was not updated exactly once."""
    if not positions:
        return
    if session.get_bind().dialect.name == "postgresql":
        ids, seqs, hashes = (list(column) for column in zip(*positions, strict=True))
        updated = rowcount(session.execute(_SEAL_POSTGRES, {"ids": ids, "seqs": seqs, "hashes": hashes}))
        if updated != len(positions):
            raise RuntimeError(f"sealing updated {updated} of {len(positions)} entries")
        return
    table = AuditEntry.__table__
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"), table.c.seq.is_(None))
        .values(seq=sa.bindparam("b_seq"), leaf_hash=sa.bindparam("b_hash"))
    )
    session.execute(statement, [{"b_id": i, "b_seq": q, "b_hash": h} for i, q, h in positions])


def seal_all(session_factory: Any, config: AuditConfig, *, force_checkpoint: bool = False) -> SealResult:
    """Seal every pending entry in batches, each in its own transaction (for jobs and the CLI). After each
    commit the new checkpoints are published outside the database and the newest is sent to the witness."""
    total, result, newest = 0, SealResult(0, 0, None), None
    while True:
        with session_factory() as session:
            result = seal_pending(session, config, force_checkpoint=force_checkpoint)
            session.commit()
        anchors.publish(config, result.publications)
        newest = result.checkpoint or newest
        total += result.sealed
        if result.sealed == 0 or result.sealed < 20_000:
            if newest is not None:
                anchors.cosign(session_factory, config, newest)
            return SealResult(total, result.size, newest, refused=result.refused)


# --- reading ------------------------------------------------------------------------------------------------


def checkpoints(session: Session) -> list[Checkpoint]:
    notes = session.scalars(sa.select(AuditCheckpoint.note).order_by(AuditCheckpoint.size)).all()
    return [parse_checkpoint(note) for note in notes]


def _sealed_rows(session: Session, *, upto: int | None = None, batch: int = 5000) -> Iterator[Any]:
    """Sealed entries in seq order, streamed in keyset batches."""
    table = AuditEntry.__table__
    last = -1
    while True:
        query = sa.select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
        if upto is not None:
            query = query.where(table.c.seq < upto)
        rows = session.execute(query).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


_VERIFY_POSTGRES = (
    "SELECT seq, leaf_hash,"
    " pg_catalog.to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " actor_kind, actor_id, action, target_kind, target_id, request_id, policy_version, details::text"
    " FROM audit_entries WHERE seq IS NOT NULL ORDER BY seq"
)
_JSON_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner; untyped in typeshed


def _postgres_rows(session: Session, batch: int) -> Iterator[tuple[Any, ...]]:
    """Rows of `_VERIFY_POSTGRES` from a server-side cursor (binary transfer), fetched one batch ahead by a
    helper thread, so the server produces the next batch while this thread hashes the current one."""
    driver: Any = session.connection().connection.driver_connection  # psycopg's own connection
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            with driver.cursor(name="audit_verify") as cursor:
                cursor.execute(_VERIFY_POSTGRES, binary=True)
                while not stop.is_set():
                    rows = cursor.fetchmany(batch)
                    while not stop.is_set():
                        try:
                            batches.put(rows, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if not rows:
                        return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            batches.put(exc)

    fetcher = threading.Thread(target=fetch, name="audit-verify-fetch", daemon=True)
    fetcher.start()
    try:
        while True:
            rows = batches.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield from rows
    finally:
        stop.set()
        fetcher.join()


def _leaf_inputs(session: Session, *, batch: int = 10_000) -> Iterator[tuple[int | None, bytes | None, bytes | None]]:
    """(seq, canonical bytes or None when the row has no canonical form, stored leaf hash) in seq order.

    The database is an untrusted source here: what it returns is hashed and checked against the signed roots,
    so letting PostgreSQL format the time (`to_char`) and the details as text cannot hide a change, it only
    saves client work. On PostgreSQL the rows stream as plain tuples (no ORM rows, no type decorators).
    """
    if session.get_bind().dialect.name == "postgresql":
        scan, encode = _JSON_SCAN, details_json  # the C scanner json.loads wraps, without its per-call overhead
        for seq, leaf, time_text, ak, ai, action, tk, ti, rid, pv, text in _postgres_rows(session, batch):
            try:
                details, end = scan(text, 0)
                data: bytes | None = entry_bytes(seq, time_text, ak, ai, action, tk, ti, rid, pv, encode(details))
                if end != len(text):
                    data = None
            except (CanonicalizationError, StopIteration, ValueError, TypeError):
                data = None
            yield seq, data, leaf
        return
    c = AuditEntry.__table__.c
    query = sa.select(c.seq, c.leaf_hash, *_CONTENT_COLUMNS).where(c.seq.is_not(None)).order_by(c.seq)
    for row in session.execute(query.execution_options(yield_per=batch)):
        try:
            data = _row_bytes(row.seq, row)
        except CanonicalizationError:
            data = None
        yield row.seq, data, row.leaf_hash


def _anchored_checkpoints(session: Session, config: AuditConfig) -> tuple[list[Checkpoint], Any, dict[str, Any]]:
    """The checkpoints verify and export check against: the published ones (outside the database), the
    witness-cosigned ones, and the database's own (a database checkpoint adds nothing an attacker could use:
    it is signed with a key outside the database; deleting it is what the published copies catch).
    Returns (checkpoints, published files, facts for the report). Raises PublishedFileError."""
    published, cosigned = anchors.trusted_checkpoints(config)
    by_text: dict[str, Checkpoint] = {}
    for cp in checkpoints(session):
        by_text[cp.to_text()] = cp
    for item in published:
        by_text[item.checkpoint.to_text()] = item.checkpoint
    witnessed_size = None
    for cp, text in cosigned:
        by_text[cp.to_text()] = cp
        if config.witness is not None and verify_cosignature(text, config.witness) is not None:
            witnessed_size = max(witnessed_size or 0, cp.size)
    db_sizes = {cp.size for cp in checkpoints(session)}
    published_sizes = {item.size for item in published}
    facts = {
        "published_checkpoints": len(published),
        "published_size": max(published_sizes, default=None),
        "witnessed_size": witnessed_size,
        "unpublished_checkpoints": len(db_sizes - published_sizes),
        "trust_anchor": "published" if published else "database",
    }
    return sorted(by_text.values(), key=lambda cp: (cp.size, cp.time)), published, facts


def verify(session: Session, config: AuditConfig | None = None) -> VerifyReport:
    """Check the whole sealed log against itself and the signed checkpoints, the published ones (outside the
    database) first among them (`VerifyReport`, never raises for a bad log)."""
    config = config or current_config()
    try:
        cps, published, facts = _anchored_checkpoints(session, config)
    except (PublishedFileError, OSError, CheckpointError) as exc:
        failure = Failure(PUBLISHED_CHECKPOINT_INVALID, None, f"a published checkpoint does not verify ({exc})")
        return VerifyReport(False, 0, 0, 0, None, None, None, 0, None, failure)
    except VerificationFailed as exc:
        return VerifyReport(False, 0, 0, 0, None, None, None, 0, None, Failure(exc.reason, None, exc.detail))
    segments = list(leaf_segments(published))
    report = verify_leaves(_leaf_inputs(session), cps, config.public_keys, origin=config.origin, published=segments)
    unsealed = session.scalar(sa.select(sa.func.count()).where(AuditEntry.seq.is_(None))) or 0
    report.extra["unsealed_entries"] = unsealed
    report.extra.update(facts)
    return report


@dataclass(frozen=True, slots=True)
class SearchFilters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor_kind: str | None = None
    actor_id: str | None = None
    action_prefix: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    request_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat() if isinstance(value, dt.datetime) else str(value)
        return out


def _filtered(query: sa.Select[Any], filters: SearchFilters) -> sa.Select[Any]:
    c = AuditEntry.__table__.c
    if filters.since:
        query = query.where(c.occurred_at >= filters.since)
    if filters.until:
        query = query.where(c.occurred_at < filters.until)
    if filters.actor_kind:
        query = query.where(c.actor_kind == filters.actor_kind)
    if filters.actor_id:
        query = query.where(c.actor_id == filters.actor_id)
    if filters.action_prefix:
        if not re.fullmatch(r"[a-z0-9_.]+", filters.action_prefix):
            raise AuditFilterError("action prefixes use lowercase letters, digits, '_' and '.'")
        query = query.where(c.action.startswith(filters.action_prefix, autoescape=True))
    if filters.target_kind:
        query = query.where(c.target_kind == filters.target_kind)
    if filters.target_id:
        query = query.where(c.target_id == filters.target_id)
    if filters.request_id:
        query = query.where(c.request_id == filters.request_id)
    return query


def search(
    session: Session,
    filters: SearchFilters,
    after: int | None = None,
    limit: int = 100,
    *,
    before: int | None = None,
    newest_first: bool = False,
) -> tuple[list[dict[str, Any]], int | None]:
    """Sealed entries matching `filters` in seq order after `after` and before `before` (keyset pagination).

    `newest_first` walks the log backwards: the returned cursor is then the `before` of the next (older) page.
    Returns (entries in typed form with their leaf hash, the cursor for the next page or None)."""
    if not 1 <= limit <= 1000:
        raise AuditFilterError("limit is between 1 and 1000")
    table = AuditEntry.__table__
    query = _filtered(sa.select(table).where(table.c.seq.is_not(None)), filters)
    if after is not None:
        query = query.where(table.c.seq > after)
    if before is not None:
        query = query.where(table.c.seq < before)
    order = table.c.seq.desc() if newest_first else table.c.seq
    rows = session.execute(query.order_by(order).limit(limit + 1)).all()
    page = [{"entry": typed_entry(r), "leaf_hash": r.leaf_hash.hex()} for r in rows[:limit]]
    return page, (rows[limit - 1].seq if len(rows) > limit else None)


class _DbNodes:
    """Perfect subtree hashes computed from the sealed leaf hashes (read once, for building many proofs).

    `complete` is False when the stored log has a gap or ends before `size` (`break_at` is the first missing
    position): no proof to a checkpoint of `size` can be built then, and the export says so."""

    def __init__(self, session: Session, size: int) -> None:
        c = AuditEntry.__table__.c
        leaves: list[bytes] = []
        self.break_at, self.break_reason = None, LOG_TRUNCATED
        for seq, leaf in session.execute(sa.select(c.seq, c.leaf_hash).where(c.seq < size).order_by(c.seq)):
            if seq != len(leaves) or leaf is None:
                self.break_at, self.break_reason = len(leaves), "sequence_gap"
                break
            leaves.append(leaf)
        if self.break_at is None and len(leaves) < size:
            self.break_at = len(leaves)
        self.complete = self.break_at is None
        self.tree = merkle.InMemoryTree(leaves)

    def node(self, level: int, index: int) -> bytes:
        return self.tree.node(level, index)


def export_parts(
    session: Session, filters: SearchFilters | None, config: AuditConfig
) -> tuple[ExportHeader, list[Checkpoint], list[tuple[int, int, Sequence[bytes]]], Iterator[ExportEntry], list[dict]]:
    """The pieces of an export up to the newest checkpoint (the database's or a published one): full (filters
    None) or filtered with proofs, plus the records of what is anchored outside the database (published files,
    witness-cosigned notes) and of a break: when the stored log has a gap or ends before the newest
    checkpoint, what is there is exported without the proofs that cannot be built, and a ``break`` record
    names the first missing position (the offline verifier reports it)."""
    records: list[dict] = []
    try:
        cps, published, _facts = _anchored_checkpoints(session, config)
        for item in published:
            records.append({"kind": "published", "file": json.loads(item.to_json())})
        for _cp, text in anchors.trusted_checkpoints(config)[1]:
            records.append({"kind": "cosigned", "text": text})
    except (PublishedFileError, OSError, CheckpointError, VerificationFailed):
        cps = checkpoints(session)
        records.append({"kind": "break", "reason": PUBLISHED_CHECKPOINT_INVALID, "position": None,
                        "detail": "a published checkpoint does not verify"})  # fmt: skip
    size = max((cp.size for cp in cps), default=0)
    nodes = _DbNodes(session, size) if size else None
    consistency: list[tuple[int, int, Sequence[bytes]]] = []
    if nodes is not None and not nodes.complete:
        detail = f"the stored log has no entry at {nodes.break_at}; signed checkpoints cover {size}"
        records.append({"kind": "break", "reason": nodes.break_reason, "position": nodes.break_at, "detail": detail})
    elif nodes is not None:
        sizes = sorted({cp.size for cp in cps})
        for old, new in itertools.pairwise(sizes):
            consistency.append((old, new, merkle.consistency_proof(nodes, old, new)))
    scope: Literal["full", "filtered"] = "full" if filters is None else "filtered"
    header = ExportHeader(config.origin, scope, size, utcnow().isoformat(), filters.as_dict() if filters else {})

    def entries() -> Iterator[ExportEntry]:
        if filters is None:
            for row in _sealed_rows(session, upto=size):
                yield ExportEntry(typed_entry(row), row.leaf_hash)
            return
        table = AuditEntry.__table__
        last = -1
        while nodes is not None:
            query = _filtered(sa.select(table).where(table.c.seq > last, table.c.seq < size), filters)
            rows = session.execute(query.order_by(table.c.seq).limit(2000)).all()
            if not rows:
                return
            for row in rows:
                if nodes.complete:
                    proof = merkle.inclusion_proof(nodes, row.seq, size)
                    yield ExportEntry(typed_entry(row), row.leaf_hash, size, proof)
                else:  # no proof can be built over a broken log: the entry as stored, and the break record
                    yield ExportEntry(typed_entry(row), row.leaf_hash)
            last = rows[-1].seq

    return header, cps, consistency, entries(), records


# --- proofs for auditors -------------------------------------------------------------------------------------

PROOF_FORMAT = "governance-audit-proof/1"


class _StoredLeafNodes:
    """Perfect subtree hashes computed on demand from the stored leaf hashes (one streamed range query per
    node, cached). A proof's sibling subtrees are disjoint, so one proof reads each leaf hash at most once and
    holds O(log n) hashes in memory. A stored hash that was changed only makes the proof fail for the auditor.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            start, end = index << level, (index + 1) << level
            c = AuditEntry.__table__.c
            query = sa.select(c.leaf_hash).where(c.seq >= start, c.seq < end).order_by(c.seq)
            frontier = merkle.Frontier()
            for leaf in self.session.scalars(query.execution_options(yield_per=50_000)):
                frontier.append(leaf)
            if frontier.size != end - start:
                raise AuditProofError("the stored log is shorter than the signed checkpoint")
            self.cache[key] = frontier.root()
        return self.cache[key]


def _checkpoint_of_size(session: Session, size: int | None) -> Checkpoint:
    query = sa.select(AuditCheckpoint.note)
    query = query.order_by(AuditCheckpoint.size.desc()) if size is None else query.where(AuditCheckpoint.size == size)
    note = session.scalars(query.limit(1)).first()
    if note is None:
        raise CheckpointNotFoundError()
    return parse_checkpoint(note)


def consistency_proof(session: Session, config: AuditConfig, old_size: int, new_size: int | None = None) -> dict:
    """RFC 9162 consistency proof that the tree of `old_size` (an auditor's saved checkpoint, any size) is a
    prefix of the signed checkpoint of `new_size` (default: the newest). Returned with that checkpoint's note,
    and the note of `old_size` when the service signed one of that size, so the proof verifies offline."""
    new = _checkpoint_of_size(session, new_size)
    if not 1 <= old_size <= new.size:
        raise AuditProofError(f"old_size must be between 1 and {new.size}")
    path = merkle.consistency_proof(_StoredLeafNodes(session), old_size, new.size)
    old_note = session.scalars(sa.select(AuditCheckpoint.note).where(AuditCheckpoint.size == old_size)).first()
    return {
        "format": PROOF_FORMAT,
        "kind": "consistency",
        "origin": config.origin,
        "old_size": old_size,
        "new_size": new.size,
        "path": [node.hex() for node in path],
        "checkpoint": new.to_text(),
        "old_checkpoint": old_note,
    }


def inclusion_proof(session: Session, config: AuditConfig, seq: int, tree_size: int | None = None) -> dict:
    """RFC 9162 inclusion proof of the entry at `seq` in the signed checkpoint of `tree_size` (default: the
    newest), with the entry in typed form, its leaf hash and the checkpoint note."""
    checkpoint = _checkpoint_of_size(session, tree_size)
    if not 0 <= seq < checkpoint.size:
        raise AuditProofError(f"seq must be between 0 and {checkpoint.size - 1}")
    row = session.execute(sa.select(AuditEntry.__table__).where(AuditEntry.seq == seq)).first()
    if row is None:
        raise AuditProofError("the stored log has no entry at this position")
    path = merkle.inclusion_proof(_StoredLeafNodes(session), seq, checkpoint.size)
    return {
        "format": PROOF_FORMAT,
        "kind": "inclusion",
        "origin": config.origin,
        "seq": seq,
        "tree_size": checkpoint.size,
        "leaf_hash": row.leaf_hash.hex(),
        "entry": typed_entry(row),
        "path": [node.hex() for node in path],
        "checkpoint": checkpoint.to_text(),
    }
