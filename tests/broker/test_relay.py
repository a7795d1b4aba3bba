"""The outbox relay against the real RabbitMQ: publisher confirms before rows are marked sent, nothing lost
while the broker is down, nothing dropped when no consumer queue is bound, and a relay killed with SIGKILL in
the middle of a batch loses nothing (a restarted relay delivers every message at least once)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
import sqlalchemy as sa
from flask import Flask

from governance import broker
from governance.consent import service as consent
from governance.db import transaction
from governance.outbox import service as outbox
from governance.outbox.relay import Relay
from tests.broker.broker_helpers import (
    bind_consumer_queue,
    closed_port_url,
    governance_process,
    read,
    stop,
)
from tests.broker.conftest import SYSTEM, Names, outbox_rows

RECS = "personalized_recommendations"


@pytest.fixture
def db(broker_app: Flask) -> Iterator[sa.orm.Session]:
    with broker_app.app_context():
        session = broker_app.extensions["governance.db"].session()
        try:
            yield session
        finally:
            session.close()


def _config(app: Flask) -> broker.BrokerSettings:
    return broker.BrokerSettings.from_settings(app.extensions["governance.settings"])


def _grant_then_withdraw(session: sa.orm.Session, subject: uuid.UUID) -> None:
    for decision in ("granted", "withdrawn"):
        with transaction(session):
            consent.record_decisions(
                session, subject, [{"purpose": RECS, "decision": decision}], method="api", actor=SYSTEM,
                jurisdiction="EU",
            )  # fmt: skip


def test_relay_publishes_confirmed_messages_then_marks_them_sent(
    broker_app: Flask, db, names: Names, broker_url: str, make_subject
) -> None:
    queue = names.queue("withdrawals")
    bind_consumer_queue(broker_url, names.exchange, queue, "consent.withdrawn")
    subject = make_subject()
    _grant_then_withdraw(db, subject)
    expected = {m.id: m for m in outbox.pending(db, limit=10)}
    db.rollback()
    relay = Relay(broker_app, _config(broker_app), batch_size=1)
    try:
        assert relay.drain() == 2
    finally:
        relay.close()
    assert all(row.sent_at is not None for row in outbox_rows(broker_app))
    (got,) = read(broker_url, queue, at_least=1)
    assert got["routing_key"] == "consent.withdrawn"
    assert got["type"] == "consent.withdrawn"
    assert got["delivery_mode"] == 2  # persistent: survives a broker restart
    message = expected[uuid.UUID(got["message_id"])]
    assert got["raw"] == message.body()
    assert got["body"]["subject_id"] == str(subject)
    assert got["body"]["data"]["purposes"] == [RECS]
    # the grant went to the exchange too; nothing is bound for it but the unrouted queue keeps it
    (kept,) = read(broker_url, names.unrouted, at_least=1)
    assert kept["routing_key"] == "consent.granted"


def test_broker_down_keeps_every_row_and_recovery_relays_them(
    broker_app: Flask, db, names: Names, broker_url: str, make_subject
) -> None:
    queue = names.queue("all")
    bind_consumer_queue(broker_url, names.exchange, queue)
    for _ in range(3):
        _grant_then_withdraw(db, make_subject())
    down = Relay(broker_app, _config(broker_app).replace(url=closed_port_url()))
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        down.relay_once()
    down.close()
    assert [row.sent_at for row in outbox_rows(broker_app)] == [None] * 6  # nothing marked without a confirm
    up = Relay(broker_app, _config(broker_app), batch_size=4)
    try:
        assert up.drain() == 6
    finally:
        up.close()
    got = read(broker_url, queue, at_least=6)
    assert {g["message_id"] for g in got} == {str(row.id) for row in outbox_rows(broker_app)}
    assert len(got) == 6


def test_the_relay_purges_old_sent_rows_only(broker_app: Flask, db, names: Names) -> None:
    old = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with transaction(db):
        outbox.write(db, [outbox.OutboxEvent("subject.erased", uuid.uuid4(), {})] * 2, now=old)
        first = outbox.pending(db, limit=1)
        outbox.mark_sent(db, [first[0].seq], now=old)
    # the clock as it reads minutes after boot (Linux counts monotonic time from boot): the first purge still runs
    relay = Relay(broker_app, _config(broker_app), keep_days=7, clock=lambda: 60.0)
    try:
        relay._purge()
    finally:
        relay.close()
    rows = outbox_rows(broker_app)
    assert [row.sent_at for row in rows] == [None]  # the sent one is gone, the unsent one kept


def _hold_the_outbox(engine: sa.Engine, backend: str) -> sa.Connection:
    """Block the relay's `mark sent` (but not its reads): a write lock the test holds until it lets go."""
    conn = engine.connect()
    conn.begin()  # SQLite: BEGIN IMMEDIATE, the database's write lock (WAL readers go on)
    if backend == "postgresql":
        conn.exec_driver_sql("LOCK TABLE outbox_messages IN EXCLUSIVE MODE")  # SELECT passes, UPDATE waits
    return conn


@pytest.mark.slow
def test_a_relay_killed_mid_batch_loses_nothing(
    broker_app: Flask,
    db,
    names: Names,
    broker_url: str,
    make_subject,
    database_url: str,
    instance_dir: Path,
    backend: str,
) -> None:
    queue = names.queue("downstream")
    bind_consumer_queue(broker_url, names.exchange, queue, "consent.withdrawn")
    for _ in range(12):
        _grant_then_withdraw(db, make_subject())
    db.rollback()
    withdrawals = {str(r.id) for r in outbox_rows(broker_app) if r.event == "consent.withdrawn"}
    assert len(withdrawals) == 12
    settings = names.settings(broker_url)
    args = ["outbox-relay", "--batch-size", "10", "--poll-seconds", "0.05"]

    lock = _hold_the_outbox(broker_app.extensions["governance.db"].engine, backend)
    try:
        relay = governance_process(args, database_url=database_url, instance_dir=instance_dir, settings=settings)
        try:
            # the first batch (10 of the 24 messages) is being published with confirms; marking it sent would
            # wait on the lock: kill as soon as the consumer sees its first message
            first = read(broker_url, queue, at_least=1)
        finally:
            stop(relay, kill=True)  # kill -9, mid-batch: published, not marked
        assert relay.returncode == -9
    finally:
        lock.rollback()
        lock.close()
    assert first, "the relay published nothing before it was killed"
    assert all(row.sent_at is None for row in outbox_rows(broker_app))  # the kill came before the mark

    restarted = governance_process(args, database_url=database_url, instance_dir=instance_dir, settings=settings)
    try:
        rest = read(broker_url, queue, at_least=len(withdrawals))
        seen = {m["message_id"] for m in first + rest}
        while seen != withdrawals:
            more = read(broker_url, queue, at_least=1)
            assert more, "the restarted relay stopped delivering"
            rest += more
            seen |= {m["message_id"] for m in more}
    finally:
        _out, err = stop(restarted)
    assert restarted.returncode == 0, err[-2000:]
    assert seen == withdrawals  # every withdrawal reached the consumer
    delivered = [m["message_id"] for m in first + rest]
    assert len(delivered) > len(set(delivered))  # some twice: at least once, deduplicated by message id
    assert all(row.sent_at is not None for row in outbox_rows(broker_app))
