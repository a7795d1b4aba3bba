"""The broker's intake consumer against the real RabbitMQ: the same orchestration as POST /api/v1/events
(consent-gated, idempotent by event id), rejected events to the dead-letter queue with their reason code and
never in the logs, malformed messages dead-lettered without stopping the consumer, and a message whose
transaction failed stays in the queue (acknowledged only after the commit)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

import pika
import pytest
import sqlalchemy as sa
from flask import Flask

from governance import broker
from governance.consent import service as consent
from governance.db import transaction
from governance.intake.consumer import INDEX_HEADER, MESSAGE_HEADER, REASON_HEADER, IntakeConsumer
from tests.broker.broker_helpers import BrokerLink, read
from tests.broker.conftest import SYSTEM, Names
from tests.fixtures.ports import unused_port

RECS = "personalized_recommendations"  # covers view, click, search, purchase, rating
CANARY = "canary-7c1e-event"


def _config(app: Flask) -> broker.BrokerSettings:
    return broker.BrokerSettings.from_settings(app.extensions["governance.settings"])


def _publish(url: str, config: broker.BrokerSettings, *bodies: bytes, message_id: str | None = None) -> None:
    """What a producer does: publish batches to the intake queue, persistent, with confirms."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        broker.declare_intake(channel, config)
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(
                "", config.intake_queue, body,
                pika.BasicProperties(delivery_mode=2, content_type="application/json", message_id=message_id),
            )  # fmt: skip
    finally:
        connection.close()


def _queue_depth(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def _event(subject: uuid.UUID | str, event_id: str, category: str = "view", minute: int = 0) -> dict[str, Any]:
    event = {
        "subject_id": str(subject),
        "event_id": event_id,
        "category": category,
        "occurred_at": (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)).isoformat(),
        "item_id": "item-1",
        "context": {"time_of_day": "evening", "device": "mobile"},
    }
    if category == "view":
        event["value"] = 12.5
    return event


def _stored(app: Flask, subject: uuid.UUID) -> int:
    from governance.vault import service as vault

    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            return sum(vault.event_counts(session, subject).values())
        finally:
            session.close()


def _people(app: Flask, make_subject) -> tuple[uuid.UUID, uuid.UUID]:
    consenting, silent = make_subject(), make_subject()
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            with transaction(session):
                consent.record_decisions(
                    session, consenting, [{"purpose": RECS, "decision": "granted"}], method="api", actor=SYSTEM,
                    jurisdiction="EU",
                )  # fmt: skip
        finally:
            session.close()
    return consenting, silent


def test_a_batch_is_gated_and_dead_lettered_exactly_like_the_http_intake(
    broker_app: Flask, app: Flask, names: Names, broker_url: str, make_subject, bearer, caplog
) -> None:
    consenting, silent = _people(app, make_subject)
    events: list[Any] = [
        _event(consenting, "e-0"),  # accepted
        _event(silent, CANARY),  # no purpose the person permits covers views: no_lawful_basis
        _event(uuid.uuid4(), "e-2"),  # unknown_subject
        _event(consenting, "e-3", category="teleport"),  # unknown_category
        _event(consenting, "e-4", category="click", minute=1),  # accepted
        "not an event",  # invalid_event
    ]
    body = json.dumps({"events": events}).encode()
    config = _config(broker_app)
    _publish(broker_url, config, body, message_id="3b0b6a56-2d1b-4e7e-9d59-0c6f2b7f0b11")
    consumer = IntakeConsumer(broker_app, config)
    with caplog.at_level(logging.DEBUG, logger="governance"):
        try:
            assert consumer.drain() == 1
        finally:
            consumer.close()
    assert _stored(app, consenting) == 2
    assert _stored(app, silent) == 0
    dead = read(broker_url, config.dead_letter_queue, at_least=4)
    assert sorted((d["headers"][INDEX_HEADER], d["headers"][REASON_HEADER]) for d in dead) == [
        (1, "no_lawful_basis"),
        (2, "unknown_subject"),
        (3, "unknown_category"),
        (5, "invalid_event"),
    ]
    assert {d["headers"][MESSAGE_HEADER] for d in dead} == {"3b0b6a56-2d1b-4e7e-9d59-0c6f2b7f0b11"}
    by_index = {d["headers"][INDEX_HEADER]: d for d in dead}
    assert json.loads(by_index[1]["raw"]) == events[1]  # the rejected event itself, for whoever fixes it
    assert _queue_depth(broker_url, config.intake_queue) == 0  # acknowledged
    # the reason codes are logged, the events never
    logged = " ".join(repr(vars(record)) for record in caplog.records)  # messages and their structured fields
    assert "no_lawful_basis" in logged
    assert CANARY not in logged
    assert str(silent) not in logged

    # the HTTP route answers the same batch with the same judgement (and the stored ones are duplicates)
    answer = app.test_client().post("/api/v1/events", json={"events": events}, headers=bearer(["events:write"]))
    assert answer.status_code == 200
    http = answer.get_json()
    assert (http["accepted"], http["duplicates"]) == (0, 2)
    assert [(r["index"], r["error"]) for r in http["rejected"]] == sorted(
        (d["headers"][INDEX_HEADER], d["headers"][REASON_HEADER]) for d in dead
    )


