"""Profiles: rectification (set or delete fields, all validated first) and reads by view — clear values
(audited), masked values, or a summary with no values at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.audit import record
from governance.db import utcnow
from governance.vault import blind_index_rotation
from governance.vault.fields import mask
from governance.vault.models import DataKey, ProfileFieldValue, Subject
from governance.vault.runtime import get_runtime
from governance.vault.service.datakeys import _cipher_for, _decrypt, _key_columns, _row_cipher
from governance.vault.service.events import event_counts
from governance.vault.service.results import Actor, View
from governance.vault.service.subjects import _email_index, _field_row, _load_subject, _normalize_profile


def _field_query(subject_ids: Sequence[uuid.UUID], names: Iterable[str] | None) -> sa.Select[Any]:
    query = (
        select(ProfileFieldValue.subject_id, ProfileFieldValue.name, ProfileFieldValue.ciphertext, *_key_columns())
        .outerjoin(
            DataKey,
            (DataKey.subject_id == ProfileFieldValue.subject_id) & (DataKey.version == ProfileFieldValue.key_version),
        )
        .where(ProfileFieldValue.subject_id.in_(list(subject_ids)))
    )
    if names is not None:
        query = query.where(ProfileFieldValue.name.in_(list(names)))
    return query


def _decrypt_fields(session: Session, subject: Subject, names: Iterable[str] | None = None) -> dict[str, str]:
    return {
        row.name: _decrypt(_row_cipher(row), row.name, row.ciphertext).decode("utf-8")
        for row in session.execute(_field_query([subject.id], names))
    }


def update_profile(session: Session, subject_id: uuid.UUID, fields: Mapping[str, Any], *, actor: Actor) -> list[str]:
    """Set (or, with None, delete) profile fields; returns the names that actually changed (rectification).

    All values are validated before any is written: `ProfileInvalidError` leaves the profile untouched.
    """
    runtime = get_runtime()
    values = _normalize_profile(runtime.catalog, fields, allow_delete=True)
    subject = _load_subject(session, subject_id, lock="share")
    current = _decrypt_fields(session, subject, values)
    cipher = _cipher_for(session, subject)
    now = utcnow()
    changed: list[str] = []
    for name, value in values.items():
        if current.get(name) == value:
            continue
        changed.append(name)
        existing = session.get(ProfileFieldValue, (subject.id, name))
        if value is None:
            if existing is not None:
                session.delete(existing)
        elif existing is None:
            session.add(_field_row(cipher, name, value, now))
        else:
            existing.key_version = cipher.version
            existing.ciphertext = cipher.encrypt(name, value.encode("utf-8"))
            existing.updated_at = now
        if name == "email":
            # the row's own version: its two indexes always share one (the re-indexing job moves both)
            subject.email_index = _email_index(value, blind_index_rotation.index_for_version(subject.index_version))
    if changed:
        subject.updated_at = now
        session.flush()
        record(
            session,
            actor=actor,
            action="vault.profile.update",
            target=("subject", subject.id),
            details={"fields": sorted(changed)},
        )
    return sorted(changed)


def read_profile(
    session: Session, subject_id: uuid.UUID, *, actor: Actor, view: View, reason: str | None = None
) -> dict[str, Any]:
    """The subject's profile as `view`: clear values (audited, with `reason` for break-glass), masked values,
    or a summary of which fields exist and how many events per category (no values at all)."""
    subject = _load_subject(session, subject_id)
    catalog = get_runtime().catalog
    if view == "summary":
        present = session.scalars(
            select(ProfileFieldValue.name).where(ProfileFieldValue.subject_id == subject.id)
        ).all()
        counts = event_counts(session, subject.id)
        return {
            "subject_id": str(subject.id),
            "view": "summary",
            "fields_present": sorted(present),
            "event_counts": counts,
            "events_total": sum(counts.values()),
        }
    values = _decrypt_fields(session, subject)
    if view == "masked":
        shown = {name: mask(catalog.profile_fields[name], value) for name, value in values.items()}
        return {"subject_id": str(subject.id), "view": "masked", "fields": dict(sorted(shown.items()))}
    if view != "clear":
        raise ValueError("view must be clear, masked or summary")
    # the break-glass reason itself is stored by the access domain (access.break_glass.granted)
    details: dict[str, Any] = {"fields": sorted(values), "break_glass": reason is not None}
    record(session, actor=actor, action="vault.profile.read_clear", target=("subject", subject.id), details=details)
    return {"subject_id": str(subject.id), "view": "clear", "fields": dict(sorted(values.items()))}
