"""Scrape-time gauges of the outbox backlog: what an alert on a stuck relay or an unreachable broker reads."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from prometheus_client import Gauge

from governance.outbox import service

PENDING = Gauge("governance_outbox_pending", "Outbox messages not yet confirmed by the broker")
OLDEST = Gauge(
    "governance_outbox_oldest_pending_seconds", "Age of the oldest outbox message not yet confirmed by the broker"
)


def refresher(app: Flask) -> Callable[[], None]:
    def refresh() -> None:
        with app.extensions["governance.db"].read_only_session() as session:  # never waits on a writer
            found = service.backlog(session)
        PENDING.set(found.pending)
        OLDEST.set(found.oldest_age_seconds())

    return refresh
