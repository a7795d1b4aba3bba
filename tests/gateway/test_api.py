import hashlib
import statistics
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from governance.jobs.worker import drain
from tests.gateway.conftest import CANARY, PURPOSE

SPEC = {
    "purpose": PURPOSE,
    "profile_fields": ["birth_date", "country"],
    "event_categories": ["view"],
    "event_fields": ["category", "occurred_at", "item", "value"],
    "format": "csv",
}


@pytest.fixture
def trainer(bearer):
    return bearer(["datasets:request"], [PURPOSE])


def test_a_client_gets_a_release_end_to_end(app, client, trainer, populate):
    people = populate(12)
    created = client.post("/api/v1/datasets", json=SPEC, headers=trainer)
    assert created.status_code == 202, created.get_json()
    release_id = created.get_json()["release_id"]
    assert created.get_json()["status"] == "queued"
    assert drain(app) >= 1
    shown = client.get(f"/api/v1/datasets/{release_id}", headers=trainer).get_json()
    assert shown["status"] == "ready"
    assert shown["manifest"]["counts"]["subjects_released"] == len(people.ids)
    assert shown["manifest"]["k_anonymity"]["k_achieved"] >= 10
    link = client.post(f"/api/v1/datasets/{release_id}/links", headers=trainer)
    assert link.status_code == 201
    body = link.get_json()
    download = client.get(body["url"].replace("http://localhost", ""))  # public: the link is the credential
    data = download.get_data()
    download.close()
    assert download.status_code == 200
    assert hashlib.sha256(data).hexdigest() == body["checksum_sha256"] == shown["checksum_sha256"]
    assert download.headers["X-Checksum-SHA256"] == body["checksum_sha256"]
    text = data.decode()
    assert text.startswith("subject,birth_date,country,category,occurred_at,item,value")
    for value in CANARY.values():
        assert value not in text
    wrong = client.get(f"/api/v1/datasets/{release_id}/download?token={'x' * 43}")
    assert wrong.status_code == 410
    assert wrong.get_json()["error"] == "link_expired"


def test_a_field_not_allowed_is_refused_with_the_list_and_audited(app, client, trainer, session):
    from governance.audit.models import AuditEntry

    response = client.post(
        "/api/v1/datasets",
        json={**SPEC, "profile_fields": ["birth_date", "email", "name"]},
        headers=trainer,
    )
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "not_allowed"
    assert {(i["name"], i["reason"]) for i in body["not_allowed"]} == {
        ("email", "direct_identifier"),
        ("name", "direct_identifier"),
    }
    assert "gateway.release.refused" in set(session.scalars(sa.select(AuditEntry.action)))


def test_a_client_not_registered_for_the_purpose_is_refused(client, bearer):
    other = bearer(["datasets:request"], ["product_analytics"])
    response = client.post("/api/v1/datasets", json=SPEC, headers=other)
    assert response.status_code == 403


def test_another_client_cannot_see_or_download_a_release(app, client, trainer, bearer, populate):
    populate(10)
    release_id = client.post("/api/v1/datasets", json=SPEC, headers=trainer).get_json()["release_id"]
    drain(app)
    intruder = bearer(["datasets:request"], [PURPOSE])
    assert client.get(f"/api/v1/datasets/{release_id}", headers=intruder).status_code in (403, 404)
    assert client.post(f"/api/v1/datasets/{release_id}/links", headers=intruder).status_code in (403, 404)
    assert client.get(f"/api/v1/datasets/{uuid.uuid4()}", headers=trainer).status_code in (403, 404)


def test_dp_query_results_carry_their_guarantee_and_are_charged(client, trainer, populate):
    populate(15, events=4)
    response = client.post(
        "/api/v1/dp/queries",
        json={
            "purpose": PURPOSE,
            "statistic": "mean",
            "epsilon": "0.5",
            "event_category": "view",
            "bounds": [0, 100],
            "max_rows_per_subject": 2,
        },
        headers=trainer,
    )
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["result"]
    assert result["epsilon"] == "0.5"
    assert result["delta"] == "0"
    assert result["bounds"] == [0, 100]
    assert "laplace" in result["mechanism"]
    assert result["unit_of_privacy"] == "subject"
    budget = client.get(f"/api/v1/budgets/{PURPOSE}", headers=trainer).get_json()
    assert budget["purpose"]["epsilon_spent"] == "0.5"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"statistic": "mean", "epsilon": "0.5", "event_category": "view"}, 422, "invalid_query"),
        ({"statistic": "sum", "epsilon": "0.5", "event_category": "click", "bounds": [0, 1]}, 422, "invalid_query"),
        ({"statistic": "count", "epsilon": "5", "event_category": "view"}, 422, "invalid_query"),
        ({"statistic": "count", "epsilon": "0.5", "event_category": "view", "extra": 1}, 422, "unknown_field"),
    ],
)
def test_bad_dp_queries_are_refused_and_cost_nothing(client, trainer, body, status, error):
    response = client.post("/api/v1/dp/queries", json={"purpose": PURPOSE, **body}, headers=trainer)
    assert response.status_code == status
    assert response.get_json()["error"] == error
    budget = client.get(f"/api/v1/budgets/{PURPOSE}", headers=trainer).get_json()
    assert budget["purpose"]["epsilon_spent"] == "0"


