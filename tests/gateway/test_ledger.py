import threading
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from governance.db import transaction
from governance.gateway import service
from governance.gateway.budget import epsilon_to_micro
from governance.gateway.errors import (
    BudgetExhaustedError,
    BudgetNotConfiguredError,
    OverspendError,
    ReservationStateError,
)

PURPOSE = "partner_sharing"  # policies/purposes.yaml: epsilon 1.0, delta 1e-7


@pytest.fixture(autouse=True)
def _app_context(app):
    with app.app_context():
        yield


def reserve(session, epsilon, *, purpose=PURPOSE, client_id="svc", delta="0"):
    with transaction(session):
        return service.reserve_budget(
            session,
            purpose=purpose,
            client_id=client_id,
            epsilon=Decimal(epsilon),
            delta=Decimal(delta),
            reason="test",
            ref=str(uuid.uuid4()),
        )


def test_reserve_commit_refund_keep_exact_totals(session):
    first = reserve(session, "0.3")
    second = reserve(session, "0.2")
    with transaction(session):
        service.commit_budget(session, first, epsilon_spent=Decimal("0.1"), delta_spent=Decimal(0))
        service.refund_budget(session, second)
    status = service.budget_status(session, PURPOSE)
    assert status.epsilon_spent == Decimal("0.1")
    assert status.epsilon_remaining == Decimal("0.9")
    assert status.reserved == 0
    with transaction(session):
        service.refund_budget(session, second)  # refunding twice changes nothing
    with pytest.raises(ReservationStateError), transaction(session):
        service.refund_budget(session, first)
    third = reserve(session, "0.1")
    with pytest.raises(OverspendError), transaction(session):
        service.commit_budget(session, third, epsilon_spent=Decimal("0.2"), delta_spent=Decimal(0))


def test_a_request_beyond_the_budget_is_refused_with_what_remains(session):
    reserve(session, "0.75")
    with pytest.raises(BudgetExhaustedError) as refused:
        reserve(session, "0.3")
    assert refused.value.status == 409
    assert refused.value.extra["budget"]["epsilon_remaining"] == "0.25"
    reserve(session, "0.25")  # exactly the rest fits
    assert service.budget_status(session, PURPOSE).epsilon_remaining == 0


def test_tiny_spends_round_up_so_many_of_them_cannot_sneak_past(session):
    for _ in range(5):
        reserve(session, "0.0000001")  # rounds up to one micro-epsilon each
    assert service.budget_status(session, PURPOSE).epsilon_spent == Decimal("0.000005")


def test_client_share_is_enforced_alongside_the_purpose_budget(session):
    # policies/gateway.yaml gives intent-classifier 2.0 of chat_personalization's 4.0
    for _ in range(4):
        reserve(session, "0.5", purpose="chat_personalization", client_id="intent-classifier")
    with pytest.raises(BudgetExhaustedError) as refused:
        reserve(session, "0.5", purpose="chat_personalization", client_id="intent-classifier")
    assert refused.value.extra["budget"]["client_id"] == "intent-classifier"
    reserve(session, "1.5", purpose="chat_personalization", client_id="another-client")
    view = service.budget_status(session, "chat_personalization", "intent-classifier")
    assert view.client_id == "intent-classifier"
    assert view.epsilon_remaining == 0


def test_zcdp_accounting_lets_many_small_queries_fit_where_basic_would_not(session):
    # model_training: epsilon 10, delta 1e-5; 0.05 each: basic allows 200, zCDP composes to less
    for _ in range(260):
        reserve(session, "0.05", purpose="model_training")
    status = service.budget_status(session, "model_training")
    assert status.accounting == "zcdp"
    assert status.epsilon_spent < Decimal("13")  # basic would say 13.0
    assert status.epsilon_spent <= Decimal("10")


def test_purpose_without_a_budget_is_refused(session):
    with pytest.raises(BudgetNotConfiguredError):
        reserve(session, "0.1", purpose="marketing_email")


@pytest.mark.postgres_only
def test_32_concurrent_reservations_never_overspend(app, session):
    reserve(session, "0.95")  # 0.05 left: room for exactly 5 of 0.01
    database = app.extensions["governance.db"]
    barrier = threading.Barrier(32)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        with app.app_context():
            own = database.session()
            try:
                barrier.wait()
                with transaction(own):
                    service.reserve_budget(
                        own,
                        purpose=PURPOSE,
                        client_id="svc",
                        epsilon=Decimal("0.01"),
                        delta=Decimal(0),
                        reason="race",
                        ref="race",
                    )
                result = "ok"
            except BudgetExhaustedError:
                result = "refused"
            finally:
                own.close()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 5
    assert outcomes.count("refused") == 27
    session.expire_all()
    status = service.budget_status(session, PURPOSE)
    assert status.epsilon_spent == Decimal("1.0")
    from governance.gateway.models import BudgetReservation

    total = session.scalar(sa.select(sa.func.sum(BudgetReservation.epsilon_micro)))
    assert total == epsilon_to_micro("1.0")


def test_the_budget_ledger_lists_each_reservation_made_and_settled_newest_first(session):
    import datetime as dt

    first = reserve(session, "0.3")
    second = reserve(session, "0.2")
    third = reserve(session, "0.1")
    with transaction(session):
        service.commit_budget(session, first, epsilon_spent=Decimal("0.25"), delta_spent=Decimal(0))
        service.refund_budget(session, second)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    ledger = service.budget_ledger(session, since=since)
    assert [(e.reservation_id, e.status, e.epsilon_micro) for e in ledger] == [
        (second, "refunded", 0),
        (first, "committed", 250_000),
        (third, "reserved", 100_000),
        (second, "reserved", 200_000),
        (first, "reserved", 300_000),  # what was reserved, kept after the commit
    ]
    assert {(e.purpose, e.client_id, e.reason) for e in ledger} == {(PURPOSE, "svc", "test")}
    assert [e.status for e in service.budget_ledger(session, since=since, limit=2)] == ["refunded", "committed"]
    assert service.budget_ledger(session, since=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) == []
