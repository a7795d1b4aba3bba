"""The broker's intake consumer: event batches from a RabbitMQ queue, stored exactly as `POST /api/v1/events`.

A message is one batch: `{"events": [...]}` (the HTTP body, up to 10,000 events, each with its `subject_id`).
Per message: validate; store through `governance.intake.service.ingest_mixed` in one transaction (consent-gated
and idempotent by event id, like HTTP); commit; publish each rejected event to the dead-letter exchange with
its reason code (publisher confirms); only then acknowledge. So:

- at least once: a consumer killed before the ack gets the message again, and its stored events then count as
  duplicates (a rejected event may reach the dead-letter queue twice: dedupe by the headers
  `x-governance-message` + `x-governance-index`);
- malformed messages (not JSON, not the batch shape, too many events) go to the dead-letter queue whole, with
  reason `malformed_message`; they never stop the consumer;
- database down: the message is returned to the queue (nack with requeue) and the consumer backs off;
- logs carry counts, reason codes and the delivery tag, never an event, a payload or a producer's message id.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections import Counter
from typing import Any

import pydantic
import sqlalchemy.exc
from flask import Flask

from governance import broker
from governance.access.principals import Principal
from governance.db import transaction
from governance.errors import DomainError
from governance.intake.service import ingest_mixed
from governance.vault.schemas import MixedEventBatchBody

log = logging.getLogger("governance.intake")

ACTOR = Principal.system("broker.intake")
REASON_HEADER = "x-governance-reason"
MESSAGE_HEADER = "x-governance-message"  # our id of the incoming message (a fresh uuid, or its message_id)
INDEX_HEADER = "x-governance-index"
MALFORMED = "malformed_message"
MAX_BACKOFF_SECONDS = 30.0


class _Malformed(Exception):
    pass


def parse_batch(body: bytes) -> list[Any]:
    """The events of a message body; raises _Malformed (no detail: it could echo the producer's text)."""
    try:
        return MixedEventBatchBody.model_validate_json(body).events
    except (pydantic.ValidationError, ValueError, UnicodeDecodeError):
        raise _Malformed() from None


class IntakeConsumer:
    def __init__(self, app: Flask, config: broker.BrokerSettings) -> None:
        self.app = app
        self.config = config
        self.counts: Counter[str] = Counter()  # accepted, duplicates, dead_lettered, malformed, requeued
        self._connection: Any = None
        self._channel: Any = None

    # --- the broker side ---------------------------------------------------------------------------------

    def _open(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = broker.connect(self.config)
            channel = self._connection.channel()
            broker.declare_intake(channel, self.config)
            channel.basic_qos(prefetch_count=self.config.prefetch)
            channel.confirm_delivery()  # dead-letter publishes return once the broker has them
            self._channel = channel
        return self._channel

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):  # a broken connection; the next call reconnects
                connection.close()

    def _dead_letter(self, channel: Any, body: bytes, reason: str, message: str, index: int | None) -> None:
        import pika  # deferred: only the consumer process talks to the broker, never a web worker

        headers: dict[str, Any] = {REASON_HEADER: reason, MESSAGE_HEADER: message}
        if index is not None:
            headers[INDEX_HEADER] = index
        channel.basic_publish(
            exchange=self.config.dead_letter_exchange,
            routing_key=reason,
            body=body,
            properties=pika.BasicProperties(
                content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent, headers=headers
            ),
        )

    # --- one message -------------------------------------------------------------------------------------

    def handle(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        """Process one delivery and acknowledge it, or return it to the queue if the database failed."""
        message = _message_ref(properties)
        try:
            events = parse_batch(body)
        except _Malformed:
            self._dead_letter(channel, body, MALFORMED, message, None)
            channel.basic_ack(method.delivery_tag)
            self.counts["malformed"] += 1
            log.warning("intake message malformed", extra={"delivery_tag": method.delivery_tag, "reason": MALFORMED})
            return
        db = self.app.extensions["governance.db"]
        try:
            with self.app.app_context(), db.session() as session, transaction(session):
                result = ingest_mixed(session, events, actor=ACTOR)
        except DomainError as exc:  # the whole batch refused (e.g. over 10,000 events for one subject)
            self._dead_letter(channel, body, exc.code, message, None)
            channel.basic_ack(method.delivery_tag)
            self.counts["dead_lettered"] += 1
            log.warning("intake message rejected", extra={"delivery_tag": method.delivery_tag, "reason": exc.code})
            return
        except sqlalchemy.exc.SQLAlchemyError:
            channel.basic_nack(method.delivery_tag, requeue=True)  # nothing committed: try again later
            self.counts["requeued"] += 1
            raise
        for rejection in result["rejected"]:
            raw = json.dumps(events[rejection["index"]], separators=(",", ":")).encode()
            self._dead_letter(channel, raw, rejection["error"], message, rejection["index"])
        channel.basic_ack(method.delivery_tag)  # after the commit and the dead-letter confirms: at least once
        self.counts["accepted"] += result["accepted"]
        self.counts["duplicates"] += result["duplicates"]
        self.counts["dead_lettered"] += len(result["rejected"])
        log.info(
            "intake batch stored",
            extra={
                "delivery_tag": method.delivery_tag,
                "accepted": result["accepted"],
                "duplicates": result["duplicates"],
                "rejected": dict(Counter(r["error"] for r in result["rejected"])),
            },
        )

    # --- loops -------------------------------------------------------------------------------------------

    def drain(self) -> int:
        """Process messages until the queue is empty; returns how many were handled (tests, `--once`)."""
        channel = self._open()
        handled = 0
        while True:
            method, properties, body = channel.basic_get(self.config.intake_queue)
            if method is None:
                return handled
            self.handle(channel, method, properties, body)
            handled += 1

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set. Broker or database down: log the exception type, back off, retry
        (unacknowledged messages stay in the queue)."""
        failures = 0
        while not stop.is_set():
            try:
                channel = self._open()
                for method, properties, body in channel.consume(self.config.intake_queue, inactivity_timeout=1.0):
                    if stop.is_set():
                        break
                    if method is not None:
                        self.handle(channel, method, properties, body)
                    failures = 0
                with contextlib.suppress(Exception):
                    channel.cancel()
            except Exception as exc:
                self.close()
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(failures, 8))
                log.warning(
                    "intake consumer failed, retrying",
                    extra={"error_type": type(exc).__name__, "failures": failures, "retry_in_seconds": delay},
                )
                stop.wait(delay)
        self.close()


def _message_ref(properties: Any) -> str:
    """The incoming message's id for the dead-letter headers: the producer's `message_id` when it is a UUID
    (so it carries nothing else), otherwise a fresh one."""
    given = getattr(properties, "message_id", None)
    try:
        return str(uuid.UUID(str(given)))
    except ValueError:
        return str(uuid.uuid4())
