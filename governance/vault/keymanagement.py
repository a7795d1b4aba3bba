"""Key management: master-key rotation (re-wrap every data key, resumable, in batches) and per-subject
data-key rotation (re-encrypt one subject's values under a fresh key).

Master rotation, step by step (reads and writes continue throughout):
1. `start_master_rotation` adds a provider version, makes it the active one in `vault_master_keys` (new data
   keys are wrapped with it from then on), marks the old one `retiring` and enqueues the re-wrap job.
2. The job runs `rewrap_all`: batches (`rewrap_batch`, in key order with a cursor) re-wrap data keys still
   under an older version and commit. Readers holding an old wrapped key still unwrap it (the old version
   stays available).
3. `finish_master_rotation` marks each `retiring` version that no data key uses any more `retired`, with
   `destroy_after` = now + the backup retention: a backup taken while the version was in use holds data keys
   wrapped with it and must stay restorable until it expires.
4. `destroy_expired_versions` destroys (in the provider, then in the database) every retired version whose
   `destroy_after` has passed.

Key epochs (`run_key_epoch`, the hourly job `vault.key_epoch`): when the active version is older than the
epoch length, a rotation opens a new epoch (steps 1-3, inline and resumable), and step 4 runs every time.
A person erased at X had their data key wrapped only by versions in use up to X; the last of them is
retired by X + epoch (+ the job's delay) and destroyed backup-retention later, so every backup is
unreadable for them by `service.backups_unreadable_by(X)`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.access.principals import ActorRef, Principal
from governance.audit import record
from governance.db import utcnow
from governance.jobs import enqueue
from governance.vault.blind_index_rotation import EXTERNAL_REF_FIELD
from governance.vault.crypto import SubjectCipher, WrappedKey
from governance.vault.errors import KeyRotationError, VaultIntegrityError
from governance.vault.keyproviders import KeyProviderError, KeyProviderUnavailable, UnwrapError
from governance.vault.models import DataKey, Event, KeyRotation, MasterKeyVersion, ProfileFieldValue, Subject
from governance.vault.runtime import get_runtime
from governance.vault.service import _decrypt, _load_subject, _unwrap, active_master_version

Actor = Principal | ActorRef
REWRAP_JOB = "vault.rotate_master_key"
EPOCH_ACTOR = Principal.system("vault")


@dataclass(frozen=True, slots=True)
class RotationView:
    id: uuid.UUID
    target_version: int
    status: str
    job_id: uuid.UUID | None
    total: int
    done: int
    started_at: datetime
    finished_at: datetime | None
    retired_versions: list[int]


def _rotation_view(row: KeyRotation) -> RotationView:
    return RotationView(
        row.id,
        row.target_version,
        row.status,
        row.job_id,
        row.total,
        row.done,
        row.started_at,
        row.finished_at,
        list(row.retired_versions or []),
    )


def key_status(session: Session) -> dict[str, Any]:
    """Master-key versions (state, how many data keys each wraps) and the latest rotations. No key material."""
    active_master_version(session)  # registers the provider's version on a fresh database
    counts = dict(session.execute(select(DataKey.master_version, func.count()).group_by(DataKey.master_version)).all())
    versions = [
        {
            "version": row.version,
            "state": row.state,
            "provider": row.provider,
            "data_keys": counts.get(row.version, 0),
            "created_at": row.created_at,
            "retired_at": row.retired_at,
            "destroy_after": row.destroy_after,
            "destroyed_at": row.destroyed_at,
        }
        for row in session.scalars(select(MasterKeyVersion).order_by(MasterKeyVersion.version))
    ]
    rotations = [
        _rotation_view(row)
        for row in session.scalars(select(KeyRotation).order_by(KeyRotation.started_at.desc()).limit(10))
    ]
    return {"versions": versions, "rotations": rotations, "epochs": epoch_status(session)}


def epoch_status(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """The key schedule in force and whether it is kept: when the next epoch opens, whether that is overdue
    (the hourly job is not running, or the provider cannot add versions), and versions past their
    destruction date that are still held (an operator must remove them from a read-only provider)."""
    now = now or utcnow()
    schedule = get_runtime().schedule
    active = session.scalar(select(MasterKeyVersion).where(MasterKeyVersion.state == "active"))
    next_epoch = active.created_at + schedule.epoch if active is not None else None
    undestroyed = session.scalars(
        select(MasterKeyVersion.version).where(
            MasterKeyVersion.state == "retired",
            MasterKeyVersion.destroyed_at.is_(None),
            MasterKeyVersion.destroy_after <= now - schedule.margin,
        )
    ).all()
    return {
        "epoch_days": schedule.epoch.total_seconds() / 86400,
        "backup_retention_days": schedule.backup_retention.total_seconds() / 86400,
        "automatic": bool(get_runtime().provider.epochs_automatic),
        "next_epoch_at": next_epoch,
        "epoch_overdue": next_epoch is not None and now > next_epoch + schedule.margin,
        "destruction_overdue": list(undestroyed),
    }


def get_rotation(session: Session, rotation_id: uuid.UUID) -> RotationView:
    row = session.get(KeyRotation, rotation_id)
    if row is None:
        raise KeyRotationError("No such rotation.", code="rotation_not_found", status=404)
    return _rotation_view(row)


def start_master_rotation(
    session: Session, *, actor: Actor, enqueue_job: bool = True, now: datetime | None = None
) -> RotationView:
    """Add a master-key version, make it active, and (by default) enqueue the resumable re-wrap job.

    Raises `KeyRotationError` while another rotation is running, or when the provider can neither create a
    version nor offers one newer than the active one (environment provider: deploy the new version first).
    """
    runtime = get_runtime()
    now = now or utcnow()
    current = active_master_version(session)
    running = session.scalar(select(KeyRotation.id).where(KeyRotation.status == "running"))
    if running is not None:
        raise KeyRotationError("A master-key rotation is already running.", extra={"rotation_id": str(running)})
    provider = runtime.provider
    try:
        target = _orphan_version(session, provider, current) or provider.add_version()
    except KeyProviderUnavailable:
        raise  # the HSM cannot be reached: 503, nothing changed
    except KeyProviderError:
        target = max(provider.versions())
        if target <= current:
            raise KeyRotationError(
                "The key provider offers no newer master-key version; add one to the provider first."
            ) from None
    query = select(MasterKeyVersion).where(MasterKeyVersion.state == "active")
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    for row in session.scalars(query):
        row.state = "retiring"
    session.add(MasterKeyVersion(version=target, provider=provider.name, state="active", created_at=now))
    total = session.scalar(select(func.count()).select_from(DataKey).where(DataKey.master_version != target)) or 0
    rotation = KeyRotation(
        id=uuid.uuid4(), target_version=target, status="running", total=total, done=0, started_at=now
    )
    session.add(rotation)
    session.flush()
    if enqueue_job:
        ref = actor.ref if isinstance(actor, Principal) else actor
        rotation.job_id = enqueue(
            session,
            REWRAP_JOB,
            {"rotation_id": str(rotation.id)},
            dedupe_key=f"vault.rotation:{rotation.id}",
            created_by=f"{ref.kind}:{ref.id}",
        )
    record(
        session,
        actor=actor,
        action="vault.keys.rotation_start",
        target=("key_rotation", rotation.id),
        details={"from_version": current, "to_version": target, "data_keys": total},
    )
    session.flush()
    return _rotation_view(rotation)


def _orphan_version(session: Session, provider: Any, current: int) -> int | None:
    """A version newer than the active one that the provider holds and the database does not know: a start
    that crashed after the provider created its version and before the commit. Reusing it leaves no unused
    key behind (in an HSM nothing else would ever destroy it). None for read-only providers, whose newer
    versions the operator deploys for exactly this call (the fallback below)."""
    if not provider.epochs_automatic:
        return None
    known = set(session.scalars(select(MasterKeyVersion.version)))
    orphans = [v for v in provider.versions() if v > current and v not in known]
    return max(orphans) if orphans else None


@dataclass(frozen=True, slots=True)
class RewrapBatch:
    count: int
    last: tuple[uuid.UUID, int] | None  # keyset cursor: pass it as `after` to continue in key order


def rewrap_batch(
    session: Session,
    rotation_id: uuid.UUID,
    *,
    batch_size: int = 2000,
    after: tuple[uuid.UUID, int] | None = None,
) -> RewrapBatch:
    """Re-wrap up to `batch_size` data keys still under an older master version, in key order after `after`.

    Idempotent and safe to run from several workers (rows are claimed with SKIP LOCKED on PostgreSQL). The
    caller commits; a crash loses at most the uncommitted batch, which the next run redoes. Walking in key
    order with a cursor keeps every batch from re-reading the index entries of keys already re-wrapped; use
    `rewrap_all` for the loop (cursor pass, then sweeps from the start until nothing is left).
    """
    rotation = session.get(KeyRotation, rotation_id)
    if rotation is None:
        raise KeyRotationError("No such rotation.", code="rotation_not_found", status=404)
    if rotation.status != "running":
        return RewrapBatch(0, None)
    target = rotation.target_version
    envelope = get_runtime().envelope
    older = _older_versions(session, target)
    if not older:
        return RewrapBatch(0, None)
    query = (
        select(DataKey.subject_id, DataKey.version, DataKey.master_version, DataKey.wrapped)
        .where(DataKey.master_version.in_(older))
        .order_by(DataKey.subject_id, DataKey.version)
        .limit(batch_size)
    )
    if after is not None:
        query = query.where(sa.tuple_(DataKey.subject_id, DataKey.version) > after)  # typed from the columns
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return RewrapBatch(0, None)
    updates = []
    keys = [WrappedKey(*row) for row in rows]  # (subject_id, version, master_version, wrapped)
    # one provider call for the batch (an HSM unwraps it in one session); an unavailable provider raises
    # `KeyProviderUnavailable` here and the job retries later with nothing written
    for key, data_key in zip(keys, envelope.unwrap_many(keys), strict=True):
        if isinstance(data_key, UnwrapError):
            raise VaultIntegrityError("A data key could not be unwrapped during rotation.")
        new = envelope.wrap(key.subject_id, key.version, data_key, target)
        updates.append(
            {"b_subject": key.subject_id, "b_version": key.version, "b_old": key.master_version, "wrapped": new.wrapped}
        )
    table = DataKey.__table__
    statement = (
        sa.update(table)
        .where(
            table.c.subject_id == sa.bindparam("b_subject"),
            table.c.version == sa.bindparam("b_version"),
            table.c.master_version == sa.bindparam("b_old"),  # a concurrent change wins; the next batch retries
        )
        .values(wrapped=sa.bindparam("wrapped"), master_version=target)
    )
    session.connection().execute(statement, updates)
    rotation.done = min(rotation.total, rotation.done + len(updates)) if rotation.total else len(updates)
    last = rows[-1]
    return RewrapBatch(len(updates), (last[0], last[1]))


def rewrap_all(session: Session, rotation_id: uuid.UUID, *, batch_size: int = 2000, on_batch: Any = None) -> int:
    """Run `rewrap_batch` in committed transactions until no data key is left under an older version.

    One pass in key order, then sweeps from the start for keys that were locked (skipped) or written under
    an old version meanwhile, until a sweep finds none. `on_batch(done)` is called after each commit.
    """
    done = 0
    after: tuple[uuid.UUID, int] | None = None
    while True:
        with session.begin():
            batch = rewrap_batch(session, rotation_id, batch_size=batch_size, after=after)
        if batch.count == 0:
            if after is None:
                return done
            after = None  # end of the ordered pass: sweep once more from the start
            continue
        done += batch.count
        after = batch.last
        if on_batch is not None:
            on_batch(done)


def _older_versions(session: Session, target: int) -> list[int]:
    """Master versions other than `target` that data keys may still use (every one the vault has recorded)."""
    return list(session.scalars(select(MasterKeyVersion.version).where(MasterKeyVersion.version != target)))


def finish_master_rotation(
    session: Session, rotation_id: uuid.UUID, *, actor: Actor, now: datetime | None = None
) -> RotationView:
    """Retire every `retiring` master version no data key uses any more and close the rotation. A retired
    version's key material is kept until `destroy_after` = now + backup retention (`destroy_expired_versions`).

    Raises `KeyRotationError` if data keys still use an older version (run `rewrap_all` first).
    """
    now = now or utcnow()
    rotation = session.get(KeyRotation, rotation_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if rotation is None:
        raise KeyRotationError("No such rotation.", code="rotation_not_found", status=404)
    if rotation.status == "done":
        return _rotation_view(rotation)
    query = select(MasterKeyVersion).where(MasterKeyVersion.state == "retiring")
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # waits for writers that read the version FOR SHARE
    retired: list[int] = []
    for row in session.scalars(query):
        in_use = session.scalar(select(func.count()).select_from(DataKey).where(DataKey.master_version == row.version))
        if in_use:
            raise KeyRotationError(f"{in_use} data keys still use master-key version {row.version}.")
        row.state = "retired"
        row.retired_at = now
        row.destroy_after = now + get_runtime().schedule.backup_retention
        retired.append(row.version)
    rotation.status = "done"
    rotation.finished_at = now
    rotation.done = rotation.total
    rotation.retired_versions = retired
    record(
        session,
        actor=actor,
        action="vault.keys.rotation_finish",
        target=("key_rotation", rotation.id),
        details={"to_version": rotation.target_version, "retired_versions": retired, "data_keys": rotation.total},
    )
    session.flush()
    return _rotation_view(rotation)


def destroy_expired_versions(session: Session, *, actor: Actor, now: datetime | None = None) -> list[int]:
    """Destroy every retired master version whose `destroy_after` has passed: in the provider first (the
    key material leaves the key file), then recorded (`destroyed_at`, audit `vault.keys.version_destroy`) in
    the caller's transaction. A provider that cannot destroy (environment variables) leaves the version
    recorded as not destroyed; `epoch_status` reports it as overdue for the operator. Returns the versions
    destroyed. Safe to repeat: destroying a version the provider no longer has is a no-op."""
    now = now or utcnow()
    query = select(MasterKeyVersion).where(
        MasterKeyVersion.state == "retired",
        MasterKeyVersion.destroyed_at.is_(None),
        MasterKeyVersion.destroy_after <= now,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    provider = get_runtime().provider
    destroyed: list[int] = []
    for row in session.scalars(query.order_by(MasterKeyVersion.version)):
        in_use = data_keys_under(session, row.version)
        if in_use:  # cannot happen through this code; never destroy what a live key needs
            raise VaultIntegrityError(f"{in_use} data keys still use retired master-key version {row.version}.")
        try:
            provider.retire_version(row.version)
        except KeyProviderError:
            continue
        row.destroyed_at = now
        destroyed.append(row.version)
        record(
            session,
            actor=actor,
            action="vault.keys.version_destroy",
            target=("master_key", str(row.version)),
            details={"version": row.version},
        )
    session.flush()
    return destroyed


def run_master_rotation(
    session: Session, *, actor: Actor, batch_size: int = 2000, now: datetime | None = None
) -> RotationView:
    """The whole rotation inline (CLI `--wait` without a worker, tests, benchmarks); commits per batch. The
    old version is retired, and destroyed only after the backup retention (`destroy_expired_versions`)."""
    with session.begin():
        rotation = start_master_rotation(session, actor=actor, enqueue_job=False, now=now)
    rewrap_all(session, rotation.id, batch_size=batch_size)
    with session.begin():
        return finish_master_rotation(session, rotation.id, actor=actor, now=now)


def run_key_epoch(
    session: Session, *, now: datetime | None = None, actor: Actor = EPOCH_ACTOR, batch_size: int = 2000
) -> dict[str, Any]:
    """One run of the key schedule (the hourly job; tests pass `now`). Commits as it goes:

    1. destroy the retired versions whose backup retention is over;
    2. when the active version is older than the epoch, open a new epoch: a rotation re-wraps every data key
       under a new version and retires the old one (kept for the backup retention). A rotation this job
       started and did not finish (a crash) is resumed; one started by an operator (with its own job) is
       left to that job.
    """
    now = now or utcnow()
    schedule = get_runtime().schedule
    with session.begin():
        destroyed = destroy_expired_versions(session, actor=actor, now=now)
    outcome: dict[str, Any] = {"destroyed_versions": destroyed, "opened_version": None, "rewrapped": 0}
    with session.begin():
        running = session.scalars(select(KeyRotation).where(KeyRotation.status == "running")).first()
        if running is not None and running.job_id is not None:
            outcome["waiting_for_rotation"] = str(running.id)
            return outcome
        if running is None:
            active = session.scalar(select(MasterKeyVersion).where(MasterKeyVersion.state == "active"))
            if active is not None and now < active.created_at + schedule.epoch:
                return outcome
            if active is None:
                active_master_version(session)  # a fresh database: register the provider's version, epoch 1
                return outcome
            try:
                rotation_id = start_master_rotation(session, actor=actor, enqueue_job=False, now=now).id
            except KeyRotationError:  # a read-only provider offers no new version: the operator's turn
                outcome["epoch_overdue"] = True
                return outcome
        else:
            rotation_id = running.id
    outcome["rewrapped"] = rewrap_all(session, rotation_id, batch_size=batch_size)
    with session.begin():
        view = finish_master_rotation(session, rotation_id, actor=actor, now=now)
    outcome["opened_version"] = view.target_version
    outcome["retired_versions"] = view.retired_versions
    return outcome


def rotate_data_key(session: Session, subject_id: uuid.UUID, *, actor: Actor) -> int:
    """Give one subject a fresh data key: re-encrypt its fields and events, destroy the old key(s).

    Returns the new data-key version. Holds the subject's row lock (PostgreSQL) so that no write under the old
    key can land after the re-encryption.
    """
    subject = _load_subject(session, subject_id, lock="update")
    runtime = get_runtime()
    old_keys = session.scalars(
        select(DataKey).where(DataKey.subject_id == subject.id).execution_options(populate_existing=True)
    ).all()
    ciphers: dict[int, SubjectCipher] = {row.version: _unwrap(row) for row in old_keys}
    new_version = max(ciphers, default=0) + 1
    master = active_master_version(session)
    wrapped, new_cipher = runtime.envelope.create(subject.id, new_version, master)
    session.add(DataKey(subject_id=subject.id, version=new_version, master_version=master, wrapped=wrapped.wrapped))
    fields = session.scalars(select(ProfileFieldValue).where(ProfileFieldValue.subject_id == subject.id)).all()
    for row in fields:
        plain = _decrypt(ciphers[row.key_version], row.name, row.ciphertext)
        row.ciphertext = new_cipher.encrypt(row.name, plain)
        row.key_version = new_version
    events = 0
    query = select(Event.id, Event.event_id, Event.key_version, Event.ciphertext).where(Event.subject_id == subject.id)
    updates: list[dict[str, Any]] = []
    for event_row in session.execute(query):
        name = "event:" + event_row.event_id
        plain = _decrypt(ciphers[event_row.key_version], name, event_row.ciphertext)
        updates.append({"id": event_row.id, "key_version": new_version, "ciphertext": new_cipher.encrypt(name, plain)})
        if len(updates) >= 2000:
            session.execute(sa.update(Event), updates)
            events += len(updates)
            updates = []
    if updates:
        session.execute(sa.update(Event), updates)
        events += len(updates)
    session.flush()
    session.execute(sa.delete(DataKey).where(DataKey.subject_id == subject.id, DataKey.version != new_version))
    if subject.external_ref_ciphertext is not None:  # kept under the current data key (blind-index re-indexing)
        ref = _decrypt(ciphers[subject.key_version], EXTERNAL_REF_FIELD, subject.external_ref_ciphertext)
        subject.external_ref_ciphertext = new_cipher.encrypt(EXTERNAL_REF_FIELD, ref)
    subject.key_version = new_version
    subject.updated_at = utcnow()
    record(
        session,
        actor=actor,
        action="vault.keys.data_key_rotate",
        target=("subject", subject.id),
        details={"new_version": new_version, "fields": len(fields), "events": events},
    )
    session.flush()
    for version in ciphers:
        runtime.envelope.forget_version(subject.id, version)
    return new_version


def data_keys_under(session: Session, master_version: int) -> int:
    return (
        session.scalar(select(func.count()).select_from(DataKey).where(DataKey.master_version == master_version)) or 0
    )


def subject_key_version(session: Session, subject_id: uuid.UUID) -> int:
    return session.scalar(select(Subject.key_version).where(Subject.id == subject_id)) or 0
