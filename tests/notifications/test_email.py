"""E-mails to the data subject through a real SMTP server (aiosmtpd): export ready, rejection with its reason,
nothing after an erasure (the address is gone), retries while the server is down, skipped without SMTP, and
no address anywhere outside the vault (logs, audit details, job rows, any table)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.db import transaction, utcnow
from governance.jobs.models import Job
from governance.notifications.service import SEND_JOB
from governance.requests import service as requests
from tests.conftest import dump_all_rows
from tests.requests.conftest import DPO, SUPPORT, SYSTEM, subject_principal

ADDRESS = "alpha.person@example.org"  # tests.requests.conftest.profile_for("alpha")


def _file(session: Session, subject: uuid.UUID, kind: str, **kwargs) -> uuid.UUID:
    options = {"actor": subject_principal(subject), "source": "subject", "verification_method": "session", **kwargs}
    with transaction(session):
        return requests.file_request(session, subject_id=subject, kind=kind, **options).request.id


def _set_language(session: Session, subject: uuid.UUID, language: str) -> None:
    from governance.vault import service as vault

    with transaction(session):
        vault.update_profile(session, subject, {"language": language}, actor=SYSTEM)


def _send_jobs(session: Session) -> list[Job]:
    session.expire_all()
    return list(session.scalars(select(Job).where(Job.kind == SEND_JOB)))


def _audit(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_export_ready_mails_the_person_once(smtp_app, smtp_server, session: Session, make_subject, drain_in) -> None:
    alpha = make_subject("alpha", events=5)
    make_subject("bravo", events=5)
    _set_language(session, alpha, "en")
    smtp_server.start()
    request_id = _file(session, alpha, "access")
    drain_in(smtp_app)

    assert len(smtp_server.mailbox.messages) == 1
    recipients, message = smtp_server.mailbox.messages[0]
    assert recipients == [ADDRESS]
    assert message["To"] == ADDRESS
    assert message["Subject"] == "Your data export is ready"
    assert message["From"] == "privacy@example.com"
    text = message.get_body(("plain",)).get_content()
    assert "ready" in text
    assert "dashboard" in text
    assert message.get_body(("html",)) is not None
    (job,) = _send_jobs(session)
    assert job.status == "succeeded"
    assert job.result == {"outcome": "sent", "kind": "export_ready"}
    assert set(job.payload) == {"kind", "subject_id", "request_id"}  # ids and the kind, never the address
    (sent,) = _audit(session, "notifications.email.sent")
    assert sent.details == {"kind": "export_ready", "request_id": str(request_id), "language": "en"}

    drain_in(smtp_app)  # nothing queued twice
    assert len(smtp_server.mailbox.messages) == 1


def test_rejection_mail_carries_the_reason_in_the_persons_language(
    smtp_app, smtp_server, session: Session, make_subject, drain_in
) -> None:
    alpha = make_subject("alpha", events=0)  # profile language de-DE
    smtp_server.start()
    request_id = _file(session, alpha, "access", actor=SUPPORT, source="staff", verification_method=None)
    with transaction(session):
        requests.reject_request(session, request_id, code="identity_not_verified", actor=DPO)
    drain_in(smtp_app)

    (recipients, message), *more = smtp_server.mailbox.messages
    assert not more
    assert recipients == [ADDRESS]
    assert message["Subject"] == "Ihr Antrag konnte nicht ausgeführt werden"
    text = message.get_body(("plain",)).get_content()
    assert "We could not confirm that this request comes from you." in text  # the policy's reason text
    assert "Auskunft über Ihre Daten" in text


def test_completed_erasure_sends_nothing_and_keeps_no_address(
    smtp_app, smtp_server, session: Session, make_subject, drain_in
) -> None:
    """The address is destroyed by the erasure; the certificate on the dashboard is the confirmation. An
    export rejected because the erasure came first is skipped (audited), not sent."""
    alpha = make_subject("alpha", events=5)
    smtp_server.start()
    erasure = _file(session, alpha, "erasure")
    drain_in(smtp_app)
    assert requests.get_request(session, erasure).status in ("completed", "partially_completed")
    assert smtp_server.mailbox.messages == []
    assert _send_jobs(session) == []

    # an export filed earlier whose job runs after the erasure: rejected, the mail skipped
    session.rollback()
    stale = _stale_export(session, alpha)
    with transaction(session):
        requests.run_export(session, stale)
    drain_in(smtp_app)
    assert smtp_server.mailbox.messages == []
    (skipped,) = _audit(session, "notifications.email.skipped")
    assert skipped.details["reason"] == "subject_erased"
    assert skipped.details["kind"] == "request_rejected"
    session.rollback()
    assert ADDRESS not in dump_all_rows(smtp_app.extensions["governance.db"].engine)


def _stale_export(session: Session, subject: uuid.UUID) -> uuid.UUID:
    """An in-progress export row for an already-erased subject (as if filed just before the erasure)."""
    from governance.requests.models import DataSubjectRequest

    erasure = session.scalars(select(DataSubjectRequest).where(DataSubjectRequest.subject_id == subject)).one()
    export = DataSubjectRequest(
        **{
            column.key: getattr(erasure, column.key)
            for column in DataSubjectRequest.__table__.columns
            if column.key not in ("id", "open_key")
        }
    )
    export.id, export.kind, export.status, export.step = uuid.uuid4(), "access", "in_progress", "queued"
    export.closed_at, export.result = None, {}
    session.add(export)
    session.commit()
    return export.id


def test_smtp_down_retries_until_the_server_is_back(
    smtp_app, smtp_server, session: Session, make_subject, drain_in, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    alpha = make_subject("alpha", events=0)
    request_id = _file(session, alpha, "access", actor=SUPPORT, source="staff", verification_method=None)
    with transaction(session):
        requests.reject_request(session, request_id, code="excessive", actor=DPO)
    drain_in(smtp_app)  # nothing listens on the port yet

    (job,) = _send_jobs(session)
    assert (job.status, job.attempts, job.max_attempts) == ("queued", 1, 5)
    assert job.error_code == "ConnectionRefusedError"
    assert job.run_after > utcnow()
    assert _audit(session, "notifications.email.sent") == []

    smtp_server.start()
    job_id = job.id
    session.rollback()
    with transaction(session):  # skip the backoff wait instead of sleeping through it
        session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
    drain_in(smtp_app)
    (job,) = _send_jobs(session)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert [recipients for recipients, _ in smtp_server.mailbox.messages] == [[ADDRESS]]

    # the address is in no log line, no audit detail, no job row, no table (the vault holds it encrypted)
    assert any(record.getMessage() == "job attempt failed" for record in caplog.records)  # logs were captured
    ours = [record for record in caplog.records if not record.name.startswith("mail.")]  # not the test server's
    for record in ours:
        assert ADDRESS not in record.getMessage()
        assert ADDRESS not in repr(vars(record))
    assert ADDRESS not in repr([(e.action, e.details) for e in _audit_all(session)])
    session.rollback()
    assert ADDRESS not in dump_all_rows(smtp_app.extensions["governance.db"].engine)


def _audit_all(session: Session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry)))


def test_without_smtp_the_mail_is_skipped_once(app, session: Session, make_subject, drain_in) -> None:
    alpha = make_subject("alpha", events=3)
    request_id = _file(session, alpha, "access")
    drain_in(app)  # the test app has no GOVERNANCE_SMTP_HOST

    assert requests.get_request(session, request_id).status == "completed"
    (job,) = _send_jobs(session)
    assert (job.status, job.attempts, job.result) == (
        "succeeded",
        1,
        {"outcome": "skipped_no_smtp", "kind": "export_ready"},
    )
    (skipped,) = _audit(session, "notifications.email.skipped")
    assert skipped.details == {"kind": "export_ready", "request_id": str(request_id), "reason": "no_smtp"}


def test_a_request_the_person_withdrew_sends_nothing(smtp_app, smtp_server, session: Session, make_subject, drain_in):
    """Withdrawn on the dashboard (closed as rejected with `withdrawn_by_subject`): the page said so already."""
    alpha = make_subject("alpha", events=0)
    smtp_server.start()
    request_id = _file(session, alpha, "access", actor=SUPPORT, source="staff", verification_method=None)
    with transaction(session):
        requests.reject_request(session, request_id, code="withdrawn_by_subject", actor=subject_principal(alpha))
    drain_in(smtp_app)
    assert _send_jobs(session) == []
    assert smtp_server.mailbox.messages == []
