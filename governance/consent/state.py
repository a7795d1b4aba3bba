"""Pure consent logic: folding ledger events into the current state, and deciding whether a use is permitted.

The ledger is append-only. Each event carries the time the subject decided (`collected_at`, given by the
product or the dashboard), the time the service received it (`received_at`) and the order it was recorded in.

Ordering that the sender's clock cannot game:
- a decision is ordered at ``min(collected_at, received_at)``: one dated in the future (within the accepted
  clock skew) counts from the moment it was received, never later;
- a *stop* (withdrawal, objection) always takes effect: every decision in force was received before it, and a
  withdrawal must never lose to a decision the service received before it, whatever dates they carry. It is
  ordered no earlier than the decision it overrides, so a past-dated grant arriving afterwards cannot revive
  that decision;
- other decisions (grants, expiries, lifting an objection) keep the out-of-order rule: one ordered before the
  decision in force is kept in the ledger, marked superseded, and changes nothing.
Objections are tracked apart from consent decisions, by the same rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from governance.consent.policy import Purpose, PurposeCatalog


class Decision(StrEnum):
    """What a ledger event says."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    OBJECTED = "objected"
    OBJECTION_LIFTED = "objection_lifted"


CONSENT_DECISIONS = frozenset({Decision.GRANTED, Decision.WITHDRAWN, Decision.EXPIRED})
OBJECTION_DECISIONS = frozenset({Decision.OBJECTED, Decision.OBJECTION_LIFTED})
STOP_DECISIONS = frozenset({Decision.WITHDRAWN, Decision.OBJECTED})  # never lose to an earlier-received decision


class Method(StrEnum):
    """How a decision was collected."""

    DASHBOARD = "dashboard"
    API = "api"
    GPC = "gpc"
    IMPORT = "import"
    EXPIRY = "expiry"
    REQUEST = "request"  # a data subject request (objection, erasure) handled by staff


class Reason(StrEnum):
    """Why a use is or is not permitted (the contract's `Permission.reason`)."""

    GRANTED = "granted"
    BASIS_NOT_CONSENT = "basis_not_consent"
    NO_CONSENT = "no_consent"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    NEEDS_RENEWAL = "needs_renewal"
    OBJECTED = "objected"
    UNKNOWN_PURPOSE = "unknown_purpose"


@dataclass(frozen=True, slots=True)
class Permission:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


# Shared instances: `is_permitted` is on the hot path and these are immutable.
PERMISSIONS: dict[Reason, Permission] = {
    reason: Permission(reason in (Reason.GRANTED, Reason.BASIS_NOT_CONSENT), reason.value) for reason in Reason
}


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """The parts of a consent event that decide the state."""

    decision: Decision
    collected_at: dt.datetime
    notice_version: int | None = None
    seq: int = 0  # recording order, breaks ties between equal collection times (later recorded wins)
    received_at: dt.datetime | None = None  # when the service received it (None: same as collected_at)

    @property
    def ordered_at(self) -> dt.datetime:
        """The time the decision is ordered at: never later than it was received."""
        if self.received_at is None:
            return self.collected_at
        return min(self.collected_at, self.received_at)


@dataclass(frozen=True, slots=True)
class ConsentState:
    """The current state of one (subject, purpose), as stored for fast reads."""

    decision: Decision | None = None  # granted / withdrawn / expired, or None when never decided
    decided_at: dt.datetime | None = None  # the time that decision is ordered at (LedgerEntry.ordered_at)
    decided_seq: int = 0
    notice_version: int | None = None  # notice version of that decision
    objected: bool = False
    objection_at: dt.datetime | None = None  # ordering time of the objection event in force (either kind)
    objection_seq: int = 0


EMPTY = ConsentState()


def _is_older(at: dt.datetime, seq: int, current_at: dt.datetime | None, current_seq: int) -> bool:
    if current_at is None:
        return False
    return (at, seq) < (current_at, current_seq)


def _ordered(entry: LedgerEntry, current_at: dt.datetime | None) -> dt.datetime:
    """A stop is ordered no earlier than the decision it overrides; others at their own time."""
    at = entry.ordered_at
    if entry.decision in STOP_DECISIONS and current_at is not None:
        return max(at, current_at)
    return at


