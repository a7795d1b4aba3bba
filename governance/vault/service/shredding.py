"""Crypto-shredding: an erased subject's data keys, profile and events are deleted (or, for categories under a
retention duty, its events re-encrypted under a new key and kept), its blind indexes cleared, and a tombstone
left. Retention (deleting old events by category) lives in `governance.vault.retention`."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from governance.access.principals import Principal
from governance.audit import record
from governance.db import utcnow
from governance.vault.crypto import SubjectCipher
from governance.vault.errors import SubjectNotFoundError
from governance.vault.models import DataKey, Event, ProfileFieldValue, Subject, Tombstone
from governance.vault.runtime import get_runtime
from governance.vault.service.datakeys import _cipher_for, _decrypt, active_master_version
from governance.vault.service.results import Actor, ShredReport
from governance.vault.service.statements import rowcount


def shred_subject(
    session: Session,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    reason: str,
    keep_categories: set[str] | frozenset[str] = frozenset(),
) -> ShredReport:
    """Crypto-shred a subject: delete its wrapped data keys, profile ciphertexts and events, clear its blind
    indexes, and leave a tombstone (id, time, reason). Idempotent: shredding an erased subject again returns
    the earlier outcome with `already_erased=True`.

    `keep_categories` (for example purchases under a legal retention duty) keeps those events, re-encrypted
    under a new data key; everything else, and every older key, is destroyed. Without it nothing decrypts.
    """
    subject = _lock_subject(session, subject_id)
    if subject.status == "erased":
        return _earlier_outcome(session, subject)
    runtime = get_runtime()
    kept = 0
    keys_before = session.scalar(select(func.count()).select_from(DataKey).where(DataKey.subject_id == subject.id))
    if keep_categories:
        kept = _reencrypt_kept_events(session, subject, set(keep_categories))
    destroyed = _destroy_rows(session, subject, keep_categories, kept=kept, keys_before=keys_before or 0)
    now = utcnow()
    _clear_subject(subject, now)
    kept_categories = sorted(keep_categories) if kept else []
    session.add(_tombstone(subject.id, now, actor=actor, reason=reason, destroyed=destroyed, kept=kept_categories))
    session.flush()
    record(
        session,
        actor=actor,
        action="vault.subject.shred",
        target=("subject", subject.id),
        details={**destroyed, "kept_categories": kept_categories},
    )
    runtime.envelope.forget(subject.id)
    return ShredReport(subject.id, now, destroyed["fields"], destroyed["events"], destroyed["keys"], kept)


def _lock_subject(session: Session, subject_id: uuid.UUID) -> Subject:
    """The subject, locked FOR UPDATE on PostgreSQL (two shreddings of one subject run one after the other);
    raises `SubjectNotFoundError`. An erased subject is returned too: shredding is idempotent."""
    subject = session.scalar(
        select(Subject).where(Subject.id == subject_id).with_for_update().execution_options(populate_existing=True)
        if session.get_bind().dialect.name == "postgresql"
        else select(Subject).where(Subject.id == subject_id)
    )
    if subject is None:
        raise SubjectNotFoundError()
    return subject


def _earlier_outcome(session: Session, subject: Subject) -> ShredReport:
    """The report of the shredding that erased this subject, from its tombstone."""
    tomb = session.get(Tombstone, subject.id)
    destroyed = tomb.destroyed if tomb else {}
    return ShredReport(
        subject.id,
        subject.erased_at or utcnow(),
        destroyed.get("fields", 0),
        destroyed.get("events", 0),
        destroyed.get("keys", 0),
        destroyed.get("events_kept", 0),
        already_erased=True,
    )


def _destroy_rows(
    session: Session, subject: Subject, keep_categories: set[str] | frozenset[str], *, kept: int, keys_before: int
) -> dict[str, int]:
    """Delete the profile, the events (but the `kept` ones, already under the newest key) and the data keys
    (all, or all but the newest when events are kept); returns what was destroyed, for tombstone and audit."""
    fields_destroyed = rowcount(
        session.execute(delete(ProfileFieldValue).where(ProfileFieldValue.subject_id == subject.id))
    )
    event_filter = Event.subject_id == subject.id
    if kept:
        event_filter = event_filter & Event.category.not_in(sorted(keep_categories))
    events_destroyed = rowcount(session.execute(delete(Event).where(event_filter)))
    key_filter = DataKey.subject_id == subject.id
    if kept:
        key_filter = key_filter & (DataKey.version != subject.key_version)
    keys_destroyed = rowcount(session.execute(delete(DataKey).where(key_filter)))
    return {
        "fields": fields_destroyed,
        "events": events_destroyed,
        "keys": keys_destroyed if not kept else keys_before,
        "events_kept": kept,
    }


def _clear_subject(subject: Subject, now: dt.datetime) -> None:
    """Mark the subject erased and drop everything that could find or name it (blind indexes, reference)."""
    subject.status = "erased"
    subject.erased_at = now
    subject.updated_at = now
    subject.external_ref_index = None
    subject.email_index = None
    subject.external_ref_ciphertext = None


def _tombstone(
    subject_id: uuid.UUID, now: dt.datetime, *, actor: Actor, reason: str, destroyed: dict[str, int], kept: list[str]
) -> Tombstone:
    ref = actor.ref if isinstance(actor, Principal) else actor
    return Tombstone(
        subject_id=subject_id,
        erased_at=now,
        reason=reason.strip()[:200] or "unspecified",
        actor_kind=ref.kind,
        actor_id=str(ref.id)[:128],
        destroyed=destroyed,
        kept_categories=kept,
    )


def _reencrypt_kept_events(session: Session, subject: Subject, keep: set[str]) -> int:
    """Move the kept events under a brand-new data key so that every older key can be destroyed."""
    rows = session.execute(
        select(Event.id, Event.event_id, Event.key_version, Event.ciphertext).where(
            Event.subject_id == subject.id, Event.category.in_(sorted(keep))
        )
    ).all()
    if not rows:
        return 0
    runtime = get_runtime()
    new_version = subject.key_version + 1
    master = active_master_version(session)
    wrapped, new_cipher = runtime.envelope.create(subject.id, new_version, master)
    session.add(DataKey(subject_id=subject.id, version=new_version, master_version=master, wrapped=wrapped.wrapped))
    ciphers: dict[int, SubjectCipher] = {}
    updates = []
    for row in rows:
        cipher = ciphers.get(row.key_version) or _cipher_for(session, subject, row.key_version)
        ciphers[row.key_version] = cipher
        name = "event:" + row.event_id
        plain = _decrypt(cipher, name, row.ciphertext)
        updates.append({"id": row.id, "key_version": new_version, "ciphertext": new_cipher.encrypt(name, plain)})
    session.execute(sa.update(Event), updates)
    subject.key_version = new_version
    session.flush()
    return len(rows)