def test_a_redelivered_batch_stores_nothing_twice(
    broker_app: Flask, app: Flask, names: Names, broker_url: str, make_subject
) -> None:
    consenting, _ = _people(app, make_subject)
    body = json.dumps({"events": [_event(consenting, f"r-{n}", minute=n) for n in range(5)]}).encode()
    config = _config(broker_app)
    _publish(broker_url, config, body, body)  # the producer (or a redelivery) sends it twice
    consumer = IntakeConsumer(broker_app, config)
    try:
        assert consumer.drain() == 2
    finally:
        consumer.close()
    assert _stored(app, consenting) == 5
    assert (consumer.counts["accepted"], consumer.counts["duplicates"]) == (5, 5)
    assert _queue_depth(broker_url, config.dead_letter_queue) == 0


def test_malformed_messages_are_dead_lettered_and_the_consumer_goes_on(
    broker_app: Flask, app: Flask, names: Names, broker_url: str, make_subject
) -> None:
    consenting, _ = _people(app, make_subject)
    malformed = [
        b"not json at all",
        b"[1, 2, 3]",
        b'{"events": [], "extra": 1}',
        b'{"events": "x"}',
        b"\xff\xfe\x00",
        json.dumps({"events": [{}] * 10_001}).encode(),
    ]
    good = json.dumps({"events": [_event(consenting, "ok-1")]}).encode()
    config = _config(broker_app)
    _publish(broker_url, config, *malformed, good)
    consumer = IntakeConsumer(broker_app, config)
    try:
        assert consumer.drain() == len(malformed) + 1
    finally:
        consumer.close()
    assert _stored(app, consenting) == 1
    dead = read(broker_url, config.dead_letter_queue, at_least=len(malformed))
    assert [d["headers"][REASON_HEADER] for d in dead] == ["malformed_message"] * len(malformed)
    assert [d["raw"] for d in dead] == malformed  # kept whole, as sent


def test_a_batch_whose_transaction_fails_stays_in_the_queue(
    make_app, app: Flask, names: Names, broker_url: str, make_subject
) -> None:
    consenting, _ = _people(app, make_subject)
    nobody_listens = unused_port()  # a database that refuses connections
    broken = make_app(
        **names.settings(broker_url), DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{nobody_listens}/x"
    )
    config = _config(broken)
    _publish(broker_url, config, json.dumps({"events": [_event(consenting, "later-1")]}).encode())
    consumer = IntakeConsumer(broken, config)
    try:
        with pytest.raises(sa.exc.OperationalError):
            consumer.drain()
    finally:
        consumer.close()
    assert consumer.counts["requeued"] == 1
    assert _queue_depth(broker_url, config.intake_queue) == 1  # not acknowledged: nothing lost
    healthy = make_app(**names.settings(broker_url))
    consumer = IntakeConsumer(healthy, _config(healthy))
    try:
        assert consumer.drain() == 1
    finally:
        consumer.close()
    assert _stored(app, consenting) == 1


