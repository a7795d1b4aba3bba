"""RabbitMQ connection settings and topology, shared by the outbox relay and the intake consumer (docs/broker.md).

RabbitMQ with pika's blocking client: both processes are synchronous (like the gunicorn workers and the job
worker), RabbitMQ has native dead-letter exchanges and publisher confirms, and the alternative on these
machines (NATS JetStream) has only an asyncio Python client. pika is imported here only, and only by the two
broker processes, never by a web worker.

The broker URL holds a password: it is never logged (errors name the exception type only).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from governance.settings import Settings

if TYPE_CHECKING:
    import pika
    from pika.adapters.blocking_connection import BlockingChannel

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass(frozen=True)
class BrokerSettings:
    url: str
    exchange: str  # topic exchange the outbox relay publishes to (routing key = event name)
    unrouted_queue: str  # where messages no consumer queue is bound for are kept (the exchange's alternate)
    intake_queue: str  # event batches the intake consumer reads
    dead_letter_exchange: str  # rejected and malformed intake messages, with their reason code
    dead_letter_queue: str
    prefetch: int
    heartbeat_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokerSettings:
        exchange = settings.get("BROKER_EXCHANGE", "governance.events") or "governance.events"
        intake = settings.get("BROKER_INTAKE_QUEUE", "governance.intake") or "governance.intake"
        return cls(
            url=settings.get("BROKER_URL", DEFAULT_URL) or DEFAULT_URL,
            exchange=exchange,
            unrouted_queue=settings.get("BROKER_UNROUTED_QUEUE") or f"{exchange}.unrouted",
            intake_queue=intake,
            dead_letter_exchange=settings.get("BROKER_DEAD_LETTER_EXCHANGE") or f"{intake}.dead",
            dead_letter_queue=settings.get("BROKER_DEAD_LETTER_QUEUE") or f"{intake}.dead",
            prefetch=settings.get_int("BROKER_PREFETCH", 10),
            heartbeat_seconds=settings.get_int("BROKER_HEARTBEAT_SECONDS", 30),
        )

    def replace(self, **changes: Any) -> BrokerSettings:
        return dataclasses.replace(self, **changes)


def connect(config: BrokerSettings) -> pika.BlockingConnection:
    """A blocking connection (raises pika.exceptions.AMQPConnectionError when the broker is unreachable)."""
    import pika  # deferred: only the relay and the intake consumer talk to the broker, never a web worker

    params = pika.URLParameters(config.url)
    params.heartbeat = config.heartbeat_seconds
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    params.socket_timeout = 10
    return pika.BlockingConnection(params)


def declare_events(channel: BlockingChannel, config: BrokerSettings) -> None:
    """The durable topic exchange for outbox messages, with an alternate exchange and queue that keep what no
    consumer has bound a queue for (so a message the broker confirmed is never silently dropped)."""
    alternate = f"{config.exchange}.alternate"
    channel.exchange_declare(alternate, exchange_type="fanout", durable=True)
    channel.queue_declare(config.unrouted_queue, durable=True)
    channel.queue_bind(config.unrouted_queue, alternate)
    channel.exchange_declare(
        config.exchange, exchange_type="topic", durable=True, arguments={"alternate-exchange": alternate}
    )


def declare_intake(channel: BlockingChannel, config: BrokerSettings) -> None:
    """The durable intake queue and its dead-letter exchange and queue (RabbitMQ dead-letters a message the
    consumer rejects without requeue; the consumer also publishes there itself, with the reason code)."""
    channel.exchange_declare(config.dead_letter_exchange, exchange_type="fanout", durable=True)
    channel.queue_declare(config.dead_letter_queue, durable=True)
    channel.queue_bind(config.dead_letter_queue, config.dead_letter_exchange)
    channel.queue_declare(
        config.intake_queue, durable=True, arguments={"x-dead-letter-exchange": config.dead_letter_exchange}
    )
