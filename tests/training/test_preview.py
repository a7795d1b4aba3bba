"""Issue 15: a training job's preview states its charge, the budget left and the expected noise, for free."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from governance.training.preview import noise_multiplier_rdp, rdp_epsilon
from tests.training.conftest import PURPOSE, classifier_request, db_session, naive_bayes_request


@pytest.mark.parametrize(("q", "steps", "epsilon"), [(0.25, 20, 3.0), (0.01, 500, 1.0), (0.05, 100, 0.5)])
def test_the_pure_python_noise_multiplier_bounds_what_opacus_calibrates(q, steps, epsilon) -> None:
    from opacus.accountants.utils import get_noise_multiplier

    from governance.training.ml.accounting import epsilon_for, quiet_accountant_warnings

    sigma = noise_multiplier_rdp(epsilon=epsilon, delta=1e-6, sample_rate=q, steps=steps)
    with quiet_accountant_warnings():
        opacus_rdp = get_noise_multiplier(
            target_epsilon=epsilon, target_delta=1e-6, sample_rate=q, steps=steps, accountant="rdp"
        )
        opacus_prv = get_noise_multiplier(
            target_epsilon=epsilon, target_delta=1e-6, sample_rate=q, steps=steps, accountant="prv"
        )
    assert sigma == pytest.approx(opacus_rdp, rel=0.02)
    assert sigma >= opacus_prv  # the job calibrates with PRV: its noise multiplier is at most the preview's
    # and at that sigma Opacus's own RDP accountant agrees the target holds (up to its order grid)
    assert epsilon_for(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=1e-6, accountant="rdp") <= (
        epsilon * 1.01
    )
    assert rdp_epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=1e-6) <= epsilon


def _spent(app: Flask) -> str:
    from governance.gateway import service as gateway

    with db_session(app) as session:
        return str(gateway.budget_status(session, PURPOSE).epsilon_spent)


def test_training_preview_costs_nothing_and_states_the_noise(
    app: Flask, client: FlaskClient, trainer: dict[str, str]
) -> None:
    body = {**classifier_request(), "assumed_people": 1000}
    response = client.post("/api/v1/training/jobs/preview", json=body, headers=trainer)
    assert response.status_code == 200, response.get_json()
    out = response.get_json()
    assert out["kind"] == "training"
    assert out["epsilon"] == "3"
    assert out["cost"] == "0"
    assert out["budget"]["allowed"] is True
    noise = out["expected_accuracy"]
    assert noise["gradient_normalizer"] == 16
    assert noise["epsilon_training"] == pytest.approx(3.0 - 0.05)  # the card's DP counts take 0.05
    assert noise["sample_rate"] == 1 / 50  # 800 training examples at an expected batch of 16
    assert noise["noise_multiplier_upper_bound"] > 0
    assert noise["noise_std_on_mean_gradient"] == pytest.approx(noise["noise_multiplier_upper_bound"] / 16)
    assert _spent(app) == "0"
    from governance.audit.models import AuditEntry

    with db_session(app) as session:
        actions = list(session.scalars(sa.select(AuditEntry.action)))
    assert "gateway.preview.run" in actions
    assert "training.job.submitted" not in actions
    # without an assumed size the noise is not guessed from the private data
    blind = client.post("/api/v1/training/jobs/preview", json=classifier_request(), headers=trainer).get_json()
    assert blind["expected_accuracy"]["noise_multiplier_upper_bound"] is None


def test_training_preview_refuses_what_submit_refuses(client: FlaskClient, trainer: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/training/jobs/preview",
        json=naive_bayes_request(privacy={"epsilon": 0.01, "delta": 0.0}),
        headers=trainer,
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "epsilon_below_count_share"
