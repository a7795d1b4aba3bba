"""Consent writes, checks and bulk checks, and event intake, through the client against the real service."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from governance_client import IdempotencyKeyReusedError, Permission

RECS = "personalized_recommendations"


@pytest.fixture
def product(server):
    """The product product: creates subjects, records consents, sends events."""
    return server.client(["subjects:write", "consents:write", "events:write"])


@pytest.fixture
def recommender(server):
    return server.client(["consents:read"])


def new_subject(product) -> uuid.UUID:
    return product.subjects.create(f"user-{uuid.uuid4().hex[:10]}", profile={"country": "DE"}).id


def test_a_grant_then_a_withdrawal_change_the_check(product, recommender) -> None:
    subject = new_subject(product)
    assert recommender.consents.check(subject, RECS) == Permission(False, "no_consent")
    recorded = product.consents.grant(subject, RECS)
    assert len(recorded.receipts) == 1
    assert recommender.consents.allowed(subject, RECS)
    product.consents.withdraw(subject, RECS)
    answer = recommender.consents.check(subject, RECS)
    assert (answer.allowed, answer.reason) == (False, "withdrawn")
    assert not answer  # a Permission is falsy when not allowed
    state = {p.purpose: p.decision for p in recommender.consents.state(subject).purposes}
    assert state[RECS] == "withdrawn"


def test_a_write_repeated_with_its_idempotency_key_is_recorded_once(product) -> None:
    subject = new_subject(product)
    decisions = [{"purpose": RECS, "decision": "granted", "collected_at": dt.datetime.now(dt.UTC)}]
    first = product.consents.record(subject, decisions, idempotency_key="banner-save-1")
    again = product.consents.record(subject, decisions, idempotency_key="banner-save-1")
    assert [r.record_id for r in again.receipts] == [r.record_id for r in first.receipts]
    with pytest.raises(IdempotencyKeyReusedError) as reused:
        product.consents.withdraw(subject, RECS, idempotency_key="banner-save-1")
    assert (reused.value.status_code, reused.value.code) == (409, "idempotency_key_reused")


def test_a_bulk_check_over_the_per_request_limit_is_split_and_answers_every_id(product, recommender) -> None:
    granted, silent = new_subject(product), new_subject(product)
    product.consents.grant(granted, RECS)
    strangers = [uuid.uuid4() for _ in range(10_050)]
    ids = [granted, *strangers[:5_000], silent, *strangers[5_000:], granted]  # a duplicate too
    assert recommender.consents.allowed(granted, RECS)  # the token is fetched here, not below
    before = recommender.stats.requests
    answers = recommender.consents.check_many(RECS, ids)
    assert recommender.stats.requests - before == 2  # 10,000 ids per request
    assert len(answers) == len(strangers) + 2
    assert answers[granted] == Permission(True, "granted")
    assert answers[silent].allowed is False
    assert not any(answers[s].allowed for s in strangers)
    assert recommender.consents.permitted(RECS, ids) == [granted]


def test_events_are_consent_gated_per_category_and_idempotent(product) -> None:
    subject = new_subject(product)
    product.consents.grant(subject, RECS)  # view, click, search, purchase, rating become lawful
    when = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
    events = [
        {"event_id": "e1", "category": "view", "occurred_at": when, "item_id": "sku-1"},
        {"event_id": "e2", "category": "chat_intent", "occurred_at": when},  # no purpose granted covers it
        {"event_id": "e3", "category": "purchase", "occurred_at": when, "item_id": "sku-2", "value": 12.5},
    ]
    report = product.events.send(subject, events)
    assert (report.accepted, report.duplicates) == (2, 0), report
    assert [(r.index, r.event_id, r.error) for r in report.rejected] == [(1, "e2", "no_lawful_basis")]
    assert report.by_category == {"view": 1, "purchase": 1}
    again = product.events.send(subject, [events[0]])
    assert (again.accepted, again.duplicates) == (0, 1)


def test_mixed_batches_report_rejections_at_the_callers_positions(product) -> None:
    alpha, bravo = new_subject(product), new_subject(product)
    product.consents.grant(alpha, RECS)
    when = "2026-11-30T12:00:00Z"
    events = [
        {"subject_id": alpha, "event_id": "a1", "category": "view", "occurred_at": when, "item_id": "sku-1"},
        {
            "subject_id": bravo,
            "event_id": "b1",
            "category": "view",
            "occurred_at": when,
            "item_id": "sku-1",
        },  # bravo granted nothing
        {"subject_id": bravo, "event_id": "b2", "category": "purchase", "occurred_at": when, "item_id": "sku-3"},
        {"subject_id": alpha, "event_id": "a2", "category": "view", "occurred_at": "yesterday", "item_id": "sku-1"},
    ]
    report = product.events.send_mixed(events)
    assert report.accepted == 2
    assert {(r.index, r.error) for r in report.rejected} == {(1, "no_lawful_basis"), (3, "invalid_event")}