def test_an_exhausted_budget_refuses_with_the_remaining_budget(client, bearer, populate):
    populate(3, purpose="partner_sharing")
    partner = bearer(["datasets:request"], ["partner_sharing"])  # budget epsilon 1.0
    query = {"purpose": "partner_sharing", "statistic": "count", "event_category": "view", "epsilon": "0.4"}
    assert client.post("/api/v1/dp/queries", json=query, headers=partner).status_code == 201
    assert client.post("/api/v1/dp/queries", json=query, headers=partner).status_code == 201
    refused = client.post("/api/v1/dp/queries", json=query, headers=partner)
    assert refused.status_code == 409
    assert refused.get_json()["budget"]["epsilon_remaining"] == "0.2"


@pytest.mark.slow
def test_dp_counts_are_within_expected_error_and_the_ledger_matches_the_queries(app, session, populate):
    from governance.gateway import dpqueries, service
    from governance.gateway.budget import Spend, Totals
    from governance.gateway.ledger import budgets_for
    from governance.gateway.models import DPQueryRecord
    from tests.gateway.conftest import client_principal

    populate(20, events=3)  # 60 view events
    client = client_principal()
    database = app.extensions["governance.db"]
    values = []
    with app.app_context():
        for seed in range(40):
            query = dpqueries.DPQueryRequest(
                purpose=PURPOSE,
                statistic="count",
                epsilon=Decimal("0.1"),
                event_category="view",
                max_rows_per_subject=3,
            )
            record = dpqueries.run_dp_query(database.session, client=client, query=query, random_state=seed)
            values.append(record.result["value"])
        # geometric noise, scale N/epsilon = 30 per query: the mean of 40 runs lies within 3 standard errors
        assert abs(statistics.fmean(values) - 60) < 3 * (2**0.5 * 30) / 40**0.5
        records = list(session.scalars(sa.select(DPQueryRecord)))
        assert len(records) == 40
        totals = Totals()
        for r in records:
            totals = totals.plus(Spend(r.epsilon_micro, r.delta_units))
        purpose_budget, _ = budgets_for(PURPOSE, client.id)
        eps, _delta = purpose_budget.spent(totals)
        status = service.budget_status(session, PURPOSE)
        assert status.epsilon_spent == Decimal(eps) / 10**6
        assert status.epsilon_spent < Decimal("4.0")  # zCDP composes 40 x 0.1 to less than basic's 4.0


def test_a_dpo_runs_a_dp_query_charged_to_the_purpose_budget_and_audited(app, client, trainer, populate, login_staff):
    """Issue 19, finding 8: docs/access.md gives the DPO `dpquery.run`. The DPO's query is charged to the
    purpose's budget (shared with every client, so nobody gets more privacy loss than the purpose allows) and
    audited under the DPO's name; other staff roles stay refused."""
    from tests.fixtures.access import csrf_token_from

    populate(8, events=2)
    dpo = app.test_client()
    dpo_id = login_staff(dpo, "dpo")
    csrf = {"X-CSRFToken": csrf_token_from(dpo.get("/login").get_data(as_text=True))}
    query = {"purpose": PURPOSE, "statistic": "count", "event_category": "view", "epsilon": "0.25"}
    preview = dpo.post("/api/v1/dp/queries/preview", json=query, headers=csrf)
    assert preview.status_code == 200, preview.get_json()
    ran = dpo.post("/api/v1/dp/queries", json=query, headers=csrf)
    assert ran.status_code == 201, ran.get_json()
    assert ran.get_json()["result"]["epsilon"] == "0.25"
    budget = client.get(f"/api/v1/budgets/{PURPOSE}", headers=trainer).get_json()
    assert budget["purpose"]["epsilon_spent"] == "0.25"  # the client sees the DPO's spend on the shared budget
    with app.extensions["governance.db"].engine.connect() as conn:
        actors = conn.execute(
            sa.text("SELECT actor_kind, actor_id FROM audit_entries WHERE action = 'gateway.dpquery.run'")
        ).all()
        charged = conn.execute(sa.text("SELECT client_id FROM gateway_dp_queries")).scalars().all()
    assert [tuple(a) for a in actors] == [("staff", str(dpo_id))]
    assert charged == [f"staff:{dpo_id}"]
    unknown = dpo.post("/api/v1/dp/queries", json={**query, "purpose": "no_such_purpose"}, headers=csrf)
    assert unknown.status_code in (403, 422)
    for role in ("admin", "support", "auditor"):
        other = app.test_client()
        login_staff(other, role)
        token = {"X-CSRFToken": csrf_token_from(other.get("/login").get_data(as_text=True))}
        assert other.post("/api/v1/dp/queries", json=query, headers=token).status_code == 403, role
