"""Retention: fields and events older than every purpose using them allows are deleted; counts are audited."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.consent.service import purposes
from governance.db import transaction, utcnow
from governance.jobs import enqueue
from governance.jobs.worker import drain
from governance.vault import service
from governance.vault.models import Event, ProfileFieldValue
from governance.vault.retention import apply_retention, retention_days_by_category
from governance.vault.runtime import get_runtime
from tests.vault.conftest import ACTOR, ALL_EVENT_CATEGORIES, event

MakeSubject = Callable[..., uuid.UUID]


def test_retention_days_come_from_the_longest_purpose(app: Flask) -> None:
    with app.app_context():
        catalog = get_runtime().catalog
        days = retention_days_by_category(catalog, purposes())
    assert days["chat_intent"] == 730  # chat_personalization 180, model_training 730
    assert days["purchase"] == 3653  # accounting_records (legal obligation)
    assert days["phone"] == 730  # fraud_prevention only
    assert set(days) == catalog.field_names | catalog.event_category_names


def test_old_data_is_deleted_and_counted(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    now = utcnow()
    old, recent = now - dt.timedelta(days=800), now - dt.timedelta(days=10)
    batch = [
        event(1, "chat_intent", occurred_at=old.isoformat()),
        event(2, "chat_intent", occurred_at=recent.isoformat()),
        event(3, "purchase", value=1.0, occurred_at=old.isoformat()),  # 10-year accounting retention
    ]
    with transaction(session):
        service.ingest_events(session, subject_id, batch, actor=ACTOR, lawful_categories=ALL_EVENT_CATEGORIES)
        session.execute(
            sa.update(ProfileFieldValue)
            .where(ProfileFieldValue.subject_id == subject_id, ProfileFieldValue.name == "phone")
            .values(updated_at=old)
        )
    days = retention_days_by_category(get_runtime().catalog, purposes())
    with transaction(session):
        details = apply_retention(session, catalog=get_runtime().catalog, retention_days=days, actor=ACTOR, now=now)
    assert details["events_deleted"] == {"chat_intent": 1}
    assert details["fields_deleted"] == {"phone": 1}
    remaining = {e.event_id for e in service.iter_events(session, subject_id)}
    assert remaining == {"evt-2", "evt-3"}
    assert "phone" not in service.read_profile(session, subject_id, actor=ACTOR, view="masked")["fields"]
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "vault.retention.apply"))
    assert entry.details["events_deleted"] == {"chat_intent": 1}


def test_retention_job_and_erased_subject_keys(app: Flask, session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    old = utcnow() - dt.timedelta(days=4000)
    with transaction(session):
        service.ingest_events(
            session,
            subject_id,
            [event(1, "purchase", value=3.0, occurred_at=old.isoformat())],
            actor=ACTOR,
            lawful_categories={"purchase"},
        )
        service.shred_subject(session, subject_id, actor=ACTOR, reason="erasure", keep_categories={"purchase"})
    with transaction(session):
        enqueue(session, "vault.retention", {})
    drain(app, kinds=["vault.retention"])
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "vault.retention.apply"))
    assert entry.details["events_deleted"] == {"purchase": 1}
    assert entry.details["erased_subject_keys_destroyed"] == 1
