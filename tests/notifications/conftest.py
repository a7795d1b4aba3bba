"""A real SMTP server (aiosmtpd, in a thread on a port the OS chose) and an app configured to send through it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy.orm import Session

from tests.fixtures.ports import unused_port
from tests.requests.conftest import make_subject  # noqa: F401  (the same subjects as the requests tests)


class Mailbox:
    """What the server received: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A port for the server; the test decides when it is up (`start()`), teardown always stops it."""
    server = SmtpServer(unused_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_app(app: Flask, make_app, smtp_server: SmtpServer) -> Flask:
    """An app over the same (emptied) database whose job worker sends through `smtp_server`."""
    return make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_FROM="privacy@example.com")


@pytest.fixture
def drain_in(session: Session) -> Callable[[Flask], int]:
    """Run every due job with the given app's worker until none is left (after ending the test session's read
    transaction: SQLite lets no worker write while it is open)."""
    from governance.jobs.worker import drain

    def run(worker_app: Flask) -> int:
        session.rollback()
        total = 0
        while ran := drain(worker_app):
            total += ran
        return total

    return run
