"""Broker tests run against the real RabbitMQ at GOVERNANCE_TEST_BROKER_URL (default: guest on 127.0.0.1:5672).

Unreachable: skipped on a developer's machine, FAILED in CI (CI=true) or with GOVERNANCE_REQUIRE_BROKER=1,
the same rule as PostgreSQL's (scripts/test.sh). Each test gets uniquely named exchanges and queues and
deletes them afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from governance.access.principals import Principal

BROKER_URL_ENV = "GOVERNANCE_TEST_BROKER_URL"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SYSTEM = Principal.system("tests")


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("GOVERNANCE_REQUIRE_BROKER") == "1"


@pytest.fixture(scope="session")
def broker_url() -> str:
    import pika

    url = os.environ.get(BROKER_URL_ENV, DEFAULT_BROKER_URL)
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    try:
        pika.BlockingConnection(params).close()
    except pika.exceptions.AMQPError as exc:
        message = f"RabbitMQ unreachable at {params.host}:{params.port} ({type(exc).__name__})"
        if _required():
            pytest.fail(f"{message}: it is required here (CI / GOVERNANCE_REQUIRE_BROKER=1)", pytrace=False)
        pytest.skip(f"{message}; set {BROKER_URL_ENV}")
    return url


class Names:
    """Unique exchange and queue names for one test; everything declared under them is deleted afterwards."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.exchange = f"test.{tag}.events"
        self.unrouted = f"{self.exchange}.unrouted"
        self.alternate = f"{self.exchange}.alternate"
        self.intake = f"test.{tag}.intake"
        self.dead_exchange = f"{self.intake}.dead"
        self.dead_queue = f"{self.intake}.dead"
        self.queues = [self.unrouted, self.intake, self.dead_queue]
        self.exchanges = [self.exchange, self.alternate, self.dead_exchange]

    def settings(self, url: str) -> dict[str, str]:
        return {
            "BROKER_URL": url,
            "BROKER_EXCHANGE": self.exchange,
            "BROKER_INTAKE_QUEUE": self.intake,
        }

    def queue(self, suffix: str) -> str:
        name = f"{self.exchange}.{suffix}"
        self.queues.append(name)
        return name


@pytest.fixture
def names(broker_url: str) -> Iterator[Names]:
    import pika

    made = Names()
    yield made
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        for queue in made.queues:
            connection.channel().queue_delete(queue)
        for exchange in made.exchanges:
            connection.channel().exchange_delete(exchange)
    finally:
        connection.close()


@pytest.fixture
def broker_app(make_app: Callable[..., Flask], app: Flask, broker_url: str, names: Names) -> Flask:
    """An app over the same (emptied) tables, configured for this test's exchanges and queues."""
    return make_app(**names.settings(broker_url))


@pytest.fixture
def make_subject(app: Flask) -> Callable[[], uuid.UUID]:
    from governance.vault import service as vault

    def factory() -> uuid.UUID:
        with app.app_context():
            session = app.extensions["governance.db"].session()
            try:
                view = vault.create_subject(session, external_ref=f"user-{uuid.uuid4().hex[:12]}", actor=SYSTEM)
                session.commit()
            finally:
                session.close()
        return view.id

    return factory


def outbox_rows(app: Flask, *where: Any) -> list[Any]:
    from governance.outbox.models import OutboxMessage

    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            return list(session.scalars(sa.select(OutboxMessage).where(*where).order_by(OutboxMessage.seq)))
        finally:
            session.close()


@pytest.fixture(autouse=True)
def _receipt_key_state_matches_the_tables(request: pytest.FixtureRequest) -> None:
    """As in tests/consent: the tables were emptied, so this process must publish its receipt key again."""
    if "app" not in request.fixturenames:
        return
    from governance.consent.service import KNOWN_KEYS_EXTENSION, SIGNER_EXTENSION

    app = request.getfixturevalue("app")
    app.extensions.pop(SIGNER_EXTENSION, None)
    app.extensions.pop(KNOWN_KEYS_EXTENSION, None)
