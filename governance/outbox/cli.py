"""`governance outbox-relay`: the process that publishes the outbox to the broker (docs/broker.md)."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click
from flask import current_app

from governance import broker
from governance.outbox.relay import Relay


@click.command("outbox-relay")
@click.option("--once", is_flag=True, help="Publish until the outbox is empty, then exit.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None, help="Messages per batch (default 100).")
@click.option("--poll-seconds", type=click.FloatRange(0.01, 60), default=None, help="Idle poll interval (0.2).")
@click.option("--exchange", default=None, help="Topic exchange to publish to (GOVERNANCE_BROKER_EXCHANGE).")
def outbox_relay_command(once: bool, batch_size: int | None, poll_seconds: float | None, exchange: str | None) -> None:
    """Relay outbox messages to RabbitMQ with publisher confirms (at least once; consumers dedupe by message id)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions["governance.settings"]
    config = broker.BrokerSettings.from_settings(settings)
    if exchange:
        config = config.replace(exchange=exchange, unrouted_queue=f"{exchange}.unrouted")
    relay = Relay(
        app,
        config,
        batch_size=batch_size or settings.get_int("OUTBOX_BATCH_SIZE", 100),
        poll_seconds=poll_seconds or settings.get_float("OUTBOX_POLL_SECONDS", 0.2),
        keep_days=settings.get_int("OUTBOX_KEEP_DAYS", 7),
    )
    if once:
        try:
            click.echo(f"published {relay.drain()} messages")
        finally:
            relay.close()
        return
    stop = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"outbox relay started (exchange {config.exchange})", err=True)
    relay.run(stop)
