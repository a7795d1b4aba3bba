"""The extension a view offers and the extension `extend_request` grants come from one decision
(`deadlines.extension_offer`): a request never shows an extension that would then be refused."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from governance.db import transaction
from governance.requests import service
from governance.requests.deadlines import DeadlineRule, Period, extension_offer, plan_extension
from governance.requests.errors import ExtensionNotAllowedError, InvalidTransitionError
from governance.requests.policy import load_policy
from tests.requests.conftest import DPO, SUPPORT

POLICY = load_policy(Path(__file__).resolve().parents[2] / "policies")
GDPR = POLICY.rule("GDPR")
CCPA = POLICY.rule("CCPA")
NONE = DeadlineRule(jurisdiction="X", respond_within=Period(30, "days"))

received_days = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


def _outcome(rule: DeadlineRule, received: date, granted: list[Period], requested: Period, notified: date) -> str:
    try:
        plan_extension(rule, received, granted, requested, reason="Many systems hold your data.", notified_on=notified)
    except ExtensionNotAllowedError as exc:
        return exc.code
    return "granted"


@given(
    st.sampled_from([GDPR, CCPA, NONE]),
    received_days,
    st.lists(st.integers(min_value=1, max_value=60), max_size=3),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=1, max_value=90),
)
def test_an_offered_extension_is_granted_and_a_refused_one_is_refused_with_the_same_code(
    rule: DeadlineRule, received: date, earlier: list[int], notice_after: int, requested: int
) -> None:
    unit = rule.respond_within.unit
    granted: list[Period] = []
    for amount in earlier:  # only extensions the rules allowed
        if _outcome(rule, received, granted, Period(amount, unit), received) == "granted":
            granted.append(Period(amount, unit))
    notified = received + timedelta(days=notice_after)
    offer = extension_offer(rule, received, granted, notified_on=notified)
    assert (offer.available is None) == (offer.refusal is not None)
    if offer.available is None:
        # whatever is asked for, the refusal is the one the offer named
        assert _outcome(rule, received, granted, Period(requested, unit), notified) == offer.refusal
        return
    assert offer.available.unit == unit
    # the whole offer can be taken, and not one unit more
    assert _outcome(rule, received, granted, offer.available, notified) == "granted"
    beyond = Period(offer.available.amount + 1, unit)
    assert _outcome(rule, received, granted, beyond, notified) == "extension_beyond_maximum"


def test_refusals_of_the_offer() -> None:
    received = date(2025, 1, 31)
    assert extension_offer(GDPR, received, [], notified_on=received).available == Period(2, "months")
    # the first period ended on 28 February: too late to tell the subject
    late = extension_offer(GDPR, received, [], notified_on=date(2025, 3, 1))
    assert (late.available, late.refusal, late.notice_by) == (None, "extension_notice_late", date(2025, 2, 28))
    used = extension_offer(GDPR, received, [Period(1, "months"), Period(1, "months")], notified_on=received)
    assert (used.available, used.refusal) == (None, "extension_beyond_maximum")
    once = extension_offer(CCPA, received, [Period(10, "days")], notified_on=received)
    assert (once.available, once.refusal) == (None, "extension_not_available")
    assert extension_offer(NONE, received, [], notified_on=received).refusal == "extension_not_available"
    closed = extension_offer(GDPR, received, [], notified_on=received, closed=True)
    assert closed.refusal == "request_closed"
    with pytest.raises(InvalidTransitionError):
        plan_extension(GDPR, received, [], Period(1, "months"), reason="r", notified_on=received, closed=True)


# --- through the service: the view and extend_request agree ------------------------------------------------


def _staff_request(session: Session, subject: uuid.UUID, received: datetime) -> uuid.UUID:
    with transaction(session):
        filed = service.file_request(
            session,
            subject_id=subject,
            kind="access",
            actor=SUPPORT,
            source="staff",
            verification_method=None,
            now=received,
        )
    return filed.request.id


def _try_extend(session: Session, request_id: uuid.UUID, amount: int, now: datetime) -> str:
    try:
        with transaction(session):
            service.extend_request(session, request_id, amount=amount, reason="Complex request", actor=DPO, now=now)
    except (ExtensionNotAllowedError, InvalidTransitionError) as exc:
        return exc.code
    return "granted"


@pytest.mark.parametrize("jurisdiction", ["EU", "US-CA"])
def test_the_view_offers_an_extension_exactly_when_extend_request_grants_it(
    session: Session, make_subject, jurisdiction: str
) -> None:
    received = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    days = [0, 20, 27, 28, 29, 44, 45, 46, 60]
    for day in days:
        for extended_first in (False, True):
            request_id = _staff_request(session, make_subject(events=0, jurisdiction=jurisdiction), received)
            now = received + timedelta(days=day)
            if extended_first:
                assert _try_extend(session, request_id, 1, received) == "granted"
            view = service.get_request(session, request_id, now=now)
            assert (view.extension_available is None) == (view.extension_refusal is not None)
            if view.extension_available is None:
                assert _try_extend(session, request_id, 1, now) == view.extension_refusal, (day, extended_first)
            else:
                offered = int(view.extension_available.split()[0])
                assert _try_extend(session, request_id, offered + 1, now) == "extension_beyond_maximum"
                assert _try_extend(session, request_id, offered, now) == "granted", (day, extended_first)
                after = service.get_request(session, request_id, now=now)
                assert after.extension_available is None
                assert _try_extend(session, request_id, 1, now) == after.extension_refusal


def test_after_the_first_period_no_extension_is_offered(session: Session, make_subject) -> None:
    """The reported bug: the view offered "2 months" after the first month, and extend_request refused."""
    received = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    request_id = _staff_request(session, make_subject(events=0), received)
    later = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    view = service.get_request(session, request_id, now=later)
    assert (view.extension_available, view.extension_refusal) == (None, "extension_notice_late")
    assert view.extension_notice_by == date(2025, 2, 28)
    assert _try_extend(session, request_id, 1, later) == "extension_notice_late"
    # a notice that was in fact given in time may be recorded late
    with transaction(session):
        extended = service.extend_request(
            session, request_id, amount=1, reason="Complex request", actor=DPO, now=later, notified_on=date(2025, 2, 20)
        )
    assert extended.due_on == date(2025, 3, 31)


def test_the_notice_day_lies_between_receipt_and_today(session: Session, make_subject) -> None:
    from governance.errors import ValidationFailedError

    received = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    request_id = _staff_request(session, make_subject(events=0), received)
    for notified in (date(2025, 1, 30), date(2025, 2, 2)):
        with pytest.raises(ValidationFailedError), transaction(session):
            service.extend_request(
                session, request_id, amount=1, reason="Complex", actor=DPO, now=received, notified_on=notified
            )


def test_a_closed_request_offers_nothing_and_refuses(session: Session, make_subject) -> None:
    received = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    request_id = _staff_request(session, make_subject(events=0), received)
    with transaction(session):
        service.reject_request(session, request_id, code="excessive", actor=DPO, now=received)
    view = service.get_request(session, request_id, now=received)
    assert (view.extension_available, view.extension_refusal) == (None, "request_closed")
    assert _try_extend(session, request_id, 1, received) == "invalid_transition"
