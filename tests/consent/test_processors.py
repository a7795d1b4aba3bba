"""Processors get a signed webhook for every withdrawal and expiry, delivered by the job worker with retries
until acknowledged; the delivery status is visible. A real HTTP server on 127.0.0.1 plays the processor."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from governance.consent import processors, service, webhooks
from governance.jobs.models import Job
from governance.jobs.worker import drain
from tests.consent.conftest import PRODUCT, SYSTEM, at


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/consent"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = 503 if receiver.fail_next > 0 else 204
                receiver.fail_next -= 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _run_due_jobs(app: Flask, session: Session) -> None:
    # retries are scheduled in the future; make them due now instead of sleeping through the backoff
    session.execute(sa.update(Job).where(Job.status == "queued").values(run_after=sa.func.now()))
    session.commit()
    drain(app, kinds=[processors.DELIVERY_JOB])


def test_withdrawal_is_delivered_signed_with_retries(
    app: Flask, session: Session, subject: uuid.UUID, receiver: Receiver
) -> None:
    view, secret = processors.register_processor(session, name="crm", url=receiver.url, actor=SYSTEM)
    other, _ = processors.register_processor(
        session, name="ads", url=receiver.url, actor=SYSTEM, purposes=["partner_sharing"]
    )
    session.commit()
    service.record_decisions(
        session, subject, [{"purpose": "personalized_recommendations", "decision": "granted"}],
        method="api", actor=PRODUCT, jurisdiction="EU",
    )  # fmt: skip
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0  # grants notify nobody
    receipts = service.record_decisions(
        session, subject, [{"purpose": "personalized_recommendations", "decision": "withdrawn"}],
        method="dashboard", actor=SYSTEM, jurisdiction="EU",
    )  # fmt: skip
    session.commit()
    (delivery,) = processors.deliveries(session)
    assert delivery.processor_id == view.id  # "ads" only wants partner_sharing
    assert delivery.status == "pending"

    receiver.fail_next = 2
    for _ in range(3):
        _run_due_jobs(app, session)
    session.expire_all()
    (status,) = service.delivery_status(session, [delivery.id])
    assert status.status == "delivered"
    assert status.attempts == 3
    assert status.last_status_code == 204
    headers, body = receiver.requests[-1]
    webhooks.verify(secret.encode(), body, headers[webhooks.SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["event"] == "consent.withdrawn"
    assert payload["subject_id"] == str(subject)
    assert payload["data"]["purposes"] == ["personalized_recommendations"]
    assert payload["data"]["record_ids"] == [str(receipts[0].record_id)]
    assert headers[webhooks.DELIVERY_HEADER] == str(delivery.id)
    with pytest.raises(webhooks.WebhookSignatureError):
        webhooks.verify(b"wrong", body, headers[webhooks.SIGNATURE_HEADER])
    assert other.id != view.id


def test_expiry_is_delivered_and_unreachable_processor_fails_visibly(
    app: Flask, session: Session, subject: uuid.UUID, receiver: Receiver
) -> None:
    processors.register_processor(session, name="down", url="http://127.0.0.1:9/none", actor=SYSTEM)
    processors.register_processor(session, name="up", url=receiver.url, actor=SYSTEM)
    session.commit()
    service.record_decisions(
        session, subject, [{"purpose": "partner_sharing", "decision": "granted", "collected_at": at()}],
        method="api", actor=PRODUCT, jurisdiction="EU", now=at(),
    )  # fmt: skip
    assert service.expire_due(session, now=at(400)) == 1
    session.commit()
    for _ in range(processors.MAX_ATTEMPTS):
        _run_due_jobs(app, session)
    session.expire_all()
    by_status = {d.status: d for d in processors.deliveries(session)}
    assert set(by_status) == {"delivered", "failed"}
    assert by_status["failed"].attempts == processors.MAX_ATTEMPTS
    assert by_status["failed"].last_error == "URLError"
    assert json.loads(receiver.requests[0][1])["event"] == "consent.expired"
    # an admin can queue it again once the endpoint is fixed
    again = processors.redeliver(session, by_status["failed"].id, actor=SYSTEM)
    assert again.status == "pending"


def test_processor_registration_is_validated(session: Session) -> None:
    from governance.errors import DomainError

    for bad in ["ftp://example.com/x", "http://user:pw@example.com/", "not a url"]:
        with pytest.raises(DomainError):
            processors.register_processor(session, name="x", url=bad, actor=SYSTEM)
    with pytest.raises(DomainError):
        processors.register_processor(session, name="x", url="https://example.com/h", actor=SYSTEM, events=["BAD"])
    view, first = processors.register_processor(session, name="x", url="https://example.com/h", actor=SYSTEM)
    rotated, second = processors.rotate_secret(session, view.id, actor=SYSTEM)
    assert first != second
    assert rotated.secret_version == 2
