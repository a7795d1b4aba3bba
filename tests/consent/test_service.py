"""The consent service on a real database: grant → check → withdraw, history, receipts, out-of-order decisions,
material notice changes, expiry, GPC, objections, bulk reads and the audit trail."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.consent import service
from governance.consent.errors import (
    BasisNotConsentError,
    InvalidDecisionError,
    ObjectionNotApplicableError,
    UnknownPurposeError,
)
from governance.consent.models import ConsentEvent
from governance.consent.receipts import verify_receipt
from governance.consent.service import checks
from tests.consent.conftest import PRODUCT, SYSTEM, at

RECS = "personalized_recommendations"
SHARING = "partner_sharing"


def grant(session: Session, subject: uuid.UUID, purpose: str, when: dt.datetime, **kw) -> list[service.Receipt]:
    out = service.record_decisions(
        session,
        subject,
        [{"purpose": purpose, "decision": "granted", "collected_at": when, **kw}],
        method="api",
        actor=PRODUCT,
        jurisdiction="EU",
        now=when,
    )
    session.commit()
    return out


def withdraw(
    session: Session, subject: uuid.UUID, purpose: str, when: dt.datetime, now: dt.datetime | None = None
) -> list[service.Receipt]:
    out = service.record_decisions(
        session,
        subject,
        [{"purpose": purpose, "decision": "withdrawn", "collected_at": when}],
        method="dashboard",
        actor=SYSTEM,
        jurisdiction="EU",
        now=now or when,
    )
    session.commit()
    return out


def audit_actions(session: Session, subject: uuid.UUID) -> list[dict]:
    rows = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.target_id == str(subject), AuditEntry.action.like("consent.%"))
    )
    return [r.details for r in rows]


def test_grant_check_withdraw_with_history_and_receipts(session: Session, subject: uuid.UUID) -> None:
    assert service.is_permitted(session, subject, RECS, now=at()).reason == "no_consent"
    (granted,) = grant(session, subject, RECS, at())
    permission = service.is_permitted(session, subject, RECS, now=at(1))
    assert permission.allowed
    assert permission.reason == "granted"
    withdraw(session, subject, RECS, at(2))
    permission = service.is_permitted(session, subject, RECS, now=at(3))
    assert not permission.allowed
    assert permission.reason == "withdrawn"

    events = service.history(session, subject)
    assert [(e.purpose, e.decision, e.method, e.superseded) for e in events] == [
        (RECS, "granted", "api", False),
        (RECS, "withdrawn", "dashboard", False),
    ]
    assert events[0].notice_version == 2
    assert len(events[0].notice_sha256) == 64
    assert events[0].evidence == {}
    receipts = service.receipts(session, subject)
    assert [r["decision"] for r in receipts] == ["granted", "withdrawn"]
    assert receipts[0]["record_id"] == str(granted.record_id)
    assert verify_receipt(receipts[0]["jws"], service.public_keys())["event"]["type"] == "given"
    assert [d["decision"] for d in audit_actions(session, subject)] == ["granted", "withdrawn"]


def test_out_of_order_decision_is_kept_but_superseded(session: Session, subject: uuid.UUID) -> None:
    withdraw(session, subject, RECS, at(5))
    (late,) = service.record_decisions(  # a grant collected before the withdrawal, arriving later
        session, subject, [{"purpose": RECS, "decision": "granted", "collected_at": at(1)}],
        method="api", actor=PRODUCT, jurisdiction="EU", now=at(6),
    )  # fmt: skip
    session.commit()
    assert late.superseded
    assert late.receipt["event"]["superseded"] is True
    assert not service.is_permitted(session, subject, RECS, now=at(6)).allowed
    history = service.history(session, subject)
    assert [e.superseded for e in history] == [False, True]
    assert (history[1].collected_at, history[1].recorded_at) == (at(1), at(6))  # both times are kept
    verdict = service.verify_receipt_token(session, late.jws)
    assert verdict["in_ledger"]
    assert not verdict["current"]


def test_a_past_dated_withdrawal_received_after_a_grant_wins(session: Session, subject: uuid.UUID) -> None:
    grant(session, subject, RECS, at(5))
    (late,) = withdraw(session, subject, RECS, at(1), now=at(6))  # dated before the grant, received after it
    assert not late.superseded
    assert service.is_permitted(session, subject, RECS, now=at(6)).reason == "withdrawn"


def test_a_grant_dated_ahead_within_the_skew_loses_to_a_later_received_withdrawal(
    session: Session, subject: uuid.UUID
) -> None:
    """Finding 5 of issue 15: the grant dated 110 s ahead used to win, the withdrawal was marked superseded."""
    service.record_decisions(
        session, subject, [{"purpose": RECS, "decision": "granted", "collected_at": at(seconds=110)}],
        method="api", actor=PRODUCT, jurisdiction="EU", now=at(),
    )  # fmt: skip
    session.commit()
    (stop,) = withdraw(session, subject, RECS, at(seconds=5))
    assert not stop.superseded
    assert service.is_permitted(session, subject, RECS, now=at(seconds=10)).reason == "withdrawn"
    assert service.is_permitted(session, subject, RECS, now=at(seconds=200)).reason == "withdrawn"
    assert subject not in set(service.iter_permitted_subjects(session, RECS, now=at(seconds=200)))


def test_material_notice_change_needs_renewal(session: Session, subject: uuid.UUID) -> None:
    grant(session, subject, RECS, at(), notice_version=1)  # v2 is a material change
    permission = service.is_permitted(session, subject, RECS, now=at(1))
    assert permission.reason == "needs_renewal"
    assert not permission.allowed
    (status,) = [s for s in service.overview(session, subject, now=at(1)) if s.purpose == RECS]
    assert status.needs_renewal
    assert status.current_notice_version == 2
    grant(session, subject, RECS, at(2))
    assert service.is_permitted(session, subject, RECS, now=at(3)).reason == "granted"
    # model_training v2 only reworded: a v1 consent still counts
    grant(session, subject, "model_training", at(), notice_version=1)
    assert service.is_permitted(session, subject, "model_training", now=at(1)).allowed


def test_expiry_job_records_expired_and_check_denies_at_once(session: Session, make_subject) -> None:
    old, fresh = make_subject(), make_subject()
    grant(session, old, SHARING, at())  # max age 365 days
    grant(session, fresh, SHARING, at(300))
    later = at(366)
    assert service.is_permitted(session, old, SHARING, now=later).reason == "expired"  # before the job
    assert service.expire_due(session, now=later) == 1
    session.commit()
    assert service.expire_due(session, now=later) == 0  # idempotent
    events = service.history(session, old)
    assert [(e.decision, e.method) for e in events] == [("granted", "api"), ("expired", "expiry")]
    assert events[1].collected_at == at() + dt.timedelta(days=365)
    assert service.is_permitted(session, old, SHARING, now=later).reason == "expired"
    assert service.is_permitted(session, fresh, SHARING, now=later).allowed


def test_gpc_withdraws_sale_or_sharing_only(session: Session, subject: uuid.UUID) -> None:
    grant(session, subject, SHARING, at())
    grant(session, subject, RECS, at())
    receipts = service.apply_gpc(session, subject, actor=SYSTEM, now=at(1))
    session.commit()
    assert [(r.purpose, r.decision) for r in receipts] == [(SHARING, "withdrawn")]
    assert service.is_permitted(session, subject, SHARING, now=at(2)).reason == "withdrawn"
    assert service.is_permitted(session, subject, RECS, now=at(2)).allowed
    assert service.history(session, subject)[-1].method == "gpc"
    assert service.apply_gpc(session, subject, actor=SYSTEM, now=at(3)) == []  # nothing left to withdraw


def test_objection_and_non_consent_bases(session: Session, subject: uuid.UUID) -> None:
    assert service.is_permitted(session, subject, "fraud_prevention").reason == "basis_not_consent"
    assert service.is_permitted(session, subject, "fraud_prevention").allowed
    service.object_to(session, subject, ["fraud_prevention"], actor=SYSTEM)
    session.commit()
    assert service.is_permitted(session, subject, "fraud_prevention").reason == "objected"
    with pytest.raises(ObjectionNotApplicableError):
        service.object_to(session, subject, ["accounting_records"], actor=SYSTEM)
    session.rollback()
    service.lift_objection(session, subject, ["fraud_prevention"], actor=SYSTEM)
    session.commit()
    assert service.is_permitted(session, subject, "fraud_prevention").allowed


def test_bad_decisions_are_refused_and_nothing_is_written(session: Session, subject: uuid.UUID) -> None:
    now = at()
    cases = [
        ({"purpose": "astrology", "decision": "granted"}, UnknownPurposeError),
        ({"purpose": "fraud_prevention", "decision": "granted"}, BasisNotConsentError),
        ({"purpose": RECS, "decision": "granted", "collected_at": now + dt.timedelta(minutes=10)},
         InvalidDecisionError),
        ({"purpose": RECS, "decision": "granted", "notice_version": 9}, InvalidDecisionError),
        ({"purpose": RECS, "decision": "expired"}, InvalidDecisionError),
        ({"purpose": RECS, "decision": "granted", "collected_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)},
         InvalidDecisionError),
    ]  # fmt: skip
    for decision, error in cases:
        with pytest.raises(error):
            service.record_decisions(
                session, subject, [decision], method="api", actor=PRODUCT, jurisdiction="EU", now=now
            )
        session.rollback()
    with pytest.raises(UnknownPurposeError) as info:
        service.purpose("astrology")
    assert RECS in info.value.body()["valid_purposes"]
    assert session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 0
    # a small clock skew is tolerated
    grant(session, subject, RECS, now, notice_version=None)
    service.record_decisions(
        session, subject, [{"purpose": SHARING, "decision": "granted", "collected_at": now + dt.timedelta(seconds=30)}],
        method="api", actor=PRODUCT, jurisdiction="US-CA", now=now,
    )  # fmt: skip


def test_unknown_subject_is_the_vaults_not_found(session: Session) -> None:
    from governance.vault.errors import SubjectNotFoundError

    with pytest.raises(SubjectNotFoundError):
        service.record_decisions(
            session, uuid.uuid4(), [{"purpose": RECS, "decision": "granted"}], method="api", actor=PRODUCT,
            jurisdiction="EU",
        )  # fmt: skip


def test_bulk_reads(session: Session, make_subject) -> None:
    subjects = [make_subject() for _ in range(6)]
    for s in subjects[:4]:
        grant(session, s, RECS, at())
    withdraw(session, subjects[3], RECS, at(1))
    grant(session, subjects[4], RECS, at(), notice_version=1)
    results = service.check_many(session, subjects, RECS, now=at(2))
    assert [results[s].reason for s in subjects] == [
        "granted", "granted", "granted", "withdrawn", "needs_renewal", "no_consent",
    ]  # fmt: skip
    assert set(service.iter_permitted_subjects(session, RECS, now=at(2))) == set(subjects[:3])
    assert list(service.iter_permitted_subjects(session, RECS, now=at(800))) == []  # all over age
    with pytest.raises(UnknownPurposeError):
        list(service.iter_permitted_subjects(session, "astrology"))
    assert "search" in service.lawful_event_categories(session, subjects[0], now=at(2))
    assert "chat_intent" not in service.lawful_event_categories(session, subjects[0], now=at(2))
    # legitimate interest and contract purposes cover purchases without any consent
    assert "purchase" in service.lawful_event_categories(session, subjects[5], now=at(2))


def test_withdraw_all(session: Session, subject: uuid.UUID) -> None:
    grant(session, subject, RECS, at())
    grant(session, subject, SHARING, at())
    assert service.withdraw_all(session, subject, method="api", actor=SYSTEM, now=at(1)) == 2
    session.commit()
    assert not any(service.is_permitted(session, subject, p, now=at(2)).allowed for p in (RECS, SHARING))
    assert service.withdraw_all(session, subject, method="api", actor=SYSTEM, now=at(2)) == 0


def test_ledger_is_append_only(session: Session, subject: uuid.UUID) -> None:
    grant(session, subject, RECS, at())
    with pytest.raises(sa.exc.DatabaseError):
        session.execute(sa.update(ConsentEvent).values(decision="withdrawn"))
    session.rollback()


def test_bulk_sql_rule_agrees_with_the_pure_rule(session: Session) -> None:
    """check_many and iter_permitted_subjects evaluate in SQL; is_permitted in Python: they must agree."""
    import random

    from governance.consent.models import ConsentState

    rng = random.Random(7)
    now = at(400)
    subjects = []
    for _ in range(300):
        sid = uuid.uuid4()
        subjects.append(sid)
        for purpose in ("personalized_recommendations", "partner_sharing", "fraud_prevention", "product_analytics"):
            if rng.random() < 0.15:
                continue  # no row at all
            session.add(
                ConsentState(
                    subject_id=sid,
                    purpose=purpose,
                    decision=rng.choice([None, "granted", "granted", "withdrawn", "expired"]),
                    decided_at=at(rng.uniform(-400, 400)),
                    decided_seq=1,
                    notice_version=rng.choice([None, 1, 2]),
                    objected=rng.random() < 0.1,
                    objection_seq=0,
                    last_seq=1,
                    updated_at=now,
                )
            )
    session.commit()
    for purpose in ("personalized_recommendations", "partner_sharing", "fraud_prevention", "product_analytics"):
        bulk = service.check_many(session, subjects, purpose, now=now)
        single = {s: service.is_permitted(session, s, purpose, now=now) for s in subjects}
        assert bulk == single, purpose
        if service.purpose(purpose).requires_consent:
            streamed = set(service.iter_permitted_subjects(session, purpose, now=now))
            assert streamed == {s for s, p in single.items() if p.allowed}, purpose


def test_check_many_chunks_duplicates_and_unknown_ids(
    session: Session, make_subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results do not depend on how the ids are split into queries; duplicates and strangers are answered."""
    subjects = [make_subject() for _ in range(5)]
    for s in subjects[:3]:
        grant(session, s, RECS, at())
    withdraw(session, subjects[1], RECS, at(1))
    stranger = uuid.uuid4()
    asked = [*subjects, subjects[0], stranger, subjects[1]]
    whole = service.check_many(session, asked, RECS, now=at(2))
    monkeypatch.setattr(checks, "_BULK_CHUNK", 2)  # the module that reads it
    split = service.check_many(session, asked, RECS, now=at(2))
    assert whole == split
    assert list(whole) == [*subjects, stranger]  # the caller's order, each id once
    assert [whole[s].reason for s in [*subjects, stranger]] == [
        "granted", "withdrawn", "granted", "no_consent", "no_consent", "no_consent",
    ]  # fmt: skip
    assert service.check_many(session, [], RECS) == {}


