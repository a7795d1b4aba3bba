"""Legal deadline arithmetic for data subject requests, as pure functions over dates.

The rules come from `policies/requests.yaml` (see `policy.py`); nothing here reads a clock or a database, so
the stateful service can call these with the request's stored dates and `today`.

- GDPR Art. 12(3): one calendar month from receipt, i.e. the same day number in the next month or that month's
  last day when it has none (31 January -> 28/29 February); extendable by up to two further months, with the
  reasons sent to the subject within the first month.
- CCPA (Cal. Code Regs. tit. 11 §7021): confirm receipt within 10 business days, respond within 45 calendar
  days, extendable once by up to 45 more with notice and reasons within the first 45 days.

All due dates are inclusive: a response sent on the due date is on time.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from governance.requests.errors import ExtensionNotAllowedError, InvalidTransitionError

__all__ = [
    "BusinessCalendar",
    "ConfirmationStatus",
    "DeadlineRule",
    "DeadlineStatus",
    "Deadlines",
    "ExtensionOffer",
    "Period",
    "add_business_days",
    "add_months",
    "business_days_between",
    "compute_deadlines",
    "confirmation_status",
    "deadline_status",
    "extension_offer",
    "plan_extension",
    "receipt_date",
]

Unit = Literal["months", "days", "business_days"]


def add_months(day: date, months: int) -> date:
    """The same day number `months` later, or that month's last day when it has no such day.

    >>> add_months(date(2025, 1, 31), 1)
    datetime.date(2025, 2, 28)
    >>> add_months(date(2024, 1, 31), 1)
    datetime.date(2024, 2, 29)
    """
    if months < 0:
        raise ValueError("months must be non-negative")
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Which days count as business days: not a weekend day (0=Monday … 6=Sunday) and not a listed holiday."""

    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays


def add_business_days(day: date, count: int, business_calendar: BusinessCalendar) -> date:
    """The `count`-th business day after `day` (`day` itself is never counted; count 0 returns `day`)."""
    if count < 0:
        raise ValueError("count must be non-negative")
    if len(business_calendar.weekend) >= 7:
        raise ValueError("a calendar needs at least one business weekday")
    current = day
    remaining = count
    while remaining:
        current += timedelta(days=1)
        if business_calendar.is_business_day(current):
            remaining -= 1
    return current


def business_days_between(start: date, end: date, business_calendar: BusinessCalendar) -> int:
    """Business days in the half-open interval (start, end]."""
    days = (end - start).days
    return sum(business_calendar.is_business_day(start + timedelta(days=n)) for n in range(1, days + 1))


@dataclass(frozen=True, slots=True)
class Period:
    """A legal period in one unit: calendar months, calendar days or business days."""

    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("a period cannot be negative")

    def after(self, start: date, business_calendar: BusinessCalendar) -> date:
        """The date this period after `start`."""
        if self.unit == "months":
            return add_months(start, self.amount)
        if self.unit == "days":
            return start + timedelta(days=self.amount)
        return add_business_days(start, self.amount, business_calendar)

    def __add__(self, other: Period) -> Period:
        if other.unit != self.unit:
            raise ValueError("periods of different units cannot be added")
        return Period(self.amount + other.amount, self.unit)

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """One jurisdiction's deadlines (built from the policy file)."""

    jurisdiction: str
    respond_within: Period
    confirm_within: Period | None = None
    #: the largest total extension; None when the law allows none
    extension_max: Period | None = None
    #: how many separate extensions may be granted; None = any number up to `extension_max`
    extension_max_times: int | None = None
    business_calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.respond_within.unit == "business_days":
            raise ValueError("the response period must be in months or calendar days")
        if self.extension_max is not None and self.extension_max.unit != self.respond_within.unit:
            raise ValueError("the extension must be in the same unit as the response period")


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The dates that follow from a receipt date and the extensions granted so far."""

    received_on: date
    confirm_by: date | None
    original_due: date
    due: date
    extended_by: Period
    #: the last day on which an extension (and its reasons) may be notified to the subject
    extension_notice_by: date | None
    #: how much of the legal allowance is left, whatever the day (None when the law allows none or it was used
    #: up). Whether an extension can be granted on a given day is `extension_offer`'s answer, not this.
    extension_available: Period | None


def receipt_date(received_at: datetime, rule: DeadlineRule) -> date:
    """The calendar day of receipt in the jurisdiction's time zone (`received_at` must be timezone-aware)."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(ZoneInfo(rule.timezone)).date()


def _zero(rule: DeadlineRule) -> Period:
    return Period(0, rule.respond_within.unit)


def _total(rule: DeadlineRule, extensions: Iterable[Period]) -> Period:
    total = _zero(rule)
    for extension in extensions:
        total = total + extension
    return total


def compute_deadlines(rule: DeadlineRule, received_on: date, extensions: Iterable[Period] = ()) -> Deadlines:
    """Due dates for a request received on `received_on` with the given (already validated) extensions.

    Extended due dates are counted from receipt (receipt + 1 + 2 months), never by chaining month ends, so
    31 January extended by two months is due on 30 April, not 28 April.
    """
    extensions = list(extensions)
    extended_by = _total(rule, extensions)
    cal = rule.business_calendar
    original_due = rule.respond_within.after(received_on, cal)
    due = (rule.respond_within + extended_by).after(received_on, cal)
    available: Period | None = None
    notice_by: date | None = None
    if rule.extension_max is not None:
        times_left = rule.extension_max_times is None or len(extensions) < rule.extension_max_times
        left = rule.extension_max.amount - extended_by.amount
        if times_left and left > 0:
            available = Period(left, rule.extension_max.unit)
        notice_by = original_due
    return Deadlines(
        received_on=received_on,
        confirm_by=rule.confirm_within.after(received_on, cal) if rule.confirm_within else None,
        original_due=original_due,
        due=due,
        extended_by=extended_by,
        extension_notice_by=notice_by,
        extension_available=available,
    )


