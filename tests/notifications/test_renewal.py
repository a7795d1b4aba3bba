"""The notice renewal e-mail: after a material change of a purpose's notice, `governance notifications
announce-renewal <purpose>` queues one mail per person whose consent was given to the older notice; the queued,
retried mail job sends it through a real SMTP server (aiosmtpd). Once per (purpose, notice version, person), only
while the person still needs to renew, and no address anywhere outside the vault."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.db import transaction, utcnow
from governance.jobs.models import Job
from governance.notifications.service import SEND_JOB
from tests.conftest import dump_all_rows
from tests.requests.conftest import SYSTEM, subject_principal

PURPOSE = "personalized_recommendations"  # v2 is a material change (policies/purposes.yaml)
CHANGE = "Recommendations now also use your searches in the app."


def _decide(session: Session, subject: uuid.UUID, decision: str, *, purpose: str = PURPOSE, version: int | None = None):
    from governance.consent import service as consent

    item = {"purpose": purpose, "decision": decision}
    if version is not None:
        item["notice_version"] = version
    with transaction(session):
        consent.record_decisions(session, subject, [item], method="api", actor=SYSTEM, jurisdiction="EU")


def _set_language(session: Session, subject: uuid.UUID, language: str) -> None:
    from governance.vault import service as vault

    with transaction(session):
        vault.update_profile(session, subject, {"language": language}, actor=SYSTEM)


def _renewal_jobs(session: Session) -> list[Job]:
    session.expire_all()
    return [job for job in session.scalars(select(Job).where(Job.kind == SEND_JOB)) if "purpose" in job.payload]


def _audit(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _announce(app, session: Session, purpose: str = PURPOSE):
    session.rollback()  # SQLite: no other writer while the test's read transaction is open
    return app.test_cli_runner().invoke(args=["governance", "notifications", "announce-renewal", purpose])


def test_subjects_needing_renewal_are_those_whose_grant_predates_the_material_change(
    app, session: Session, make_subject
) -> None:
    from governance.consent import service as consent
    from governance.consent.errors import UnknownPurposeError
    from governance.requests import service as requests

    old, current, withdrew, objected, erased = (make_subject(tag, events=0) for tag in "abcde")
    for subject in (old, withdrew, objected, erased):
        _decide(session, subject, "granted", version=1)
    _decide(session, withdrew, "withdrawn")
    with transaction(session):
        consent.object_to(session, objected, [PURPOSE], actor=subject_principal(objected))
    with transaction(session):
        requests.file_request(
            session,
            subject_id=erased,
            kind="erasure",
            actor=subject_principal(erased),
            source="subject",
            verification_method="session",
        )
    from governance.jobs.worker import drain

    session.rollback()
    while drain(app):
        pass
    assert consent.is_permitted(session, current, PURPOSE).allowed  # granted to v2 by make_subject

    assert list(consent.subjects_needing_renewal(session, PURPOSE)) == [old]
    assert list(consent.subjects_needing_renewal(session, PURPOSE, batch_size=1)) == [old]
    _decide(session, current, "granted", purpose="model_training", version=1)  # v2 there is not material
    assert list(consent.subjects_needing_renewal(session, "model_training")) == []
    assert list(consent.subjects_needing_renewal(session, "fraud_prevention")) == []  # not based on consent
    with pytest.raises(UnknownPurposeError):
        list(consent.subjects_needing_renewal(session, "no_such_purpose"))


def test_announce_renewal_mails_each_affected_person_once_in_their_language(
    smtp_app, smtp_server, session: Session, make_subject, drain_in, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    alpha, bravo = make_subject("alpha", events=0), make_subject("bravo", events=0)
    make_subject("charlie", events=0)  # consented to the current notice: nothing to renew
    _decide(session, alpha, "granted", version=1)  # profile language de-DE
    _decide(session, bravo, "granted", version=1)
    _set_language(session, bravo, "en")
    smtp_server.start()

    result = _announce(smtp_app, session)
    assert result.exit_code == 0, result.output
    assert "personalized_recommendations notice v2: 2 e-mail(s) queued, 0 already queued" in result.output
    drain_in(smtp_app)

    by_recipient = {tuple(recipients): message for recipients, message in smtp_server.mailbox.messages}
    assert set(by_recipient) == {("alpha.person@example.org",), ("bravo.person@example.org",)}
    english = by_recipient[("bravo.person@example.org",)]
    assert english["Subject"] == "Your consent needs renewing"
    text = english.get_body(("plain",)).get_content()
    assert "Personalized recommendations" in text
    assert f"What changed: {CHANGE}" in text
    assert "privacy dashboard" in text
    assert "http" not in text  # no link with a token: the person signs in as usual
    assert english.get_body(("html",)) is not None
    german = by_recipient[("alpha.person@example.org",)]
    assert german["Subject"] == "Ihre Einwilligung muss erneuert werden"
    assert "„Personalized recommendations“" in german.get_body(("plain",)).get_content()

    jobs = _renewal_jobs(session)
    assert [job.status for job in jobs] == ["succeeded", "succeeded"]
    for job in jobs:
        assert set(job.payload) == {"kind", "subject_id", "purpose", "notice_version"}  # ids, never the address
        assert job.payload["notice_version"] == 2
    sent = _audit(session, "notifications.email.sent")
    assert sorted(e.details["language"] for e in sent) == ["de", "en"]
    assert {(e.details["kind"], e.details["purpose"], e.details["notice_version"]) for e in sent} == {
        ("notice_renewal", PURPOSE, 2)
    }
    (announced,) = _audit(session, "notifications.renewal.announced")
    assert announced.target_kind == "purpose"
    assert announced.details == {"notice_version": 2, "queued": 2, "already_queued": 0}

    again = _announce(smtp_app, session)  # run twice (or by two operators): nobody is mailed twice
    assert "0 e-mail(s) queued, 2 already queued" in again.output
    drain_in(smtp_app)
    assert len(smtp_server.mailbox.messages) == 2
    assert len(_renewal_jobs(session)) == 2

    for output in (result.output, again.output):
        assert "@" not in output
    for record in caplog.records:
        if not record.name.startswith("mail."):  # not the test server's own log
            assert "person@example.org" not in record.getMessage()
            assert "person@example.org" not in repr(vars(record))
    session.rollback()
    assert "person@example.org" not in dump_all_rows(smtp_app.extensions["governance.db"].engine)


def test_a_person_who_renewed_or_withdrew_before_the_mail_went_out_gets_none(
    smtp_app, smtp_server, session: Session, make_subject, drain_in
) -> None:
    alpha, bravo = make_subject("alpha", events=0), make_subject("bravo", events=0)
    for subject in (alpha, bravo):
        _decide(session, subject, "granted", version=1)
    assert "2 e-mail(s) queued" in _announce(smtp_app, session).output
    _decide(session, alpha, "granted")  # renewed on the dashboard: the current notice
    _decide(session, bravo, "withdrawn")
    smtp_server.start()
    drain_in(smtp_app)

    assert smtp_server.mailbox.messages == []
    skipped = _audit(session, "notifications.email.skipped")
    assert sorted(e.details["reason"] for e in skipped) == ["not_needed", "not_needed"]
    assert _audit(session, "vault.profile.read_clear") == []  # and nobody's address was even read


def test_the_renewal_mail_is_retried_until_the_smtp_server_is_back(
    smtp_app, smtp_server, session: Session, make_subject, drain_in
) -> None:
    alpha = make_subject("alpha", events=0)
    _decide(session, alpha, "granted", version=1)
    _announce(smtp_app, session)
    drain_in(smtp_app)  # nothing listens on the port yet

    (job,) = _renewal_jobs(session)
    assert (job.status, job.attempts) == ("queued", 1)
    assert job.error_code == "ConnectionRefusedError"
    smtp_server.start()
    job_id = job.id
    session.rollback()
    with transaction(session):  # skip the backoff wait instead of sleeping through it
        session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
    drain_in(smtp_app)
    (job,) = _renewal_jobs(session)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert [recipients for recipients, _ in smtp_server.mailbox.messages] == [["alpha.person@example.org"]]


def test_an_unknown_purpose_is_refused_without_a_trace(app, session: Session) -> None:
    result = _announce(app, session, "no_such_purpose")
    assert result.exit_code != 0
    assert "unknown purpose 'no_such_purpose'" in result.output
    assert _audit(session, "notifications.renewal.announced") == []