def test_check_many_probes_the_covering_index_on_sqlite(session: Session, backend: str) -> None:
    """The bulk check must probe (purpose, subject_id), not scan every row of the purpose (SQLite has no
    statistics to tell it the second index is better, so the index design itself has to lead it there)."""
    if backend != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL chooses by statistics")
    stmt = service._check_many_statement(session, service.purpose(RECS), at())
    compiled = stmt.compile(session.get_bind())
    params = compiled.construct_params({"ids": "[]"})
    processors = compiled._bind_processors
    values = [processors[k](params[k]) if k in processors else params[k] for k in compiled.positiontup]
    plan = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), tuple(values)).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "ix_consent_state_purpose_subject (purpose=? AND subject_id=?)" in details, details


def test_streaming_in_small_batches_with_other_queries_between(session: Session) -> None:
    """Every permitted id arrives exactly once across fetch batches, while the consumer queries the session."""
    from governance.consent.models import ConsentState

    granted = {uuid.uuid4() for _ in range(23)}
    for sid in [*granted, *(uuid.uuid4() for _ in range(5))]:
        session.add(
            ConsentState(
                subject_id=sid, purpose=RECS, decision="granted" if sid in granted else "withdrawn",
                decided_at=at(), decided_seq=1, notice_version=2, objected=False, objection_seq=0,
                last_seq=1, updated_at=at(),
            )
        )  # fmt: skip
    session.commit()
    seen = []
    for sid in service.iter_permitted_subjects(session, RECS, now=at(1), batch_size=4):
        assert service.is_permitted(session, sid, RECS, now=at(1)).allowed
        seen.append(sid)
    assert sorted(seen) == sorted(granted)
    session.rollback()


def test_signing_key_is_published_with_the_first_committed_receipt(app, session: Session, subject: uuid.UUID) -> None:
    """A receipt's key is in `consent_receipt_keys` once the receipt is committed, even when the first write of
    the process rolled back; the process stops checking only after it saw the row committed."""
    from governance.consent.models import ReceiptSigningKey

    def stored() -> list[str]:
        return list(session.scalars(sa.select(ReceiptSigningKey.kid)))

    service.record_decisions(session, subject, [{"purpose": RECS, "decision": "granted"}], method="api",
                             actor=PRODUCT, jurisdiction="EU")  # fmt: skip
    session.rollback()
    signer = service._signer()
    assert stored() == []
    assert not signer.published
    (receipt,) = grant(session, subject, RECS, at())
    assert stored() == [signer.kid]
    assert not signer.published
    grant(session, subject, RECS, at(1))
    assert signer.published
    published = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "consent.receipt_key.published"))
    assert [(e.target_id, e.details["kid"]) for e in published] == [(signer.kid, signer.kid)]  # once, committed
    assert verify_receipt(receipt.jws, service.public_keys(session))["record_id"] == str(receipt.record_id)