@pytest.mark.slow
def test_the_intake_consumer_command(
    broker_app: Flask, app: Flask, names: Names, broker_url: str, make_subject, database_url: str, instance_dir
) -> None:
    from tests.broker.broker_helpers import governance_process

    consenting, _ = _people(app, make_subject)
    config = _config(broker_app)
    _publish(broker_url, config, json.dumps({"events": [_event(consenting, "cli-1")]}).encode(), b"{oops")
    process = governance_process(
        ["intake-consumer", "--once"], database_url=database_url, instance_dir=instance_dir,
        settings=names.settings(broker_url),
    )  # fmt: skip
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert "handled 2 messages" in out
    assert _stored(app, consenting) == 1
    assert _queue_depth(broker_url, config.dead_letter_queue) == 1
    assert "oops" not in err  # the malformed body is never logged


def test_the_consuming_loop_stores_batches_until_stopped(
    broker_app: Flask, app: Flask, names: Names, broker_url: str, make_subject
) -> None:
    import threading
    import time

    consenting, _ = _people(app, make_subject)
    config = _config(broker_app)
    consumer = IntakeConsumer(broker_app, config)
    stop = threading.Event()
    loop = threading.Thread(target=consumer.run, args=(stop,))
    loop.start()
    try:
        _publish(broker_url, config, *(json.dumps({"events": [_event(consenting, f"l-{n}", minute=n)]}).encode()
                                       for n in range(3)))  # fmt: skip
        deadline = time.monotonic() + 90
        while _stored(app, consenting) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        loop.join(60)
    assert not loop.is_alive()
    assert _stored(app, consenting) == 3
    assert _queue_depth(broker_url, config.intake_queue) == 0


def _wait_for(condition: Any, what: str, deadline: float = 90.0) -> None:
    import time

    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_broker_down_the_consumer_backs_off_and_takes_up_the_queue_again(
    broker_app: Flask, app: Flask, names: Names, broker_url: str, make_subject, caplog
) -> None:
    """docs/broker.md, "Failure behaviour": with the broker unreachable the consumer logs the exception type,
    backs off and reconnects; the batches producers sent meanwhile wait in RabbitMQ and are all stored."""
    import threading

    consenting, _ = _people(app, make_subject)
    config = _config(broker_app)

    def batch(n: int) -> bytes:
        return json.dumps({"events": [_event(consenting, f"{CANARY}-{n}", minute=n)]}).encode()

    link = BrokerLink(broker_url)  # the consumer reaches RabbitMQ only through it; the producer directly
    consumer = IntakeConsumer(broker_app, config.replace(url=link.url))
    stop = threading.Event()
    loop = threading.Thread(target=consumer.run, args=(stop,))
    with caplog.at_level(logging.INFO, logger="governance"):
        loop.start()
        try:
            _publish(broker_url, config, batch(0))
            _wait_for(lambda: _stored(app, consenting) == 1, "the first batch")

            link.cut()  # the broker goes away under the running consumer
            _wait_for(
                lambda: any(r.getMessage() == "intake consumer failed, retrying" for r in caplog.records),
                "the consumer to notice",
            )
            _publish(broker_url, config, batch(1), batch(2))  # producers go on: RabbitMQ keeps their batches
            # (ready once RabbitMQ has seen the cut connection close: a batch it handed that one comes back).
            # The consumer acks after its commit, so the cut may also have taken batch 0's ack: then batch 0
            # waits too, and its redelivery stores nothing twice (intake is idempotent by event id).
            _wait_for(lambda: _queue_depth(broker_url, config.intake_queue) in (2, 3), "both batches to wait")
            assert _stored(app, consenting) == 1

            link.restore()
            _wait_for(lambda: _stored(app, consenting) == 3, "the batches sent while it was down")
        finally:
            stop.set()
            loop.join(60)
            link.close()
    assert not loop.is_alive()
    assert _queue_depth(broker_url, config.intake_queue) == 0
    assert _queue_depth(broker_url, config.dead_letter_queue) == 0
    retries = [r for r in caplog.records if r.getMessage() == "intake consumer failed, retrying"]
    assert all(r.error_type and r.retry_in_seconds > 0 for r in retries)  # type: ignore[attr-defined]
    logged = " ".join(repr(vars(record)) for record in caplog.records)
    assert CANARY not in logged
    assert str(consenting) not in logged
    assert "guest:guest" not in logged  # the URL holds a password
