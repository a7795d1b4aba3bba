"""The privacy budget ledger: reserve before running, then commit what was spent or refund.

Every change locks the budget rows it touches (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite serializes writers
with `BEGIN IMMEDIATE`), in a fixed order (the purpose's row, then the client's share), so concurrent requests can
never overspend and never deadlock. Amounts are integers (governance.gateway.budget). Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.consent import service as consent
from governance.db import utcnow
from governance.gateway import budget as arithmetic
from governance.gateway.budget import Budget, Spend, Totals
from governance.gateway.errors import (
    BudgetExhaustedError,
    BudgetNotConfiguredError,
    OverspendError,
    ReservationNotFoundError,
    ReservationStateError,
)
from governance.gateway.models import BudgetAccount, BudgetReservation
from governance.gateway.policy import gateway_policy

__all__ = [
    "BudgetPreview",
    "BudgetView",
    "budget_status",
    "commit_budget",
    "preview_budget",
    "refund_budget",
    "reserve_budget",
    "window_of",
]

PURPOSE_WIDE = ""
_SYSTEM = ActorRef("system", "gateway")


@dataclass(frozen=True, slots=True)
class BudgetView:
    purpose: str
    client_id: str | None
    accounting: str
    epsilon_total: Decimal
    delta_total: Decimal
    epsilon_spent: Decimal  # committed and reserved, composed under `accounting`
    delta_spent: Decimal
    epsilon_remaining: Decimal
    delta_remaining: Decimal
    reserved: int  # open reservations
    window: str = "none"  # none, day, week, month (policy `budget_window`)
    window_start: dt.date | None = None
    window_resets_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_resets_at": self.window_resets_at.isoformat() if self.window_resets_at else None,
            "purpose": self.purpose,
            "client_id": self.client_id,
            "accounting": self.accounting,
            "epsilon_total": str(self.epsilon_total),
            "delta_total": str(self.delta_total),
            "epsilon_spent": str(self.epsilon_spent),
            "delta_spent": str(self.delta_spent),
            "epsilon_remaining": str(self.epsilon_remaining),
            "delta_remaining": str(self.delta_remaining),
            "open_reservations": self.reserved,
        }


def window_of(window: str, now: dt.datetime) -> tuple[dt.date | None, dt.datetime | None]:
    """The window containing ``now`` (UTC): its first day and the moment the next one starts (None, None for a
    budget that never refreshes). Weeks start on Monday."""
    day = now.astimezone(dt.UTC).date()
    if window == "none":
        return None, None
    if window == "day":
        start, end = day, day + dt.timedelta(days=1)
    elif window == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC)


def _window_key(purpose: str, now: dt.datetime) -> str:
    policy = gateway_policy()
    start, _ = window_of(policy.budget_window(purpose), now)
    return start.isoformat() if start else ""


def budgets_for(purpose: str, client_id: str | None) -> tuple[Budget, Budget | None]:
    """The purpose's budget and, when policy gives the client a share, the client's. Raises when none."""
    policy = gateway_policy()
    found = consent.purposes().get(purpose)
    block = found.gateway if found is not None else None
    if block is None:
        raise BudgetNotConfiguredError()
    method = policy.accounting.method
    fraction = policy.accounting.conversion_delta_fraction

    def make(epsilon: Decimal, delta: Decimal) -> Budget:
        if method == "zcdp" and delta > 0:
            return Budget.of(epsilon, delta, accounting="zcdp", conversion_delta=delta * fraction)
        return Budget.of(epsilon, delta, accounting="basic")

    purpose_budget = make(block.epsilon, block.delta)
    grant = policy.client_grant(client_id, purpose) if client_id else None
    client_budget = make(grant.budget.epsilon, grant.budget.delta) if grant and grant.budget else None
    return purpose_budget, client_budget


def _account(session: Session, purpose: str, client_id: str, window: str) -> BudgetAccount:
    """The account row of ``window``, created if missing, locked for the rest of the transaction."""
    table = BudgetAccount.__table__
    values = {
        "id": uuid.uuid4(),
        "purpose": purpose,
        "client_id": client_id,
        "window_start": window,
        "updated_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())
    query = sa.select(BudgetAccount).where(
        BudgetAccount.purpose == purpose, BudgetAccount.client_id == client_id, BudgetAccount.window_start == window
    )
    return session.scalars(query.with_for_update().execution_options(populate_existing=True)).one()


def _read_totals(session: Session, purpose: str, client_id: str, window: str) -> Totals:
    row = session.scalars(
        sa.select(BudgetAccount).where(
            BudgetAccount.purpose == purpose, BudgetAccount.client_id == client_id, BudgetAccount.window_start == window
        )
    ).one_or_none()
    return _totals(row) if row is not None else Totals()


def _totals(account: BudgetAccount) -> Totals:
    return Totals(
        int(account.pure_epsilon_micro),
        int(account.pure_epsilon_sq),
        int(account.approx_epsilon_micro),
        int(account.delta_units),
    )


def _store(account: BudgetAccount, totals: Totals) -> None:
    account.pure_epsilon_micro = totals.pure_epsilon_micro
    account.pure_epsilon_sq = totals.pure_epsilon_sq
    account.approx_epsilon_micro = totals.approx_epsilon_micro
    account.delta_units = totals.delta_units
    account.updated_at = utcnow()


def _exhausted(purpose: str, client_id: str | None, budget: Budget, totals: Totals) -> BudgetExhaustedError:
    eps_left, delta_left = budget.remaining(totals)
    return BudgetExhaustedError(
        purpose=purpose,
        client_id=client_id,
        epsilon_left=arithmetic.epsilon_from_micro(eps_left),
        delta_left=arithmetic.delta_from_units(delta_left),
    )


def reserve_budget(
    session: Session,
    *,
    purpose: str,
    client_id: str,
    epsilon: Decimal,
    delta: Decimal,
    reason: str,
    ref: str,
    actor: Principal | ActorRef | None = None,
    now: dt.datetime | None = None,
) -> uuid.UUID:
    """Reserve (epsilon, delta) against the purpose's budget and the client's share (in the window containing
    ``now`` when policy refreshes budgets per window); returns the reservation id.

    Raises `BudgetExhaustedError` (with what remains) if either budget would be exceeded, and
    `BudgetNotConfiguredError` if the purpose has none. Audited in the caller's transaction.
    """
    spend = Spend.of(epsilon, delta)
    if spend.epsilon_micro == 0 and spend.delta_units == 0:
        raise OverspendError("A reservation must be for a positive amount.", code="empty_reservation")
    purpose_budget, client_budget = budgets_for(purpose, client_id)
    window = _window_key(purpose, now or utcnow())
    purpose_account = _account(session, purpose, PURPOSE_WIDE, window)  # lock order: purpose first, then client
    new_purpose_totals = _totals(purpose_account).plus(spend)
    if not purpose_budget.allows(new_purpose_totals):
        raise _exhausted(purpose, None, purpose_budget, _totals(purpose_account))
    client_account = None
    if client_budget is not None:
        client_account = _account(session, purpose, client_id, window)
        new_client_totals = _totals(client_account).plus(spend)
        if not client_budget.allows(new_client_totals):
            raise _exhausted(purpose, client_id, client_budget, _totals(client_account))
        _store(client_account, new_client_totals)
    _store(purpose_account, new_purpose_totals)
    reservation = BudgetReservation(
        id=uuid.uuid4(),
        purpose=purpose,
        client_id=client_id,
        charges_client_share=client_account is not None,
        window_start=window,
        state="reserved",
        epsilon_micro=spend.epsilon_micro,
        reserved_epsilon_micro=spend.epsilon_micro,
        delta_units=spend.delta_units,
        reason=reason[:64],
        ref=ref[:200],
    )
    session.add(reservation)
    session.flush()
    audit.record(
        session,
        actor=actor or _SYSTEM,
        action="gateway.budget.reserved",
        target=("budget_reservation", reservation.id),
        details={
            "purpose": purpose,
            "client_id": client_id,
            "epsilon_micro": spend.epsilon_micro,
            "delta_units": spend.delta_units,
            "reason": reason[:64],
        },
    )
    return reservation.id


def _settle(session: Session, reservation_id: uuid.UUID) -> tuple[BudgetReservation, list[BudgetAccount]]:
    reservation = session.get(BudgetReservation, reservation_id)
    if reservation is None:
        raise ReservationNotFoundError()
    window = reservation.window_start  # the window it was reserved in, even if a new one has begun since
    accounts = [_account(session, reservation.purpose, PURPOSE_WIDE, window)]
    if reservation.charges_client_share:
        accounts.append(_account(session, reservation.purpose, reservation.client_id, window))
    session.refresh(reservation, with_for_update=True)  # settled by someone else meanwhile?
    return reservation, accounts


def commit_budget(
    session: Session,
    reservation_id: uuid.UUID,
    *,
    epsilon_spent: Decimal,
    delta_spent: Decimal,
    actor: Principal | ActorRef | None = None,
) -> None:
    """Turn a reservation into a spend of (epsilon_spent, delta_spent), at most what was reserved; the rest is
    returned. Raises `ReservationStateError` if already settled, `OverspendError` if more than reserved."""
    reservation, accounts = _settle(session, reservation_id)
    if reservation.state != "reserved":
        raise ReservationStateError()
    reserved = Spend(reservation.epsilon_micro, reservation.delta_units)
    spent = Spend.of(epsilon_spent, delta_spent)
    if spent.epsilon_micro > reserved.epsilon_micro or spent.delta_units > reserved.delta_units:
        raise OverspendError()
    for account in accounts:
        _store(account, _totals(account).minus(reserved).plus(spent))
    reservation.state = "committed"
    reservation.epsilon_micro, reservation.delta_units = spent.epsilon_micro, spent.delta_units
    reservation.settled_at = utcnow()
    audit.record(
        session,
        actor=actor or _SYSTEM,
        action="gateway.budget.committed",
        target=("budget_reservation", reservation.id),
        details={
            "purpose": reservation.purpose,
            "client_id": reservation.client_id,
            "epsilon_micro": spent.epsilon_micro,
            "delta_units": spent.delta_units,
        },
    )


def refund_budget(session: Session, reservation_id: uuid.UUID, *, actor: Principal | ActorRef | None = None) -> None:
    """Return a reservation in full. Refunding a refunded reservation does nothing; a committed one raises."""
    reservation, accounts = _settle(session, reservation_id)
    if reservation.state == "refunded":
        return
    if reservation.state != "reserved":
        raise ReservationStateError()
    reserved = Spend(reservation.epsilon_micro, reservation.delta_units)
    for account in accounts:
        _store(account, _totals(account).minus(reserved))
    reservation.state = "refunded"
    reservation.settled_at = utcnow()
    audit.record(
        session,
        actor=actor or _SYSTEM,
        action="gateway.budget.refunded",
        target=("budget_reservation", reservation.id),
        details={"purpose": reservation.purpose, "client_id": reservation.client_id},
    )


def budget_status(
    session: Session, purpose: str, client_id: str | None = None, *, now: dt.datetime | None = None
) -> BudgetView:
    """The purpose's budget (or, with `client_id` and a client share in policy, the client's share), in the
    window containing ``now`` when policy refreshes it per window."""
    purpose_budget, client_budget = budgets_for(purpose, client_id)
    account_client = (client_id or "") if client_budget is not None else ""
    budget = client_budget if client_budget is not None else purpose_budget
    moment = now or utcnow()
    policy = gateway_policy()
    window_name = policy.budget_window(purpose)
    window_start, resets_at = window_of(window_name, moment)
    window = window_start.isoformat() if window_start else ""
    totals = _read_totals(session, purpose, account_client, window)
    spent_eps, spent_delta = budget.spent(totals)
    left_eps, left_delta = budget.remaining(totals)
    open_query = sa.select(sa.func.count()).where(
        BudgetReservation.purpose == purpose,
        BudgetReservation.state == "reserved",
        BudgetReservation.window_start == window,
    )
    if account_client:
        open_query = open_query.where(BudgetReservation.client_id == account_client)
    return BudgetView(
        purpose=purpose,
        client_id=account_client or None,
        accounting=budget.accounting,
        epsilon_total=arithmetic.epsilon_from_micro(budget.epsilon_micro),
        delta_total=arithmetic.delta_from_units(budget.delta_units),
        epsilon_spent=arithmetic.epsilon_from_micro(spent_eps),
        delta_spent=arithmetic.delta_from_units(spent_delta),
        epsilon_remaining=arithmetic.epsilon_from_micro(left_eps),
        delta_remaining=arithmetic.delta_from_units(left_delta),
        reserved=int(session.scalar(open_query) or 0),
        window=window_name,
        window_start=window_start,
        window_resets_at=resets_at,
    )


@dataclass(frozen=True, slots=True)
class BudgetPreview:
    """What a spend of (epsilon, delta) would do to a budget, computed without reserving anything.

    ``epsilon_charged`` is the spend as the ledger stores it (rounded up); the remaining budget after it is
    composed under the budget's accounting, so under zCDP it may fall by less than ``epsilon_charged``.
    ``allowed`` says whether a reservation made now would succeed (it can still lose a race later).
    """

    purpose: str
    client_id: str | None
    accounting: str
    epsilon_charged: Decimal
    delta_charged: Decimal
    epsilon_remaining_before: Decimal
    delta_remaining_before: Decimal
    epsilon_remaining_after: Decimal
    delta_remaining_after: Decimal
    allowed: bool
    limited_by: str | None  # "purpose" or "client" when not allowed
    window: str
    window_resets_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "client_id": self.client_id,
            "accounting": self.accounting,
            "epsilon_charged": str(self.epsilon_charged),
            "delta_charged": str(self.delta_charged),
            "epsilon_remaining_before": str(self.epsilon_remaining_before),
            "delta_remaining_before": str(self.delta_remaining_before),
            "epsilon_remaining_after": str(self.epsilon_remaining_after),
            "delta_remaining_after": str(self.delta_remaining_after),
            "allowed": self.allowed,
            "limited_by": self.limited_by,
            "window": self.window,
            "window_resets_at": self.window_resets_at.isoformat() if self.window_resets_at else None,
        }


def preview_budget(
    session: Session,
    *,
    purpose: str,
    client_id: str,
    epsilon: Decimal,
    delta: Decimal,
    now: dt.datetime | None = None,
) -> BudgetPreview:
    """A dry run of ``reserve_budget``: the charge, the remaining budget before and after, whether it fits.
    Reads only (no lock, no audit: callers audit the preview they show). Raises `BudgetNotConfiguredError`."""
    spend = Spend.of(epsilon, delta)
    purpose_budget, client_budget = budgets_for(purpose, client_id)
    moment = now or utcnow()
    policy = gateway_policy()
    window_name = policy.budget_window(purpose)
    _, resets_at = window_of(window_name, moment)
    window = _window_key(purpose, moment)
    checks = [("purpose", purpose_budget, _read_totals(session, purpose, PURPOSE_WIDE, window))]
    if client_budget is not None:
        checks.append(("client", client_budget, _read_totals(session, purpose, client_id, window)))
    limited_by = next((name for name, b, t in checks if not b.allows(t.plus(spend))), None)
    # what is shown is the tighter of the budgets that apply: the client's share when it has one
    _, shown_budget, totals = checks[-1]
    before_eps, before_delta = shown_budget.remaining(totals)
    after_eps, after_delta = shown_budget.remaining(totals.plus(spend))
    return BudgetPreview(
        purpose=purpose,
        client_id=client_id if client_budget is not None else None,
        accounting=shown_budget.accounting,
        epsilon_charged=arithmetic.epsilon_from_micro(spend.epsilon_micro),
        delta_charged=arithmetic.delta_from_units(spend.delta_units),
        epsilon_remaining_before=arithmetic.epsilon_from_micro(before_eps),
        delta_remaining_before=arithmetic.delta_from_units(before_delta),
        epsilon_remaining_after=arithmetic.epsilon_from_micro(after_eps),
        delta_remaining_after=arithmetic.delta_from_units(after_delta),
        allowed=limited_by is None,
        limited_by=limited_by,
        window=window_name,
        window_resets_at=resets_at,
    )
