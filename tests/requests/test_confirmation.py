"""Confirmation of receipt (CCPA: within 10 business days): recorded once, as its own audit event, when the
request is verified, confirmed explicitly by staff, or answered; views show whether it is overdue."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.db import transaction
from governance.errors import ValidationFailedError
from governance.requests import service
from governance.requests.deadlines import confirmation_status
from governance.requests.errors import InvalidTransitionError
from tests.requests.conftest import DPO, SUPPORT, subject_principal

API = "/api/v1/requests"
# Friday 20 November 2026, 09:00 in California: confirm by Tuesday 8 December (Thanksgiving and the day after
# are holidays)
RECEIVED = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
CONFIRM_BY = date(2026, 12, 8)


def _at(day: date, hour: int = 20) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)  # midday in California


def _confirmations(session: Session, request_id: uuid.UUID) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "requests.request.confirmed", AuditEntry.target_id == str(request_id))
            .order_by(AuditEntry.seq)
        )
    )


def _staff_filed(session: Session, subject: uuid.UUID, *, now: datetime = RECEIVED) -> uuid.UUID:
    with transaction(session):
        filed = service.file_request(
            session, subject_id=subject, kind="access", actor=SUPPORT, source="staff", verification_method=None, now=now
        )
    return filed.request.id


@given(st.dates(), st.dates(), st.one_of(st.none(), st.dates()))
def test_confirmation_status_properties(confirm_by: date, today: date, confirmed_on: date | None) -> None:
    status = confirmation_status(confirm_by, today, confirmed_on=confirmed_on)
    assert not (status.overdue and status.late)
    if confirmed_on is None:
        assert status.overdue == (today > confirm_by)
        assert not status.late
    else:
        assert not status.overdue
        assert status.late == (confirmed_on > confirm_by)
    none = confirmation_status(None, today, confirmed_on=confirmed_on)
    assert (none.overdue, none.late) == (False, False)


def test_ccpa_confirmation_becomes_overdue_after_ten_business_days_and_is_recorded_late(
    session: Session, make_subject
) -> None:
    request_id = _staff_filed(session, make_subject(events=0, jurisdiction="US-CA"))
    view = service.get_request(session, request_id, now=_at(CONFIRM_BY))
    assert (view.jurisdiction, view.confirm_by, view.confirmed_at) == ("CCPA", CONFIRM_BY, None)
    assert view.confirmation_overdue is False  # the tenth business day itself is in time
    late_day = _at(CONFIRM_BY + timedelta(days=1))
    assert service.get_request(session, request_id, now=late_day).confirmation_overdue is True
    assert _confirmations(session, request_id) == []

    with transaction(session):
        confirmed = service.confirm_request(session, request_id, method="email", actor=DPO, now=late_day)
    assert (confirmed.confirmation_method, confirmed.confirmed_at) == ("email", late_day)
    assert (confirmed.confirmation_overdue, confirmed.confirmation_late) == (False, True)
    assert confirmed.status == "received"  # confirming is not verifying
    [entry] = _confirmations(session, request_id)
    assert entry.details == {"kind": "access", "method": "email", "business_days": 11, "late": True}
    assert (entry.actor_kind, entry.actor_id) == ("staff", DPO.id)

    with pytest.raises(InvalidTransitionError), transaction(session):
        service.confirm_request(session, request_id, method="letter", actor=DPO, now=late_day)
    # verifying later does not confirm a second time
    with transaction(session):
        service.verify_request(session, request_id, method="id_document", actor=DPO, now=late_day)
    assert len(_confirmations(session, request_id)) == 1


def test_verification_confirms_in_time(session: Session, make_subject) -> None:
    request_id = _staff_filed(session, make_subject(events=0, jurisdiction="US-CA"))
    with transaction(session):
        view = service.verify_request(session, request_id, method="id_document", actor=DPO, now=_at(date(2026, 11, 24)))
    assert (view.confirmation_method, view.confirmation_late, view.confirmation_overdue) == (
        "verification",
        False,
        False,
    )
    [entry] = _confirmations(session, request_id)
    assert entry.details == {"kind": "access", "method": "verification", "business_days": 2, "late": False}
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_id == str(request_id)).order_by(AuditEntry.seq)
    ).all()
    assert actions == [
        "requests.request.received",
        "requests.request.verified",
        "requests.request.confirmed",
        "requests.request.in_progress",
    ]


def test_a_subject_filing_in_the_dashboard_is_confirmed_at_once(session: Session, make_subject) -> None:
    subject = make_subject(events=0, jurisdiction="US-CA")
    with transaction(session):
        filed = service.file_request(
            session,
            subject_id=subject,
            kind="access",
            actor=subject_principal(subject),
            source="subject",
            verification_method="session",
            now=RECEIVED,
        )
    assert (filed.request.confirmation_method, filed.request.confirmed_at) == ("dashboard", RECEIVED)
    [entry] = _confirmations(session, filed.request.id)
    assert entry.details["business_days"] == 0


def test_an_answer_confirms_an_unconfirmed_request(session: Session, make_subject) -> None:
    request_id = _staff_filed(session, make_subject(events=0, jurisdiction="US-CA"))
    with transaction(session):
        rejected = service.reject_request(
            session, request_id, code="identity_not_verified", actor=DPO, now=_at(date(2026, 12, 1))
        )
    assert (rejected.status, rejected.confirmation_method) == ("rejected", "response")
    assert rejected.confirmation_overdue is False
    assert len(_confirmations(session, request_id)) == 1
    # a closed request is not confirmed (again), and is never shown as overdue for confirmation
    with pytest.raises(InvalidTransitionError), transaction(session):
        service.confirm_request(session, request_id, method="email", actor=DPO)
    assert service.get_request(session, request_id, now=_at(date(2027, 3, 1))).confirmation_overdue is False


def test_gdpr_sets_no_confirmation_period(session: Session, make_subject) -> None:
    request_id = _staff_filed(session, make_subject(events=0, jurisdiction="EU"))
    view = service.get_request(session, request_id, now=RECEIVED + timedelta(days=40))
    assert (view.confirm_by, view.confirmation_overdue) == (None, False)
    with transaction(session):
        confirmed = service.confirm_request(session, request_id, method="letter", actor=DPO)
    assert confirmed.confirmation_method == "letter"
    [entry] = _confirmations(session, request_id)
    assert entry.details == {"kind": "access", "method": "letter"}


def test_confirm_needs_a_method(session: Session, make_subject) -> None:
    request_id = _staff_filed(session, make_subject(events=0, jurisdiction="US-CA"))
    for method in ("", "x" * 61):
        with pytest.raises(ValidationFailedError), transaction(session):
            service.confirm_request(session, request_id, method=method, actor=DPO)


def test_confirm_through_the_api(make_subject, staff_client) -> None:
    subject = make_subject("alpha", events=0, jurisdiction="US-CA")
    support, support_csrf = staff_client("support")
    filed = support.post(API, json={"kind": "access", "subject_id": str(subject)}, headers=support_csrf)
    assert filed.status_code == 201, filed.json
    body = filed.json
    assert body["confirm_by"] is not None  # ten business days from today
    assert (body["confirmed_at"], body["confirmation_overdue"]) == (None, False)
    request_id = body["id"]
    # support may file on the subject's behalf, but confirming is a DPO's (dsr.manage)
    assert (
        support.post(f"{API}/{request_id}/confirm", json={"method": "email"}, headers=support_csrf).status_code == 403
    )
    dpo, dpo_csrf = staff_client("dpo")
    empty = dpo.post(f"{API}/{request_id}/confirm", json={"method": ""}, headers=dpo_csrf)
    assert (empty.status_code, empty.json["error"]) == (422, "validation_failed")
    confirmed = dpo.post(f"{API}/{request_id}/confirm", json={"method": "email"}, headers=dpo_csrf)
    assert confirmed.status_code == 200, confirmed.json
    assert (confirmed.json["confirmation_method"], confirmed.json["confirmation_late"]) == ("email", False)
    again = dpo.post(f"{API}/{request_id}/confirm", json={"method": "email"}, headers=dpo_csrf)
    assert (again.status_code, again.json["error"]) == (409, "invalid_transition")
    unknown = dpo.post(f"{API}/{uuid.uuid4()}/confirm", json={"method": "email"}, headers=dpo_csrf)
    assert unknown.status_code == 404
