"""End to end: an erasure request runs as a job: retention exceptions applied, subject crypto-shredded, consents
withdrawn, processors notified by signed webhook until they acknowledge, models flagged, and a signed
certificate issued. Afterwards no read path returns the subject's data and the dump holds nothing decryptable."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.db import transaction, utcnow
from governance.jobs.worker import drain as drain_jobs
from governance.requests import service
from governance.requests.certificate import verify_certificate
from tests.conftest import dump_all_rows
from tests.requests.conftest import SYSTEM, subject_principal


class _Hooks:
    def __init__(self, status: int) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []


@pytest.fixture
def processor_endpoint() -> Iterator[tuple[str, _Hooks]]:
    """A real HTTP endpoint standing in for a processor: records each webhook and answers `hooks.status`."""
    hooks = _Hooks(200)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hooks.received.append({"body": json.loads(body), "raw": body, "headers": dict(self.headers)})
            self.send_response(hooks.status)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks", hooks
    server.shutdown()
    server.server_close()


@pytest.fixture
def erasure_app(make_app):
    """The app with processor acknowledgements polled at once (instead of every few minutes)."""
    return make_app(REQUESTS_PROCESSOR_POLL_MINUTES="0")


SECRETS: dict[uuid.UUID, str] = {}


def _register_processor(session: Session, url: str, name: str = "crm") -> uuid.UUID:
    from governance.consent import processors

    with transaction(session):
        view, secret = processors.register_processor(
            session, name=name, url=url, actor=SYSTEM, events=["subject.erased"]
        )
    SECRETS[view.id] = secret
    return view.id


def _erase(session: Session, subject: uuid.UUID, app) -> service.RequestView:
    with transaction(session):
        filed = service.file_request(
            session,
            subject_id=subject,
            kind="erasure",
            actor=subject_principal(subject),
            source="subject",
            verification_method="session",
        )
    while drain_jobs(app):
        pass
    session.expire_all()
    view = service.get_request(session, filed.request.id)
    session.commit()  # SQLite: free the write lock for the next worker
    return view


def test_erasure_end_to_end(app, erasure_app, session: Session, make_subject, processor_endpoint) -> None:
    from governance.consent import service as consent
    from governance.errors import DomainError
    from governance.training import service as training
    from governance.vault import service as vault

    url, hooks = processor_endpoint
    processor_id = _register_processor(session, url)
    alpha = make_subject("alpha", events=30)
    bravo = make_subject("bravo", events=30)
    purchases = vault.event_counts(session, alpha)["purchase"]

    view = _erase(session, alpha, erasure_app)

    # the request: done, with the kept category explained to the subject
    assert view.status == "partially_completed", view
    items = {i["item"]: i for i in view.items}
    assert items["category:profile"]["done"] is True
    assert items["category:purchase"]["done"] is False
    assert "tax" in items["category:purchase"]["reason"]
    assert items[f"processor:{processor_id}"]["done"] is True

    # no read path returns the subject's data
    for read in (
        lambda: vault.get_subject(session, alpha),
        lambda: vault.read_profile(session, alpha, actor=SYSTEM, view="clear"),
        lambda: list(vault.iter_events(session, alpha)),
    ):
        with pytest.raises(DomainError):
            read()
    assert vault.find_subject(session, external_ref="ref-alpha") is None
    assert vault.find_subject(session, email="alpha.person@example.org") is None
    assert not consent.is_permitted(session, alpha, "personalized_recommendations").allowed
    assert vault.erased_ids(session, [alpha, bravo]) == {alpha}
    released = vault.iter_release_rows(
        session, [alpha, bravo], fields=["country"], event_categories=["view"], since=None, until=None
    )
    assert [rows.subject_id for rows in released] == [bravo]
    assert bravo in set(vault.all_active_subject_ids(session))
    # the other subject is untouched
    assert vault.read_profile(session, bravo, actor=SYSTEM, view="clear")["fields"]["email"] == (
        "bravo.person@example.org"
    )

    # the dump holds nothing of alpha in clear, and alpha's keys are gone
    session.commit()  # end this session's read transaction (SQLite: one transaction at a time)
    dump = dump_all_rows(app.extensions["governance.db"].engine)
    for secret in ("alpha.person@example.org", "Ada Alpha Lovelace", "alpha secret search", "ref-alpha"):
        assert secret not in dump

    # processors were called with a signed webhook and acknowledged
    erased_hooks = [h for h in hooks.received if h["body"]["event"] == "subject.erased"]
    assert len(erased_hooks) == 1
    assert erased_hooks[0]["body"]["subject_id"] == str(alpha)
    assert erased_hooks[0]["body"]["data"] == {"request_id": str(view.id)}
    from governance.consent import webhooks

    webhooks.verify(  # as the processor would check it
        SECRETS[processor_id].encode(), erased_hooks[0]["raw"], erased_hooks[0]["headers"][webhooks.SIGNATURE_HEADER]
    )

    # the broker's outbox got the same announcements in the erasure's transaction (docs/broker.md)
    from governance.outbox.models import OutboxMessage

    announced = session.scalars(
        select(OutboxMessage).where(OutboxMessage.subject_id == alpha).order_by(OutboxMessage.seq)
    ).all()
    assert [m.event for m in announced][-2:] == ["consent.withdrawn", "subject.erased"]  # after its grants
    assert announced[-1].data == {"request_id": str(view.id)}

    # models whose training data included the subject are flagged
    assert view.result["models_flagged"] == sum(1 for _ in training.models_including(session, alpha) or [])

    # the certificate verifies with the published keys and says what happened
    token = service.certificate_of(session, view.id)
    keys = app.extensions["governance.keys"]
    claims = verify_certificate(token, [keys.public_key(service.CERTIFICATE_KEY)])
    assert claims.sub == str(alpha)
    assert claims.request_id == str(view.id)
    assert "profile" in claims.deleted
    assert "events:search" in claims.deleted
    assert [k.category for k in claims.kept] == ["purchase"]
    assert claims.consents_withdrawn == 2
    assert [(d.processor, d.status) for d in claims.downstream] == [(str(processor_id), "confirmed")]
    assert view.result["counts"]["events_kept"] == purchases
    jwks = service.certificate_jwks()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] == jwks["keys"][0]["kid"]

    # the audit trail and tombstone remain; every transition was audited once
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_id == str(view.id)).order_by(AuditEntry.seq)
    ).all()
    assert actions == [
        "requests.request.received",
        "requests.request.verified",
        "requests.request.confirmed",  # the subject sees it in the dashboard at once
        "requests.request.in_progress",
        "requests.erasure.performed",
        "requests.certificate.issued",
        "requests.request.partially_completed",
    ]
    details = session.scalars(select(AuditEntry.details).where(AuditEntry.action.like("requests.%"))).all()
    assert "alpha.person" not in repr(details)


def test_unacknowledged_processor_is_reported_after_the_wait(
    app, erasure_app, session: Session, make_subject, processor_endpoint
) -> None:
    url, hooks = processor_endpoint
    hooks.status = 503  # the processor is down
    processor_id = _register_processor(session, url, name="analytics")
    alpha = make_subject("alpha", events=2)
    with transaction(session):
        filed = service.file_request(
            session,
            subject_id=alpha,
            kind="erasure",
            actor=subject_principal(alpha),
            source="subject",
            verification_method="session",
        )
    with erasure_app.app_context():
        db = erasure_app.extensions["governance.db"]
        with db.session() as job_session, job_session.begin():
            service.erase_locally(job_session, filed.request.id)
        with db.session() as job_session, job_session.begin():
            assert service.certify_erasure(job_session, filed.request.id)["waiting"] is True
        later = utcnow() + timedelta(hours=73)
        with db.session() as job_session, job_session.begin():
            outcome = service.certify_erasure(job_session, filed.request.id, now=later)
    assert outcome["status"] == "partially_completed"
    session.expire_all()
    view = service.get_request(session, filed.request.id)
    item = next(i for i in view.items if i["item"] == f"processor:{processor_id}")
    assert item["done"] is False
    assert "not confirmed" in item["reason"]
    claims = verify_certificate(
        service.certificate_of(session, view.id), [app.extensions["governance.keys"].public_key("requests_certificate")]
    )
    assert [(d.processor, d.status) for d in claims.downstream] == [(str(processor_id), "pending")]


def test_a_dpo_completes_an_erasure_by_hand_only_after_the_shred(
    app, erasure_app, session: Session, make_subject, processor_endpoint
) -> None:
    """The processor never answers and the poll job is gone: once the data is shredded a DPO may close the
    erasure (the certificate lists the processor as unconfirmed); before the shred the same call is refused."""
    from governance.access.principals import Principal
    from governance.errors import DomainError

    url, hooks = processor_endpoint
    hooks.status = 503
    _register_processor(session, url, name="warehouse")
    alpha = make_subject("alpha", events=2)
    with transaction(session):
        filed = service.file_request(
            session,
            subject_id=alpha,
            kind="erasure",
            actor=subject_principal(alpha),
            source="subject",
            verification_method="session",
        )
    request_id = filed.request.id
    dpo = Principal(kind="staff", id=str(uuid.uuid4()), roles=frozenset({"dpo"}))

    def complete() -> service.RequestView:
        with transaction(session):
            return service.complete_by_hand(
                session, request_id, method="processors_confirmed", reference="Ticket WH-17", actor=dpo
            )

    with pytest.raises(DomainError) as refused:
        complete()
    assert (refused.value.status, refused.value.code) == (409, "erasure_not_shredded")
    with erasure_app.app_context():
        db = erasure_app.extensions["governance.db"]
        with db.session() as job_session, job_session.begin():
            service.erase_locally(job_session, request_id)
    session.expire_all()
    view = complete()
    assert view.status == "partially_completed"  # the processor's confirmation is still missing, and says so
    assert view.has_certificate
    assert view.result["completed_by_hand"]["method"] == "processors_confirmed"
    claims = verify_certificate(
        service.certificate_of(session, request_id),
        [app.extensions["governance.keys"].public_key("requests_certificate")],
    )
    assert [d.status for d in claims.downstream] == ["pending"]
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action.like("requests.%"))).all()
    by_action = {e.action: e for e in entries}
    assert by_action["requests.certificate.issued"].actor_id == dpo.id
    assert by_action["requests.request.partially_completed"].details["by_hand"] is True
    assert all("WH-17" not in json.dumps(e.details) for e in entries)
    session.commit()


def test_erasure_runs_once_even_if_the_job_runs_again(app, erasure_app, session: Session, make_subject) -> None:
    alpha = make_subject("alpha", events=3)
    view = _erase(session, alpha, erasure_app)
    assert view.status in ("completed", "partially_completed")
    with erasure_app.app_context():
        db = erasure_app.extensions["governance.db"]
        with db.session() as job_session, job_session.begin():
            assert service.erase_locally(job_session, view.id)["skipped"] == "done"
        with db.session() as job_session, job_session.begin():
            assert service.certify_erasure(job_session, view.id)["skipped"] == "done"
    count = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "vault.subject.shred")
    )
    assert count == 1


def test_certificate_states_when_backups_become_unreadable(app, erasure_app, session: Session, make_subject) -> None:
    """The certificate names the day by whose end no backup yields the person: the end of the key epoch in force
    at the erasure plus the backup retention (plus one day for the hourly key job)."""
    from sqlalchemy import select as sa_select

    from governance.vault.models import MasterKeyVersion
    from governance.vault.runtime import get_runtime

    alpha = make_subject("alpha", events=3)
    view = _erase(session, alpha, erasure_app)
    claims = verify_certificate(
        service.certificate_of(session, view.id),
        [app.extensions["governance.keys"].public_key(service.CERTIFICATE_KEY)],
    )
    schedule = get_runtime().schedule
    epoch_started = session.scalar(sa_select(MasterKeyVersion.created_at).where(MasterKeyVersion.state == "active"))
    expected = epoch_started + schedule.epoch + schedule.backup_retention + schedule.margin
    assert claims.backups_unreadable_by == expected.date().isoformat()
    erased_on = claims.completed_at.date()
    assert 0 < (expected.date() - erased_on).days <= (schedule.epoch + schedule.backup_retention).days + 1
    assert view.result["backups_unreadable_by"] == claims.backups_unreadable_by
