"""The outbox is written in the transaction of each change it announces: consent grants, withdrawals, expiries,
GPC signals and objections (one INSERT per transaction), erasures and model flags (tests/requests and
tests/training check those two in their end-to-end tests). No broker needed here."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from governance.consent import service as consent
from governance.db import transaction
from governance.outbox import service as outbox
from governance.outbox.models import OutboxMessage
from tests.broker.conftest import SYSTEM, outbox_rows

RECS = "personalized_recommendations"
SHARING = "partner_sharing"
T0 = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


@pytest.fixture
def db(app: Flask) -> Iterator[sa.orm.Session]:
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            yield session
        finally:
            session.close()


def _decide(session: sa.orm.Session, subject: uuid.UUID, *pairs: tuple[str, str], when: dt.datetime) -> None:
    with transaction(session):
        consent.record_decisions(
            session,
            subject,
            [{"purpose": p, "decision": d, "collected_at": when} for p, d in pairs],
            method="api",
            actor=SYSTEM,
            jurisdiction="EU",
            now=when,
        )


class StatementLog:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self) -> StatementLog:
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        self.statements.append(statement)

    def touching(self, table: str) -> list[str]:
        return [s for s in self.statements if table in s]


def test_a_consent_write_adds_one_insert_with_a_row_per_event(app: Flask, db, make_subject) -> None:
    subject = make_subject()
    with StatementLog(app.extensions["governance.db"].engine) as log:
        _decide(db, subject, (RECS, "granted"), ("model_training", "granted"), (SHARING, "withdrawn"), when=at(0))
    # one statement writes the outbox rows: the write's combined statement (governance.write_batch), which on
    # SQLite goes through the routing view
    outbox_statements = log.touching("outbox_messages") + log.touching("governance_batch_rows")
    assert len(outbox_statements) == 1
    assert outbox_statements[0].lstrip().upper().startswith(("INSERT", "WITH"))
    rows = outbox_rows(app)
    assert [(r.event, r.subject_id, r.sent_at) for r in rows] == [
        ("consent.granted", subject, None),
        ("consent.withdrawn", subject, None),
    ]
    granted = rows[0].data
    assert granted["purposes"] == [RECS, "model_training"]
    assert granted["method"] == "api"
    assert granted["effective_at"] == at(0).isoformat()
    ledger = {str(e.id) for e in consent.history(db, subject)}
    assert set(granted["record_ids"]) | set(rows[1].data["record_ids"]) == ledger
    assert len({r.id for r in rows}) == 2


def test_nothing_reaches_the_outbox_when_the_change_rolls_back(app: Flask, db, make_subject) -> None:
    subject = make_subject()

    def route_that_fails_after_the_service_call() -> None:
        with transaction(db):
            consent.record_decisions(
                db, subject, [{"purpose": RECS, "decision": "granted"}], method="api", actor=SYSTEM, jurisdiction="EU"
            )
            raise RuntimeError("the route failed after the service call")

    with pytest.raises(RuntimeError, match="route failed"):
        route_that_fails_after_the_service_call()
    assert outbox_rows(app) == []
    assert consent.history(db, subject) == []


def test_superseded_decisions_announce_nothing(app: Flask, db, make_subject) -> None:
    subject = make_subject()
    _decide(db, subject, (RECS, "withdrawn"), when=at(2))
    _decide(db, subject, (RECS, "granted"), when=at(1))  # collected before the withdrawal: changes nothing
    assert [r.event for r in outbox_rows(app)] == ["consent.withdrawn"]


def test_gpc_expiry_and_objections_are_announced(app: Flask, db, make_subject) -> None:
    subject = make_subject()
    _decide(db, subject, (SHARING, "granted"), (RECS, "granted"), when=at(0))
    with transaction(db):
        consent.apply_gpc(db, subject, actor=SYSTEM, now=at(1))
    with transaction(db):
        consent.object_to(db, subject, ["fraud_prevention"], actor=SYSTEM, now=at(2))
    with transaction(db):
        consent.lift_objection(db, subject, ["fraud_prevention"], actor=SYSTEM, now=at(3))
    with transaction(db):
        assert consent.expire_due(db, now=at(731)) == 1  # the recommendations consent (730 days)
    got = [(r.event, r.data["purposes"], r.data["method"]) for r in outbox_rows(app)]
    assert got == [
        ("consent.granted", [SHARING, RECS], "api"),
        ("consent.withdrawn", [SHARING], "gpc"),
        ("consent.objected", ["fraud_prevention"], "request"),
        ("consent.objection_lifted", ["fraud_prevention"], "request"),
        ("consent.expired", [RECS], "expiry"),
    ]


def test_the_message_body_is_the_webhook_document(app: Flask, db, make_subject) -> None:
    subject = make_subject()
    _decide(db, subject, (RECS, "withdrawn"), when=at(0))
    (message,) = outbox.pending(db, limit=10)
    body = json.loads(message.body())
    # the keys of governance.consent.processors.deliver's body: ids, names and enumerated values only
    assert set(body) == {"id", "event", "subject_id", "created_at", "data"}
    assert body["id"] == str(message.id)
    assert body["subject_id"] == str(subject)
    assert set(body["data"]) == {"purposes", "record_ids", "effective_at", "method"}
    assert "user-" not in message.body().decode()  # the product's reference (external_ref) never goes out


def test_write_rejects_a_bad_event_name_and_writes_nothing_for_no_events(app: Flask, db) -> None:
    with pytest.raises(ValueError, match="event names"):
        outbox.write(db, [outbox.OutboxEvent("Withdrawn!", uuid.uuid4(), {})])
    with StatementLog(app.extensions["governance.db"].engine) as log:
        assert outbox.write(db, []) == []
    assert log.statements == []
    db.rollback()


def test_mark_sent_backlog_and_purge(app: Flask, db) -> None:
    subject = uuid.uuid4()
    with transaction(db):
        ids = outbox.write(db, [outbox.OutboxEvent("subject.erased", subject, {"request_id": "r"})] * 3, now=at(0))
    assert outbox.backlog(db).pending == 3
    assert outbox.backlog(db).oldest_created_at == at(0)
    db.rollback()
    first = outbox.pending(db, limit=2)
    assert [m.id for m in first] == ids[:2]
    with transaction(db):
        assert outbox.mark_sent(db, [m.seq for m in first], now=at(1)) == 2
        assert outbox.mark_sent(db, [m.seq for m in first], now=at(2)) == 0  # already sent: unchanged
    assert [m.id for m in outbox.pending(db, limit=10)] == ids[2:]
    with transaction(db):
        assert outbox.purge_sent(db, older_than=at(1)) == 0
        assert outbox.purge_sent(db, older_than=at(1.5)) == 2
    db.rollback()
    assert db.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1  # the unsent one stays


def test_metrics_show_the_backlog_an_alert_reads(app: Flask, db) -> None:
    def gauge(text: str, name: str) -> float:
        return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))

    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert gauge(text, "governance_outbox_pending") == 0
    assert gauge(text, "governance_outbox_oldest_pending_seconds") == 0
    with transaction(db):
        outbox.write(db, [outbox.OutboxEvent("subject.erased", uuid.uuid4(), {})], now=at(0))
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert gauge(text, "governance_outbox_pending") == 1
    assert gauge(text, "governance_outbox_oldest_pending_seconds") > 86400  # written "in 2025"
