"""Deadline arithmetic: the legal examples, and properties that must hold for every date."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.requests.deadlines import (
    BusinessCalendar,
    DeadlineRule,
    Period,
    add_business_days,
    add_months,
    business_days_between,
    compute_deadlines,
    deadline_status,
    plan_extension,
    receipt_date,
)
from governance.requests.errors import ExtensionNotAllowedError
from governance.requests.policy import load_policy

POLICY = load_policy(Path(__file__).resolve().parents[2] / "policies")
GDPR = POLICY.rule("GDPR")
CCPA = POLICY.rule("CCPA")

dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31))


# --- GDPR: one calendar month -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2025, 1, 31), date(2025, 2, 28)),
        (date(2024, 1, 31), date(2024, 2, 29)),  # leap year
        (date(2025, 1, 30), date(2025, 2, 28)),
        (date(2025, 1, 28), date(2025, 2, 28)),
        (date(2025, 1, 15), date(2025, 2, 15)),
        (date(2025, 3, 31), date(2025, 4, 30)),
        (date(2025, 12, 31), date(2026, 1, 31)),
        (date(2025, 2, 28), date(2025, 3, 28)),
        (date(2100, 1, 29), date(2100, 2, 28)),  # 2100 is not a leap year
    ],
)
def test_gdpr_one_calendar_month(received: date, due: date) -> None:
    deadlines = compute_deadlines(GDPR, received)
    assert deadlines.due == deadlines.original_due == due
    assert deadlines.confirm_by is None


@given(dates, st.integers(min_value=0, max_value=48))
def test_add_months_keeps_day_number_or_clamps_to_month_end(day: date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(day.day, last)


@given(dates, dates)
def test_add_months_is_monotonic(a: date, b: date) -> None:
    first, second = sorted((a, b))
    assert add_months(first, 1) <= add_months(second, 1)


@given(dates)
def test_one_month_is_between_28_and_31_days(day: date) -> None:
    assert 28 <= (add_months(day, 1) - day).days <= 31


def test_add_months_rejects_negative() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        add_months(date(2025, 1, 1), -1)


# --- GDPR extensions ----------------------------------------------------------------------------------------


def test_gdpr_extension_counts_from_receipt_not_from_clamped_month_end() -> None:
    received = date(2025, 1, 31)
    extended = plan_extension(
        GDPR, received, [], Period(2, "months"), reason="Complex request", notified_on=date(2025, 2, 10)
    )
    assert extended.original_due == date(2025, 2, 28)
    assert extended.due == date(2025, 4, 30)
    assert extended.extension_available is None


def test_gdpr_two_extensions_of_one_month_reach_the_maximum() -> None:
    received = date(2025, 5, 10)
    once = plan_extension(GDPR, received, [], Period(1, "months"), reason="Many requests", notified_on=received)
    assert once.due == date(2025, 7, 10)
    assert once.extension_available == Period(1, "months")
    twice = plan_extension(
        GDPR,
        received,
        [Period(1, "months")],
        Period(1, "months"),
        reason="Still complex",
        notified_on=received,
    )
    assert twice.due == date(2025, 8, 10)
    with pytest.raises(ExtensionNotAllowedError) as info:
        plan_extension(
            GDPR,
            received,
            [Period(1, "months"), Period(1, "months")],
            Period(1, "months"),
            reason="More",
            notified_on=received,
        )
    assert info.value.code == "extension_beyond_maximum"


@pytest.mark.parametrize(
    ("requested", "reason", "notified_on", "code"),
    [
        (Period(1, "months"), "", date(2025, 1, 20), "extension_reason_required"),
        (Period(1, "months"), "   ", date(2025, 1, 20), "extension_reason_required"),
        (Period(1, "months"), None, date(2025, 1, 20), "extension_reason_required"),
        (Period(3, "months"), "Complex", date(2025, 1, 20), "extension_beyond_maximum"),
        (Period(0, "months"), "Complex", date(2025, 1, 20), "extension_beyond_maximum"),
        (Period(30, "days"), "Complex", date(2025, 1, 20), "extension_unit_mismatch"),
        # the reason must reach the subject within the first month (due 15 February)
        (Period(1, "months"), "Complex", date(2025, 2, 16), "extension_notice_late"),
    ],
)
def test_gdpr_extension_refusals(requested: Period, reason: str | None, notified_on: date, code: str) -> None:
    with pytest.raises(ExtensionNotAllowedError) as info:
        plan_extension(GDPR, date(2025, 1, 15), [], requested, reason=reason, notified_on=notified_on)
    assert info.value.code == code
    assert info.value.status == 422


def test_gdpr_extension_notified_on_the_due_day_is_in_time() -> None:
    extended = plan_extension(
        GDPR, date(2025, 1, 15), [], Period(1, "months"), reason="Complex", notified_on=date(2025, 2, 15)
    )
    assert extended.due == date(2025, 3, 15)


@given(dates, st.lists(st.integers(min_value=1, max_value=3), max_size=4), st.integers(min_value=1, max_value=3))
def test_extensions_never_exceed_the_legal_maximum(received: date, earlier: list[int], requested: int) -> None:
    granted: list[Period] = []
    for months in earlier:
        try:
            plan_extension(GDPR, received, granted, Period(months, "months"), reason="r", notified_on=received)
        except ExtensionNotAllowedError:
            continue
        granted.append(Period(months, "months"))
    if sum(p.amount for p in granted) + requested > 2:
        with pytest.raises(ExtensionNotAllowedError):
            plan_extension(GDPR, received, granted, Period(requested, "months"), reason="r", notified_on=received)
        return
    result = plan_extension(GDPR, received, granted, Period(requested, "months"), reason="r", notified_on=received)
    assert result.extended_by.amount <= 2
    assert result.original_due <= result.due <= add_months(received, 3)


# --- CCPA ---------------------------------------------------------------------------------------------------


def test_ccpa_confirm_in_ten_business_days_skipping_weekends_and_holidays() -> None:
    # Friday 20 November 2026; Thanksgiving (26th) and the day after (27th) are state holidays.
    deadlines = compute_deadlines(CCPA, date(2026, 11, 20))
    assert deadlines.confirm_by == date(2026, 12, 8)
    assert deadlines.due == date(2027, 1, 4)  # 45 calendar days


def test_ccpa_confirm_without_holidays() -> None:
    # Monday 2 February 2026: two full weeks
    assert compute_deadlines(CCPA, date(2026, 2, 2)).confirm_by == date(2026, 2, 17)  # 16 Feb is Presidents' Day


def test_ccpa_extends_once_by_at_most_45_days() -> None:
    received = date(2026, 3, 2)
    extended = plan_extension(CCPA, received, [], Period(45, "days"), reason="Complex", notified_on=received)
    assert extended.due == received + timedelta(days=90)
    with pytest.raises(ExtensionNotAllowedError) as info:
        plan_extension(CCPA, received, [Period(20, "days")], Period(10, "days"), reason="Again", notified_on=received)
    assert info.value.code == "extension_not_available"
    with pytest.raises(ExtensionNotAllowedError) as info:
        plan_extension(CCPA, received, [], Period(46, "days"), reason="Too long", notified_on=received)
    assert info.value.code == "extension_beyond_maximum"
    with pytest.raises(ExtensionNotAllowedError) as info:
        plan_extension(CCPA, received, [], Period(10, "days"), reason="Late", notified_on=received + timedelta(days=46))
    assert info.value.code == "extension_notice_late"


def test_a_jurisdiction_without_extensions_refuses_them() -> None:
    rule = DeadlineRule(jurisdiction="X", respond_within=Period(30, "days"))
    with pytest.raises(ExtensionNotAllowedError) as info:
        plan_extension(rule, date(2025, 1, 1), [], Period(5, "days"), reason="r", notified_on=date(2025, 1, 1))
    assert info.value.code == "extension_not_available"


holiday_sets = st.frozensets(st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 12, 31)), max_size=40)


@given(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 12, 31)),
    st.integers(min_value=0, max_value=40),
    holiday_sets,
)
def test_business_days_land_on_a_business_day_and_count_exactly(start: date, count: int, holidays) -> None:
    cal = BusinessCalendar(holidays=holidays)
    result = add_business_days(start, count, cal)
    assert business_days_between(start, result, cal) == count
    if count:
        assert cal.is_business_day(result)
        assert result > start
        # no earlier day would do
        assert business_days_between(start, result - timedelta(days=1), cal) == count - 1
    else:
        assert result == start


def test_business_calendar_needs_a_working_day() -> None:
    with pytest.raises(ValueError, match="business weekday"):
        add_business_days(date(2025, 1, 1), 1, BusinessCalendar(weekend=frozenset(range(7))))


# --- status, receipt day ------------------------------------------------------------------------------------


@given(dates, dates)
def test_days_left_and_overdue_agree(due: date, today: date) -> None:
    status = deadline_status(due, today)
    assert status.days_left == (due - today).days
    assert status.overdue == (status.days_left < 0)


def test_due_day_itself_is_not_overdue_and_closed_requests_stop_counting() -> None:
    assert deadline_status(date(2025, 2, 28), date(2025, 2, 28)).overdue is False
    assert deadline_status(date(2025, 2, 28), date(2025, 3, 1)).overdue is True
    closed = deadline_status(date(2025, 2, 28), date(2025, 6, 1), closed_on=date(2025, 2, 20))
    assert closed.overdue is False
    assert closed.days_left == 8


def test_receipt_day_is_taken_in_the_jurisdictions_time_zone() -> None:
    late_evening_utc = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    assert receipt_date(late_evening_utc, GDPR) == date(2025, 2, 1)  # already 1 February in Brussels
    assert receipt_date(late_evening_utc, CCPA) == date(2025, 1, 31)
    with pytest.raises(ValueError, match="timezone-aware"):
        receipt_date(datetime(2025, 1, 31, 12, 0), GDPR)
