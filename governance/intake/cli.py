"""`governance intake-consumer`: event batches from RabbitMQ into the vault (docs/broker.md)."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click
from flask import current_app

from governance import broker
from governance.intake.consumer import IntakeConsumer


@click.command("intake-consumer")
@click.option("--once", is_flag=True, help="Process the messages now in the queue, then exit.")
@click.option("--queue", default=None, help="Queue to consume (GOVERNANCE_BROKER_INTAKE_QUEUE).")
def intake_consumer_command(once: bool, queue: str | None) -> None:
    """Consume event batches (at least once, idempotent by event id, consent-gated like POST /api/v1/events);
    rejected and malformed messages go to the dead-letter queue with their reason code."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = broker.BrokerSettings.from_settings(app.extensions["governance.settings"])
    if queue:
        config = config.replace(
            intake_queue=queue, dead_letter_exchange=f"{queue}.dead", dead_letter_queue=f"{queue}.dead"
        )
    consumer = IntakeConsumer(app, config)
    if once:
        try:
            click.echo(f"handled {consumer.drain()} messages")
        finally:
            consumer.close()
        return
    stop = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"intake consumer started (queue {config.intake_queue})", err=True)
    consumer.run(stop)
