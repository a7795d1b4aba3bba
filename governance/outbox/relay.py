"""The outbox relay: publishes unsent outbox rows to RabbitMQ with publisher confirms, then marks them sent.

Order of a batch: read up to `batch_size` unsent rows (a read that never blocks writers), publish each as a
persistent message and wait for the broker's confirm, then mark the whole batch sent in one short transaction.
A relay killed anywhere in between leaves the rows unsent, so the next relay publishes them again: delivery
is at least once, and consumers deduplicate by the AMQP `message_id` (= the body's `id`).

Run one relay per database (a second one is harmless but doubles the duplicates). Broker or database down:
the relay logs the exception type (never the URL or a payload), backs off up to `MAX_BACKOFF_SECONDS` and
retries; nothing is marked sent that the broker did not confirm.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask

from governance import broker
from governance.db import transaction, utcnow
from governance.outbox import service

if TYPE_CHECKING:
    import pika

log = logging.getLogger("governance.outbox")

MAX_BACKOFF_SECONDS = 30.0
PURGE_EVERY_SECONDS = 600.0


class Relay:
    def __init__(
        self,
        app: Flask,
        config: broker.BrokerSettings,
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.2,
        keep_days: int = 7,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.app = app
        self.config = config
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.keep = dt.timedelta(days=keep_days)
        self.published = 0
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._clock = clock
        self._last_purge: float | None = None  # not 0.0: monotonic time starts near 0 at boot

    # --- the broker side ---------------------------------------------------------------------------------

    def _open(self) -> Any:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = broker.connect(self.config)
            channel = self._connection.channel()
            broker.declare_events(channel, self.config)
            channel.confirm_delivery()  # every basic_publish now returns only once the broker has the message
            self._channel = channel
        return self._channel

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):  # closing a broken connection; the next batch reconnects
                connection.close()

    def _publish(self, channel: Any, message: service.PendingMessage) -> None:
        import pika  # deferred: only the relay process talks to the broker, never a web worker

        channel.basic_publish(
            exchange=self.config.exchange,
            routing_key=message.event,
            body=message.body(),
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=str(message.id),
                type=message.event,
                timestamp=int(message.created_at.timestamp()),
                app_id="governance",
            ),
        )  # raises NackError if the broker refuses it: the batch is then not marked sent

    # --- one batch ---------------------------------------------------------------------------------------

    def relay_once(self) -> int:
        """Publish and mark one batch; returns its size (0 when the outbox is empty)."""
        db = self.app.extensions["governance.db"]
        with db.read_only_session() as session:
            batch = service.pending(session, limit=self.batch_size)
        if not batch:
            return 0
        channel = self._open()
        for message in batch:
            self._publish(channel, message)
        with db.session() as session, transaction(session):
            service.mark_sent(session, [m.seq for m in batch], now=utcnow())
        self.published += len(batch)
        return len(batch)

    def drain(self) -> int:
        """Relay until the outbox is empty; returns how many messages were published."""
        total = 0
        while count := self.relay_once():
            total += count
        return total

    def _purge(self) -> None:
        now = self._clock()
        if self._last_purge is not None and now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        db = self.app.extensions["governance.db"]
        with db.session() as session, transaction(session):
            deleted = service.purge_sent(session, older_than=utcnow() - self.keep)
        if deleted:
            log.info("outbox purged", extra={"deleted": deleted})

    # --- the loop ----------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set: poll every `poll_seconds` when idle, back off on failures."""
        failures = 0
        while not stop.is_set():
            try:
                count = self.relay_once()
                self._purge()
            except Exception as exc:  # broker or database unreachable: nothing marked, retried after a pause
                self.close()
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(failures, 8))
                log.warning(
                    "outbox relay failed, retrying",
                    extra={"error_type": type(exc).__name__, "failures": failures, "retry_in_seconds": delay},
                )
                stop.wait(delay)
                continue
            if failures:
                log.info("outbox relay recovered", extra={"failures": failures})
                failures = 0
            if count == 0:  # after a batch, look again at once: a message written meanwhile waits no poll
                stop.wait(self.poll_seconds)
        self.close()