def apply(state: ConsentState, entry: LedgerEntry) -> tuple[ConsentState, bool]:
    """Apply one ledger event (in recording order); return the new state and whether the event is superseded.

    A stop (withdrawal, objection) is never superseded. Any other event ordered before the decision in force is
    superseded; for equal times the later recorded (higher seq) event wins, so folding is deterministic.
    """
    stop = entry.decision in STOP_DECISIONS
    if entry.decision in CONSENT_DECISIONS:
        if not stop and _is_older(entry.ordered_at, entry.seq, state.decided_at, state.decided_seq):
            return state, True
        return (
            replace(
                state,
                decision=entry.decision,
                decided_at=_ordered(entry, state.decided_at),
                decided_seq=entry.seq,
                notice_version=entry.notice_version if entry.notice_version is not None else state.notice_version,
            ),
            False,
        )
    if not stop and _is_older(entry.ordered_at, entry.seq, state.objection_at, state.objection_seq):
        return state, True
    return (
        replace(
            state,
            objected=entry.decision == Decision.OBJECTED,
            objection_at=_ordered(entry, state.objection_at),
            objection_seq=entry.seq,
        ),
        False,
    )


def fold(entries: Iterable[LedgerEntry]) -> tuple[ConsentState, list[bool]]:
    """Fold ledger events in recording order; return the state and, per event, whether it was superseded."""
    state = EMPTY
    superseded = []
    for entry in entries:
        state, was_superseded = apply(state, entry)
        superseded.append(was_superseded)
    return state, superseded


def expires_at(purpose: Purpose, state: ConsentState) -> dt.datetime | None:
    """When a granted consent stops counting because of its age (None: it does not expire)."""
    age = purpose.max_consent_age
    if age is None or state.decision != Decision.GRANTED or state.decided_at is None:
        return None
    return state.decided_at + age


def evaluate(purpose: Purpose | None, state: ConsentState | None, now: dt.datetime) -> Permission:
    """Whether `purpose` may use the subject's data now, and why.

    Order matters: an objection beats everything; bases other than consent need no recorded decision; a
    consent must be granted, to a notice version at or after the last material change, and not older than
    the policy's maximum age (an over-age consent counts as expired at once, before the expiry job runs).
    """
    if purpose is None:
        return PERMISSIONS[Reason.UNKNOWN_PURPOSE]
    state = state or EMPTY
    if state.objected and purpose.objectable:
        return PERMISSIONS[Reason.OBJECTED]
    if not purpose.requires_consent:
        return PERMISSIONS[Reason.BASIS_NOT_CONSENT]
    if state.decision is None:
        return PERMISSIONS[Reason.NO_CONSENT]
    if state.decision == Decision.WITHDRAWN:
        return PERMISSIONS[Reason.WITHDRAWN]
    if state.decision == Decision.EXPIRED:
        return PERMISSIONS[Reason.EXPIRED]
    if (state.notice_version or 0) < purpose.renewal_from_version:
        return PERMISSIONS[Reason.NEEDS_RENEWAL]
    expiry = expires_at(purpose, state)
    if expiry is not None and now >= expiry:
        return PERMISSIONS[Reason.EXPIRED]
    return PERMISSIONS[Reason.GRANTED]


def gpc_withdrawals(
    catalog: PurposeCatalog, states: dict[str, ConsentState], *, explicit: Iterable[str] = ()
) -> list[str]:
    """Purposes a Global Privacy Control signal withdraws: sale/sharing purposes currently granted.

    Purposes the subject decided explicitly in the same request (`explicit`) are left to that decision: the
    subject's own act is the more specific expression of their choice. Purposes not granted need no event.
    """
    skip = set(explicit)
    return [
        p.key
        for p in catalog.sale_or_sharing_purposes()
        if p.key not in skip and states.get(p.key, EMPTY).decision == Decision.GRANTED
    ]


def due_for_expiry(purpose: Purpose, state: ConsentState, now: dt.datetime) -> dt.datetime | None:
    """The moment a granted consent expired, if it has by `now` (the expiry job records it with that time)."""
    expiry = expires_at(purpose, state)
    if expiry is not None and now >= expiry:
        return expiry
    return None
