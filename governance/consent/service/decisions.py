"""What callers record: grants and withdrawals, withdraw-all, a GPC signal, objections and their lifting, and
the expiry sweep. Each validates, then goes through the ledger's one write path; none commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.access.principals import ActorRef, Principal
from governance.consent import state as logic
from governance.consent.errors import InvalidDecisionError, ObjectionNotApplicableError
from governance.consent.models import ConsentState
from governance.consent.service.catalog import purpose, purposes
from governance.consent.service.checks import _states_of
from governance.consent.service.ledger import _check_subject, _record
from governance.consent.service.state_rows import _lock_states, _to_logic
from governance.consent.service.validation import (
    _check_jurisdiction,
    _check_notice_shown,
    _clean_evidence,
    _Planned,
    _validate,
)
from governance.consent.service.views import DecisionInput, Receipt
from governance.consent.state import Decision, Method
from governance.db import utcnow

_state_table = ConsentState.__table__


def record_decisions(
    session: Session,
    subject_id: uuid.UUID,
    decisions: Iterable[DecisionInput | Mapping[str, Any]],
    *,
    method: str,
    actor: Principal | ActorRef,
    jurisdiction: str,
    evidence: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> list[Receipt]:
    """Record grants and withdrawals collected from the subject; one signed receipt per ledger event.

    A decision collected before the decision in force for its purpose is kept in the ledger, marked superseded,
    and changes nothing. Raises UnknownPurposeError, BasisNotConsentError, InvalidDecisionError (422) and the
    vault's subject errors (404/410). Does not commit.
    """
    moment = now or utcnow()
    inputs = [DecisionInput.of(d) for d in decisions]
    if not inputs:
        raise InvalidDecisionError("No decisions given.", fields={"decisions": "empty"})
    planned = _validate(inputs, now=moment, allowed=frozenset({Decision.GRANTED, Decision.WITHDRAWN}))
    cleaned = _clean_evidence(evidence)
    _check_notice_shown(planned, cleaned)
    _check_jurisdiction(jurisdiction)
    return _record(  # checks the subject in the statement that locks its state rows
        session,
        subject_id,
        planned,
        method=method,
        actor=actor,
        jurisdiction=jurisdiction,
        evidence=cleaned,
        now=moment,
    )


def withdraw_all(
    session: Session,
    subject_id: uuid.UUID,
    *,
    method: str,
    actor: Principal | ActorRef,
    jurisdiction: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Withdraw every consent the subject has granted (erasure, account closure). Returns the events recorded."""
    moment = now or utcnow()
    states = _states_of(session, subject_id)
    keys = [key for key, st in states.items() if st.decision == Decision.GRANTED and key in purposes()]
    if not keys:
        return 0
    planned = [
        _Planned(purposes()[key], Decision.WITHDRAWN, moment, purposes()[key].current_notice.version) for key in keys
    ]
    receipts_ = _record(
        session,
        subject_id,
        planned,
        method=method,
        actor=actor,
        jurisdiction=jurisdiction or purposes().controller.default_jurisdiction,
        evidence={},
        now=moment,
    )
    return sum(1 for r in receipts_ if not r.superseded)


def apply_gpc(
    session: Session,
    subject_id: uuid.UUID,
    *,
    actor: Principal | ActorRef,
    jurisdiction: str | None = None,
    explicit: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> list[Receipt]:
    """Honour a Global Privacy Control signal: withdraw every granted sale/sharing purpose (method `gpc`).

    Purposes the subject decided explicitly in the same request are left to that decision.
    """
    moment = now or utcnow()
    keys = logic.gpc_withdrawals(purposes(), _states_of(session, subject_id), explicit=explicit)
    planned = [
        _Planned(purposes()[key], Decision.WITHDRAWN, moment, purposes()[key].current_notice.version) for key in keys
    ]
    return _record(
        session,
        subject_id,
        planned,
        method=Method.GPC.value,
        actor=actor,
        jurisdiction=jurisdiction or purposes().controller.default_jurisdiction,
        evidence={"gpc": True},
        now=moment,
    )


def _objection(
    session: Session,
    subject_id: uuid.UUID,
    keys: Iterable[str],
    decision: Decision,
    *,
    actor: Principal | ActorRef,
    method: str,
    now: dt.datetime | None,
) -> list[Receipt]:
    moment = now or utcnow()
    planned = []
    for key in dict.fromkeys(keys):
        found = purpose(key)
        if not found.objectable:
            raise ObjectionNotApplicableError(
                f"Purpose '{key}' rests on {found.legal_basis.value}; an objection does not apply.",
                fields={"purposes": key},
            )
        planned.append(_Planned(found, decision, moment, found.current_notice.version))
    if not planned:
        raise InvalidDecisionError("No purposes given.", fields={"purposes": "empty"})
    return _record(
        session,
        subject_id,
        planned,
        method=method,
        actor=actor,
        jurisdiction=purposes().controller.default_jurisdiction,
        evidence={},
        now=moment,
    )


def object_to(
    session: Session,
    subject_id: uuid.UUID,
    purposes: Iterable[str],
    *,
    actor: Principal | ActorRef,
    method: str = Method.REQUEST.value,
    now: dt.datetime | None = None,
) -> None:
    """Record an objection (Art. 21) or restriction: `is_permitted` then says `objected` for those purposes.

    Raises UnknownPurposeError and ObjectionNotApplicableError (contract, legal obligation).
    """
    _objection(session, subject_id, purposes, Decision.OBJECTED, actor=actor, method=method, now=now)


def lift_objection(
    session: Session,
    subject_id: uuid.UUID,
    purposes: Iterable[str],
    *,
    actor: Principal | ActorRef,
    method: str = Method.REQUEST.value,
    now: dt.datetime | None = None,
) -> None:
    """Withdraw an objection (the subject changed their mind, or a restriction ended)."""
    _objection(session, subject_id, purposes, Decision.OBJECTION_LIFTED, actor=actor, method=method, now=now)


def expire_due(session: Session, *, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Record `expired` for granted consents older than their purpose's maximum age (at most `limit` rows).

    The event carries the moment the consent expired as its collection time. Returns the events recorded.
    """
    moment = now or utcnow()
    system = ActorRef("system", "consent.expiry")
    t = _state_table.c
    recorded = 0
    for item in purposes():
        age = item.max_consent_age
        if age is None or recorded >= limit:
            continue
        due = session.execute(
            sa.select(t.subject_id)
            .where(t.purpose == item.key, t.decision == Decision.GRANTED.value, t.decided_at <= moment - age)
            .order_by(t.subject_id)
            .limit(limit - recorded)
        ).scalars()
        for subject_id in list(due):
            row = _lock_states(session, subject_id, [item.key], moment).get(item.key)
            if row is None:  # the subject was erased meanwhile
                continue
            expiry = logic.due_for_expiry(item, _to_logic(row), moment)
            if expiry is None:  # renewed meanwhile
                continue
            version = row.notice_version or item.current_notice.version
            receipts_ = _record(
                session,
                subject_id,
                [_Planned(item, Decision.EXPIRED, expiry, version)],
                method=Method.EXPIRY.value,
                actor=system,
                jurisdiction=purposes().controller.default_jurisdiction,
                evidence={},
                now=moment,
            )
            recorded += len(receipts_)
    return recorded


def subject_exists(session: Session, subject_id: uuid.UUID) -> None:
    """Raise the vault's SubjectNotFoundError (404) / SubjectErasedError for an unknown or erased subject."""
    _check_subject(session, subject_id)