@dataclass(frozen=True, slots=True)
class ExtensionOffer:
    """Whether one more extension can be granted with notice given on a certain day, and up to how much.

    `available` is set exactly when `refusal` is None; `refusal` is the error code `plan_extension` raises.
    """

    available: Period | None
    refusal: str | None = None
    message: str | None = None
    notice_by: date | None = None


def _refuse(code: str, message: str, notice_by: date | None = None) -> ExtensionOffer:
    return ExtensionOffer(available=None, refusal=code, message=message, notice_by=notice_by)


def extension_offer(
    rule: DeadlineRule,
    received_on: date,
    granted: Iterable[Period],
    *,
    notified_on: date,
    closed: bool = False,
) -> ExtensionOffer:
    """The one decision on extensions: what a view offers (with `notified_on` = today) and what
    `plan_extension` grants (with the day the subject is told) both come from here.

    Refusal codes: `request_closed`, `extension_not_available` (the law allows none, or the allowed number of
    extensions was used), `extension_beyond_maximum` (the whole legal maximum was used) and
    `extension_notice_late` (the subject would be told after the first period).
    """
    if closed:
        return _refuse("request_closed", "A closed request cannot be extended.")
    if rule.extension_max is None:
        return _refuse("extension_not_available", "This jurisdiction allows no extension.")
    granted = list(granted)
    current = compute_deadlines(rule, received_on, granted)
    notice_by = current.extension_notice_by
    if rule.extension_max_times is not None and len(granted) >= rule.extension_max_times:
        return _refuse("extension_not_available", "The request was already extended.", notice_by)
    left = rule.extension_max.amount - current.extended_by.amount
    if left <= 0:
        return _refuse(
            "extension_beyond_maximum", f"The legal maximum extension of {rule.extension_max} is used.", notice_by
        )
    if notice_by is not None and notified_on > notice_by:
        return _refuse(
            "extension_notice_late", "The subject must be told of an extension within the first period.", notice_by
        )
    return ExtensionOffer(available=Period(left, rule.extension_max.unit), notice_by=notice_by)


def plan_extension(
    rule: DeadlineRule,
    received_on: date,
    granted: Iterable[Period],
    requested: Period,
    *,
    reason: str | None,
    notified_on: date,
    closed: bool = False,
) -> Deadlines:
    """Validate one more extension and return the deadlines with it applied.

    Raises `InvalidTransitionError` for a closed request, and `ExtensionNotAllowedError` with code
    `extension_reason_required` (no reason for the subject), `extension_unit_mismatch`,
    `extension_beyond_maximum` (less than one unit, or more than `extension_offer` leaves) or the refusal of
    `extension_offer` (`extension_not_available`, `extension_beyond_maximum`, `extension_notice_late`).
    """
    granted = list(granted)
    offer = extension_offer(rule, received_on, granted, notified_on=notified_on, closed=closed)
    if offer.refusal == "request_closed":
        raise InvalidTransitionError(offer.message or "A closed request cannot be extended.")
    if not reason or not reason.strip():
        raise ExtensionNotAllowedError("extension_reason_required", "An extension needs a reason for the subject.")
    if rule.extension_max is not None and requested.unit != rule.extension_max.unit:
        raise ExtensionNotAllowedError(
            "extension_unit_mismatch", f"Extensions here are counted in {rule.extension_max.unit}."
        )
    if rule.extension_max is not None and requested.amount <= 0:
        raise ExtensionNotAllowedError("extension_beyond_maximum", "An extension must be at least one unit.")
    if offer.available is None:
        raise ExtensionNotAllowedError(offer.refusal or "extension_not_available", offer.message or "")
    if requested.amount > offer.available.amount:
        raise ExtensionNotAllowedError(
            "extension_beyond_maximum",
            f"The legal maximum extension is {rule.extension_max}; {offer.available} is left.",
        )
    return compute_deadlines(rule, received_on, [*granted, requested])


@dataclass(frozen=True, slots=True)
class DeadlineStatus:
    """What a dashboard shows: due date, whole days left (negative when late) and whether it is overdue."""

    due: date
    days_left: int
    overdue: bool


def deadline_status(due: date, today: date, *, closed_on: date | None = None) -> DeadlineStatus:
    """Days left until `due` as of `today`; a closed request is judged by its closing day."""
    reference = closed_on if closed_on is not None else today
    return DeadlineStatus(due=due, days_left=(due - reference).days, overdue=reference > due)


@dataclass(frozen=True, slots=True)
class ConfirmationStatus:
    """Where the confirmation of receipt stands (CCPA: within 10 business days of receipt).

    `overdue`: not confirmed and the confirmation day has passed; `late`: confirmed, but after that day.
    Both are False where the law sets no confirmation period (`confirm_by` is None).
    """

    confirm_by: date | None
    confirmed_on: date | None
    overdue: bool
    late: bool


def confirmation_status(
    confirm_by: date | None, today: date, *, confirmed_on: date | None = None
) -> ConfirmationStatus:
    """The confirmation state as of `today` (the confirmation day counts as in time)."""
    if confirm_by is None:
        return ConfirmationStatus(confirm_by=None, confirmed_on=confirmed_on, overdue=False, late=False)
    if confirmed_on is not None:
        return ConfirmationStatus(confirm_by, confirmed_on, overdue=False, late=confirmed_on > confirm_by)
    return ConfirmationStatus(confirm_by, None, overdue=today > confirm_by, late=False)
