"""The requests service against the real vault, consent, jobs and audit: filing, merging, lifecycle, deadlines,
rectification, objection, overdue alerts. Every transition is audited in the same transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.db import transaction
from governance.errors import NotFoundError, ValidationFailedError
from governance.jobs.models import Job
from governance.requests import service
from governance.requests.errors import (
    ExtensionNotAllowedError,
    InvalidTransitionError,
    SubjectAlreadyErasedError,
    UnknownRequestKindError,
)
from governance.requests.models import DataSubjectRequest
from tests.requests.conftest import BACKEND, DPO, SUPPORT, SYSTEM, subject_principal


def _actions(session: Session, request_id: uuid.UUID) -> list[str]:
    rows = session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_id == str(request_id)).order_by(AuditEntry.seq)
    )
    return list(rows)


def _file(session: Session, subject_id: uuid.UUID, kind: str, **kwargs):
    kwargs.setdefault("actor", subject_principal(subject_id))
    kwargs.setdefault("source", "subject")
    kwargs.setdefault("verification_method", "session")
    with transaction(session):
        return service.file_request(session, subject_id=subject_id, kind=kind, **kwargs)


def test_subject_export_request_is_verified_started_and_queued(session: Session, make_subject) -> None:
    subject = make_subject("alpha", events=3)
    filed = _file(session, subject, "access", now=datetime(2025, 1, 31, 10, 0, tzinfo=UTC))
    view = filed.request
    assert not filed.merged
    assert (view.status, view.source, view.verification_method) == ("in_progress", "subject", "session")
    assert view.jurisdiction == "GDPR"
    assert view.due_on == date(2025, 2, 28)
    assert view.extension_available == "2 months"
    job = session.get(Job, view.job_id)
    assert job is not None
    assert (job.kind, job.status, job.payload) == ("requests.export", "queued", {"request_id": str(view.id)})
    assert _actions(session, view.id) == [
        "requests.request.received",
        "requests.request.verified",
        "requests.request.confirmed",  # the subject sees it in the dashboard at once
        "requests.request.in_progress",
    ]


def test_a_verified_export_request_is_written_once_in_its_final_state(app, session: Session, make_subject) -> None:
    """Filing writes the request row as it stands after filing (in progress, with its job), not received and then
    updated twice, and writes it first: its job and its four audit entries follow only once the request is in,
    so no savepoint is needed for a filing that merges. Between BEGIN and COMMIT: the subject's read, the
    request's INSERT, and the job and the entries in one statement (`write_batch`: CTEs on PostgreSQL, the
    routed view on SQLite). Issue 16: 11 statements, then 8 with a savepoint, now 5."""
    subject = make_subject(events=0)
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()[:3]).upper())

    engine = app.extensions["governance.db"].engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        view = _file(session, subject, "access").request
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    combined = "WITH W0 AS" if engine.dialect.name == "postgresql" else "INSERT INTO GOVERNANCE_BATCH_ROWS"
    assert seen == ["SELECT VAULT_SUBJECTS.STATUS, VAULT_SUBJECTS.JURISDICTION", "INSERT INTO REQUESTS_DSR", combined]
    assert (view.status, view.job_id is not None) == ("in_progress", True)
    assert session.get(DataSubjectRequest, view.id).step == "queued"


def test_ccpa_subject_gets_confirm_and_response_dates(session: Session, make_subject) -> None:
    subject = make_subject("ccpa", events=0, jurisdiction="US-CA")
    view = _file(session, subject, "erasure", now=datetime(2026, 11, 20, 18, 0, tzinfo=UTC)).request
    assert view.jurisdiction == "CCPA"
    assert view.confirm_by == date(2026, 12, 8)
    assert view.due_on == date(2027, 1, 4)


def test_duplicate_open_request_of_the_same_kind_is_merged(session: Session, make_subject) -> None:
    subject = make_subject(events=0)
    first = _file(session, subject, "access").request
    again = _file(session, subject, "access", actor=BACKEND, source="client", verification_method="account_login")
    assert again.merged
    assert again.request.id == first.id
    assert again.request.merged_count == 1
    other_kind = _file(session, subject, "erasure")
    assert not other_kind.merged
    assert session.scalar(select(func.count()).select_from(DataSubjectRequest)) == 2
    assert session.scalar(select(func.count()).select_from(Job).where(Job.kind == "requests.export")) == 1
    assert "requests.request.merged" in _actions(session, first.id)


def test_a_merged_filing_is_no_database_error_so_the_server_log_never_quotes_the_subject(
    app, session: Session, make_subject
) -> None:
    """A unique-key failure makes PostgreSQL log an ERROR whose DETAIL quotes the key: the open key holds the
    subject's id. Filing again while a request is open is expected traffic, so no statement may fail (any driver
    error passes through `handle_error`), and the filing still merges."""
    subject = make_subject(events=0)
    first = _file(session, subject, "erasure").request
    failures: list[str] = []

    def failed(context: sa.engine.ExceptionContext) -> None:
        failures.append(type(context.original_exception).__name__)

    engine = app.extensions["governance.db"].engine
    sa.event.listen(engine, "handle_error", failed)
    try:
        again = _file(session, subject, "erasure", actor=SUPPORT, source="staff", verification_method=None)
    finally:
        sa.event.remove(engine, "handle_error", failed)
    assert failures == []
    assert (again.merged, again.request.id, again.request.merged_count) == (True, first.id, 1)
    assert session.scalar(select(func.count()).select_from(DataSubjectRequest)) == 1
    assert session.scalar(select(func.count()).select_from(Job).where(Job.kind == "requests.erasure")) == 1
    assert _actions(session, first.id).count("requests.request.received") == 1  # the merged filing's are gone


def test_staff_request_without_verification_waits_then_starts(session: Session, make_subject) -> None:
    subject = make_subject(events=0)
    view = _file(session, subject, "erasure", actor=SUPPORT, source="staff", verification_method=None).request
    assert view.status == "received"
    assert view.job_id is None
    with transaction(session):
        verified = service.verify_request(session, view.id, method="id_document", actor=SUPPORT)
    assert (verified.status, verified.verification_method) == ("in_progress", "id_document")
    assert verified.job_id is not None
    with pytest.raises(InvalidTransitionError), transaction(session):
        service.verify_request(session, view.id, method="again", actor=SUPPORT)


def test_rejection_carries_the_subjects_reason_and_frees_the_slot(session: Session, make_subject) -> None:
    subject = make_subject(events=0)
    view = _file(session, subject, "access", actor=SUPPORT, source="staff", verification_method=None).request
    with pytest.raises(ValidationFailedError) as info, transaction(session):
        service.reject_request(session, view.id, code="because", actor=SUPPORT)
    assert info.value.code == "unknown_reason"
    with transaction(session):
        rejected = service.reject_request(session, view.id, code="identity_not_verified", actor=SUPPORT)
    assert rejected.status == "rejected"
    assert rejected.outcome_reason.startswith("We could not confirm")
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "requests.request.rejected", AuditEntry.target_id == str(view.id))
    ).one()
    assert entry.details["code"] == "identity_not_verified"
    assert "confirm" not in str(entry.details)  # the text goes to the subject, not into the audit log
    assert not _file(session, subject, "access").merged  # a new request may be filed now
    with pytest.raises(InvalidTransitionError), transaction(session):
        service.reject_request(session, view.id, code="excessive", actor=SUPPORT)


def test_bad_input_is_refused_without_storing_anything(session: Session, make_subject) -> None:
    subject = make_subject(events=0)
    with pytest.raises(UnknownRequestKindError) as info:
        _file(session, subject, "teleport")
    assert (info.value.status, info.value.code) == (422, "unknown_kind")
    with pytest.raises(NotFoundError):
        _file(session, uuid.uuid4(), "access")
    with pytest.raises(ValidationFailedError):
        _file(session, subject, "objection", params={"purposes": []})
    with pytest.raises(ValidationFailedError):
        _file(session, subject, "rectification", params={"fields": {"name": "X"}}, verification_method=None)
    with pytest.raises(ValidationFailedError):
        _file(session, subject, "access", params={"fields": {"name": "X"}})
    assert session.scalar(select(func.count()).select_from(DataSubjectRequest)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("requests.%"))) == 0


def test_erased_subject_gives_already_erased(session: Session, make_subject) -> None:
    from governance.vault import service as vault

    subject = make_subject(events=0)
    with transaction(session):
        vault.shred_subject(session, subject, actor=SYSTEM, reason="test")
    with pytest.raises(SubjectAlreadyErasedError) as info:
        _file(session, subject, "erasure")
    assert (info.value.status, info.value.code) == (404, "already_erased")


def test_rectification_is_applied_at_once_and_keeps_no_values(session: Session, make_subject) -> None:
    from governance.vault import service as vault

    subject = make_subject("alpha", events=0)
    new_name = "Ada Rectified Byron"
    view = _file(
        session,
        subject,
        "rectification",
        actor=BACKEND,
        source="client",
        verification_method="account_login",
        params={"fields": {"name": new_name, "country": "de"}},
    ).request
    assert view.status == "completed"
    assert view.params == {"fields": ["country", "name"]}
    assert view.result == {"changed": ["name"], "unchanged": ["country"]}
    profile = vault.read_profile(session, subject, actor=SYSTEM, view="clear")["fields"]
    assert profile["name"] == new_name
    stored = session.get(DataSubjectRequest, view.id)
    assert new_name not in repr(stored.params) + repr(stored.result) + repr(stored.outcome_items)
    details = session.scalars(select(AuditEntry.details).where(AuditEntry.action.like("requests.%"))).all()
    assert new_name not in repr(details)


def test_invalid_rectification_changes_nothing(session: Session, make_subject) -> None:
    subject = make_subject(events=0)
    with pytest.raises(ValidationFailedError):
        _file(session, subject, "rectification", params={"fields": {"email": "not an email"}})
    assert session.scalar(select(func.count()).select_from(DataSubjectRequest)) == 0


def test_objection_stops_processing_at_once(session: Session, make_subject) -> None:
    from governance.consent import service as consent

    subject = make_subject(events=0)
    assert consent.is_permitted(session, subject, "marketing_email").allowed
    view = _file(
        session, subject, "objection", params={"purposes": ["marketing_email", "personalized_recommendations"]}
    )
    assert view.request.status == "completed"
    for purpose in ("marketing_email", "personalized_recommendations"):
        permission = consent.is_permitted(session, subject, purpose)
        assert (permission.allowed, permission.reason) == (False, "objected")
    items = {i["item"] for i in view.request.items}
    assert items == {"purpose:marketing_email", "purpose:personalized_recommendations"}


def test_objection_to_an_unknown_purpose_is_refused(session: Session, make_subject) -> None:
    subject = make_subject(events=0)
    with pytest.raises(ValidationFailedError):
        _file(session, subject, "objection", params={"purposes": ["mind_reading"]})
    assert session.scalar(select(func.count()).select_from(DataSubjectRequest)) == 0


def test_extension_rules_through_the_service(session: Session, make_subject) -> None:
    subject = make_subject(events=0)
    received = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    view = _file(
        session, subject, "erasure", actor=SUPPORT, source="staff", verification_method=None, now=received
    ).request
    for amount, reason, code in [(1, "", "extension_reason_required"), (3, "complex", "extension_beyond_maximum")]:
        with pytest.raises(ExtensionNotAllowedError) as info, transaction(session):
            service.extend_request(session, view.id, amount=amount, reason=reason, actor=DPO, now=received)
        assert info.value.code == code
    with pytest.raises(ExtensionNotAllowedError) as info, transaction(session):
        service.extend_request(
            session, view.id, amount=1, reason="complex", actor=DPO, now=received + timedelta(days=40)
        )
    assert info.value.code == "extension_notice_late"
    with transaction(session):
        extended = service.extend_request(
            session, view.id, amount=2, reason="Many systems hold your data.", actor=DPO, now=received
        )
    assert extended.due_on == date(2025, 4, 30)
    assert extended.extensions[0]["reason"] == "Many systems hold your data."
    assert extended.extension_available is None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "requests.request.extended")).one()
    assert entry.details == {"amount": 2, "unit": "months", "days_to_respond": 89}


def test_overdue_listing_metric_and_one_alert_per_request(session: Session, make_subject) -> None:
    late_subject, fresh_subject = make_subject(events=0), make_subject(events=0)
    received = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
    late = _file(session, late_subject, "access", actor=SUPPORT, source="staff", verification_method=None, now=received)
    _file(session, fresh_subject, "access", actor=SUPPORT, source="staff", verification_method=None)
    on_due_day = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)
    assert service.overdue(session, now=on_due_day) == []
    next_day = on_due_day + timedelta(days=1)
    listed = service.overdue(session, now=next_day)
    assert [v.id for v in listed] == [late.request.id]
    assert listed[0].days_left == -1
    assert service.OVERDUE_GAUGE.labels("GDPR")._value.get() == 1
    with transaction(session):
        assert service.sweep_overdue(session, now=next_day) == 1
    with transaction(session):
        assert service.sweep_overdue(session, now=next_day + timedelta(days=1)) == 0
    assert _actions(session, late.request.id).count("requests.request.overdue") == 1
    assert [v.id for v in service.requests_for_subject(session, late_subject)] == [late.request.id]


@pytest.mark.postgres_only
def test_concurrent_duplicate_filing_merges(app, make_subject) -> None:
    """Two transactions file the same kind at the same moment: the unique open key makes the second one wait
    for the first and merge into it, instead of creating a duplicate."""
    import threading

    db = app.extensions["governance.db"]
    subject = make_subject(events=0)
    first_filed, release = threading.Event(), threading.Event()
    results: dict[str, service.FiledRequest] = {}

    def first() -> None:
        with app.app_context(), db.session() as session, transaction(session):
            results["first"] = service.file_request(
                session, subject_id=subject, kind="erasure", actor=SUPPORT, source="staff", verification_method=None
            )
            first_filed.set()
            release.wait(10)

    def second() -> None:
        with app.app_context(), db.session() as session, transaction(session):
            results["second"] = service.file_request(
                session, subject_id=subject, kind="erasure", actor=DPO, source="staff", verification_method=None
            )

    one = threading.Thread(target=first)
    one.start()
    assert first_filed.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive()  # blocked on the first transaction's open key
    release.set()
    one.join(10)
    two.join(10)
    assert results["second"].merged
    assert results["second"].request.id == results["first"].request.id


def test_count_by_status_lists_every_status(session: Session, make_subject) -> None:
    """The web console called this and got a TypeError: dict() took the SQL result for a mapping (it has
    .keys(), the column names) and tried to index it by them."""
    subjects = [make_subject(events=0) for _ in range(3)]
    assert service.count_by_status(session) == dict.fromkeys(
        ["received", "verified", "in_progress", "completed", "partially_completed", "rejected"], 0
    )
    session.rollback()  # SQLite: end the read transaction before writing
    waiting = _file(session, subjects[0], "access", actor=SUPPORT, source="staff", verification_method=None)
    _file(session, subjects[1], "access", actor=SUPPORT, source="staff", verification_method=None)
    _file(session, subjects[2], "erasure")
    with transaction(session):
        service.reject_request(session, waiting.request.id, code="excessive", actor=DPO)
    counts = service.count_by_status(session)
    assert (counts["received"], counts["in_progress"], counts["rejected"], counts["completed"]) == (1, 1, 1, 0)
    assert sum(counts.get(s, 0) for s in ("received", "verified", "in_progress")) == 2  # as the console sums
