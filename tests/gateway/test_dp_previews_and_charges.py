"""Issue 15: no free answers from DP queries, and previews before any epsilon is spent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.gateway.conftest import PURPOSE

MEAN_OF_VIEWS = {
    "purpose": PURPOSE,
    "statistic": "mean",
    "epsilon": "0.5",
    "event_category": "view",
    "bounds": [0, 100],
    "max_rows_per_subject": 2,
}


@pytest.fixture
def trainer(bearer):
    return bearer(["datasets:request"], [PURPOSE])


def _spent(client, headers) -> str:
    return client.get(f"/api/v1/budgets/{PURPOSE}", headers=headers).get_json()["purpose"]["epsilon_spent"]


def _audit_actions(app) -> list[str]:
    from governance.audit.models import AuditEntry

    with app.app_context(), app.extensions["governance.db"].session() as session:
        return list(session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def test_differencing_attack_learns_nothing_free_about_whether_anyone_has_a_value(app, client, trainer, populate):
    """Is there any permitted person with a 'view' value? Before, the empty world answered 422 and was refunded
    (free), the other 201: the status code answered the question. Now both are charged DP answers."""
    populate(4, events=0)  # world A: permitted people, none with a value
    empty_world = client.post("/api/v1/dp/queries", json=MEAN_OF_VIEWS, headers=trainer)
    assert empty_world.status_code == 201, empty_world.get_json()
    assert _spent(client, trainer) == "0.5"

    populate(1, events=1)  # world B: one person with one value
    one_person = client.post("/api/v1/dp/queries", json=MEAN_OF_VIEWS, headers=trainer)
    assert one_person.status_code == 201
    assert _spent(client, trainer) == "1"  # charged the same again (basic and zCDP agree at two spends)
    a, b = empty_world.get_json()["result"], one_person.get_json()["result"]
    assert set(a) == set(b)  # same shape: the only difference is in the noisy value
    assert a["epsilon"] == b["epsilon"] == "0.5"
    assert "gateway.budget.refunded" not in _audit_actions(app)


def test_quantiles_over_nobody_are_a_charged_noisy_answer(client, trainer, populate):
    populate(2, events=0)
    body = {**MEAN_OF_VIEWS, "statistic": "quantiles", "quantiles": [0.5]}
    response = client.post("/api/v1/dp/queries", json=body, headers=trainer)
    assert response.status_code == 201
    assert 0 <= response.get_json()["result"]["value"]["values"][0] <= 100
    assert _spent(client, trainer) == "0.5"


def test_preview_states_charge_budget_and_accuracy_for_free_and_is_audited(app, client, trainer, populate):
    populate(3, events=2)
    body = {**MEAN_OF_VIEWS, "assumed_rows": 1000}
    preview = client.post("/api/v1/dp/queries/preview", json=body, headers=trainer)
    assert preview.status_code == 200, preview.get_json()
    out = preview.get_json()
    assert out["epsilon"] == "0.5"
    assert out["delta"] == "0"
    assert out["cost"] == "0"
    assert out["budget"]["epsilon_remaining_before"] == "10"  # model_training's budget (policies/purposes.yaml)
    assert Decimal(out["budget"]["epsilon_remaining_after"]) == Decimal("9.5")
    assert out["budget"]["allowed"] is True
    accuracy = out["expected_accuracy"]
    names = {c["name"]: c for c in accuracy["components"]}
    # centred sum: sensitivity N * (upper - lower) / 2 = 100 at epsilon / 2 -> Laplace scale 400
    assert names["centred_sum"]["scale"] == pytest.approx(400)
    assert names["count"]["scale"] == pytest.approx(8)  # N / (epsilon / 2)
    assert accuracy["value_ci95_half_width"] == pytest.approx(1.959964 * 400 * 2**0.5 / 1000, rel=1e-4)
    assert out["neighbouring"].startswith("one person's rows")
    assert _spent(client, trainer) == "0"  # free
    assert _audit_actions(app).count("gateway.preview.run") == 1
    # the preview answers the same whatever the data: nothing it shows depends on it
    populate(5, events=0)
    again = client.post("/api/v1/dp/queries/preview", json=body, headers=trainer).get_json()
    assert again["expected_accuracy"] == accuracy


def test_preview_of_a_query_beyond_the_budget_says_so_without_spending(client, bearer, populate):
    partner = bearer(["datasets:request"], ["partner_sharing"])  # budget epsilon 1.0
    query = {"purpose": "partner_sharing", "statistic": "count", "event_category": "view", "epsilon": "0.8"}
    assert client.post("/api/v1/dp/queries", json=query, headers=partner).status_code == 201
    preview = client.post("/api/v1/dp/queries/preview", json=query, headers=partner).get_json()
    assert preview["budget"]["allowed"] is False
    assert preview["budget"]["epsilon_remaining_before"] == "0.2"


def test_a_monthly_budget_refreshes_and_reservations_settle_in_their_own_window(app, session):
    from governance.core.runtime import runtime_of
    from governance.gateway import ledger
    from governance.gateway.errors import BudgetExhaustedError
    from governance.gateway.policy import GATEWAY_POLICY

    config = runtime_of(app)
    policy = config.get(GATEWAY_POLICY)
    monthly = policy.model_copy(
        update={"purposes": {**policy.purposes, "partner_sharing": _additions(policy, "month")}}
    )
    config.provide(GATEWAY_POLICY, monthly)
    try:
        with app.app_context():
            november = dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC)
            december = dt.datetime(2026, 12, 1, 0, 1, tzinfo=dt.UTC)
            kwargs = {"purpose": "partner_sharing", "client_id": "c1", "delta": Decimal(0), "reason": "t", "ref": "r"}
            first = ledger.reserve_budget(session, epsilon=Decimal("0.9"), now=november, **kwargs)
            with pytest.raises(BudgetExhaustedError):
                ledger.reserve_budget(session, epsilon=Decimal("0.5"), now=november, **kwargs)
            ledger.reserve_budget(session, epsilon=Decimal("0.9"), now=december, **kwargs)  # a fresh window
            ledger.commit_budget(session, first, epsilon_spent=Decimal("0.4"), delta_spent=Decimal(0))  # November's
            nov = ledger.budget_status(session, "partner_sharing", now=november)
            dec = ledger.budget_status(session, "partner_sharing", now=december)
            assert (nov.epsilon_spent, dec.epsilon_spent) == (Decimal("0.4"), Decimal("0.9"))
            assert dec.window == "month"
            assert dec.window_start == dt.date(2026, 12, 1)
            assert dec.window_resets_at == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
            session.rollback()
    finally:
        config.provide(GATEWAY_POLICY, policy)


def _additions(policy, window):
    from governance.gateway.policy import PurposeAdditions

    current = policy.purposes.get("partner_sharing") or PurposeAdditions()
    return current.model_copy(update={"budget_window": window})
