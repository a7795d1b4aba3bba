"""DP synthetic releases (mode `dp_synthetic`): the generator's accounting is what the ledger charges, the output
holds no more real records than chance predicts, the utility report is there and sane, only permitted people are
in the input, a release beyond the budget is refused, and a preview costs nothing."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from governance.db import transaction
from governance.gateway.synthetic import (
    PersonColumn,
    count_bucket,
    count_keys,
    epsilon_micro,
    exact_matches,
    expected_records_reproduced_by_chance,
    records_reproduced,
)
from governance.jobs.worker import drain
from tests.gateway.conftest import CANARY, PURPOSE, SYSTEM

CUTS = (1, 3, 10, 30)
AGES = ("0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+")
COUNTRIES = ("DE", "FR", "ES", "IT", "NL", "SE", "PL")
DEVICES = ("mobile", "tablet", "desktop", "tv", "other")
COLUMNS = [
    PersonColumn("birth_date", AGES, "profile:birth_date"),
    PersonColumn("country", COUNTRIES, "profile:country"),
    PersonColumn("device", DEVICES, "profile:device"),
    PersonColumn("view_events", count_keys(CUTS), "events:view"),
    PersonColumn("purchase_events", count_keys(CUTS), "events:purchase"),
]


def _planted_person(rng: random.Random) -> tuple[str, ...]:
    """Profile columns independent of each other; purchases depend on views (a signal for the model). Spread over
    many combinations, so that most people's full records are rare and a copied record would stand out."""
    views = rng.randrange(0, 40)
    purchases = rng.randrange(0, 2) if views < 10 else rng.randrange(2, 12)
    return (
        rng.choice(AGES),
        rng.choice(COUNTRIES),
        rng.choice(DEVICES),
        count_bucket(views, CUTS),
        count_bucket(purchases, CUTS),
    )


@pytest.fixture(scope="module")
def planted() -> dict[str, Any]:
    """One synthesis (OpenDP MST, epsilon 1) of 400 planted people; 400 more from the same population stay out."""
    from governance.gateway.synthetic import synthesize

    rng = random.Random(20261201)
    given = [_planted_person(rng) for _ in range(400)]
    held_out = [_planted_person(rng) for _ in range(400)]
    result = synthesize(given, COLUMNS, epsilon=1.0, delta=1e-7, seed=7)
    return {"given": given, "held_out": held_out, "result": result}


@pytest.mark.slow
def test_the_epsilon_is_opendps_own_accounting_of_the_measurement(planted):
    import opendp.prelude as dp

    result = planted["result"]
    assert result.epsilon <= 1.0
    assert result.delta == 1e-7
    assert epsilon_micro(result.epsilon) == 1_000_000  # what the ledger charges: the request, to the micro-unit
    # independently: OpenDP's conversion of the measurement's rho at delta gives the same epsilon
    scale = math.sqrt(1 / (2 * result.rho))
    gaussian = dp.m.make_gaussian(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale)
    converted = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), 1e-7).map(1)[0]
    assert converted == pytest.approx(result.epsilon, rel=1e-6)
    assert result.accounting["contributions_per_person"] == 1


def _chance_bound(expected: float) -> float:
    return expected + 4 * math.sqrt(expected) + 3  # Poisson-like: far beyond this is no longer chance


def _people_reproduced(people: list[tuple[str, ...]], rows: list[tuple[str | None, ...]]) -> int:
    """How many of these people have their full record among the synthetic rows."""
    produced = set(rows)
    return sum(person in produced for person in people)


@pytest.mark.slow
def test_the_input_records_are_reproduced_no_more_often_than_held_out_peoples(planted):
    """The membership test an adversary runs: are the input's records reproduced more often than the records of
    people from the same population who were left out? epsilon-DP bounds how much likelier a person's record is
    to appear when they are in the input than when they are not (e^epsilon), so the held-out people's rate is the
    reference, for synthetic rows and for people. (An earlier reference, the matches expected if the columns
    were independent, was too tight: MST keeps noisy 2-way marginals, so matches come in bursts of duplicated
    rows, and about one synthesis in thirty exceeded it without any copying.)"""
    given, held_out, rows = planted["given"], planted["held_out"], planted["result"].rows
    matches, matches_out = exact_matches(given, rows), exact_matches(held_out, rows)
    assert matches <= _chance_bound(math.e * matches_out), (matches, matches_out)
    reproduced, reproduced_out = _people_reproduced(given, rows), _people_reproduced(held_out, rows)
    assert reproduced <= _chance_bound(math.e * reproduced_out), (reproduced, reproduced_out)
    # the checks can fail: a generator that copies its input is far beyond both
    copied = list(given)
    assert exact_matches(given, copied) > _chance_bound(math.e * exact_matches(held_out, copied))
    assert _people_reproduced(given, copied) > _chance_bound(math.e * _people_reproduced(held_out, copied))


@pytest.mark.slow
def test_the_utility_report_compares_marginals_and_a_model_against_the_real_data(planted):
    from governance.gateway.synthetic import utility_report

    given, rows = planted["given"], planted["result"].rows
    assert abs(len(rows) - len(given)) < 60  # the row count is a noisy total
    report = utility_report(given, rows, COLUMNS, target="purchase_events")
    marginals, model = report["marginals"], report["model"]
    assert set(marginals["one_way"]) == {c.name for c in COLUMNS}
    assert all(0 <= v <= 1 for v in marginals["one_way"].values())
    assert marginals["one_way_max"] < 0.3  # 1-way marginals survive epsilon = 1 on 400 people
    assert 0 <= marginals["two_way_mean"] <= marginals["two_way_max"] <= 1
    assert 0 <= model["accuracy_trained_on_synthetic"] <= 1
    # the planted signal (purchases follow views) is learnable from the real data
    assert model["accuracy_trained_on_real"] > model["accuracy_majority_baseline"]
    assert report["covered_by_dp_guarantee"] is False
    # against itself the report shows no error
    same = utility_report(given, given, COLUMNS, target="purchase_events")
    assert same["marginals"]["two_way_max"] == 0


# --- through the service and the API (both databases) ------------------------------------------------------


SPEC = {
    "purpose": PURPOSE,
    "profile_fields": ["birth_date", "country", "device"],
    "event_categories": ["view"],
    "epsilon": "1.0",
    "format": "csv",
}


def _make_people(app: Flask, n: int, *, seed: int) -> dict[str, set[uuid.UUID]]:
    """`n` people with varied profiles and 0-35 views, granted model_training; then a few withdraw, a few are
    erased, and a few never granted."""
    from governance.consent import service as consent
    from governance.vault import service as vault

    rng = random.Random(seed)
    groups: dict[str, set[uuid.UUID]] = {"permitted": set(), "withdrawn": set(), "erased": set(), "never": set()}
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            for i in range(n):
                fate = "permitted" if i % 10 < 7 else ("withdrawn", "erased", "never")[i % 10 - 7]
                profile = {
                    **CANARY,
                    "postal_code": f"{rng.randrange(10000, 99999)}",
                    "birth_date": f"{rng.randrange(1950, 2004)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                    "country": rng.choice(["de", "fr", "es", "it", "nl"]),
                    "language": "de-DE",
                    "device": rng.choice(["mobile", "desktop", "tablet"]),
                }
                with transaction(session):
                    view = vault.create_subject(
                        session, external_ref=f"syn-{uuid.uuid4().hex[:12]}", actor=SYSTEM, profile=profile
                    )
                    if fate != "never":
                        consent.record_decisions(
                            session,
                            view.id,
                            [{"purpose": PURPOSE, "decision": "granted"}],
                            method="api",
                            actor=SYSTEM,
                            jurisdiction="EU",
                        )
                    start = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
                    events = [
                        {
                            "event_id": f"syn-{i}-{j}",
                            "category": "view",
                            "occurred_at": (start + dt.timedelta(hours=j)).isoformat(),
                            "item_id": f"item-{j % 7}",
                            "value": 5.0,
                            "context": {"time_of_day": "morning", "device": "mobile"},
                        }
                        for j in range(rng.randrange(0, 36))
                    ]
                    if events:
                        vault.ingest_events(
                            session, view.id, events, actor=SYSTEM, lawful_categories=frozenset({"view"})
                        )
                with transaction(session):
                    if fate == "withdrawn":
                        consent.record_decisions(
                            session,
                            view.id,
                            [{"purpose": PURPOSE, "decision": "withdrawn"}],
                            method="api",
                            actor=SYSTEM,
                            jurisdiction="EU",
                        )
                    elif fate == "erased":
                        vault.shred_subject(session, view.id, actor=SYSTEM, reason="erasure request")
                groups[fate].add(view.id)
        finally:
            session.close()
    return groups


@pytest.fixture
def trainer(bearer: Callable[..., dict[str, str]]) -> dict[str, str]:
    return bearer(["datasets:request"], [PURPOSE])


def test_the_input_holds_one_row_per_permitted_person_and_nobody_else(app):
    from governance.gateway.synthetic_release import SyntheticSpec, collect_person_table

    groups = _make_people(app, 30, seed=1)
    spec = SyntheticSpec.of(SPEC)
    with app.app_context():
        people, rows = collect_person_table(app.extensions["governance.db"].session, spec, now=dt.datetime.now(dt.UTC))
    assert len(people) == len(set(people)) == len(rows)  # one row per person
    assert set(people) == groups["permitted"]
    assert all(len(row) == 4 for row in rows)
    assert {row[1] for row in rows} <= {"DE", "FR", "ES", "IT", "NL"}  # generalized, mapped to the public keys
    assert {row[3] for row in rows} <= set(count_keys(CUTS))


@pytest.mark.slow
def test_a_synthetic_release_end_to_end_is_charged_what_the_generator_accounts(app, client, trainer, session):
    from governance.gateway.models import BudgetReservation, Release
    from governance.gateway.service import subjects_in_release

    groups = _make_people(app, 60, seed=2)
    created = client.post("/api/v1/datasets/synthetic", json=SPEC, headers=trainer)
    assert created.status_code == 202, created.get_json()
    release_id = created.get_json()["release_id"]
    assert drain(app) >= 1
    shown = client.get(f"/api/v1/datasets/{release_id}", headers=trainer).get_json()
    assert shown["status"] == "ready", shown.get("error_code")
    manifest = shown["manifest"]
    assert manifest["mode"] == "dp_synthetic"
    assert shown["mode"] == "dp_synthetic"
    assert shown["data_classification"] == "dp_synthetic_data"
    assert manifest["release_mode"]["personal_data"] is False
    privacy = manifest["privacy"]
    assert privacy["unit_of_privacy"] == "person"
    assert privacy["neighbouring_relation"]
    assert privacy["covers"]
    assert privacy["does_not_cover"]
    assert float(privacy["delta"]) == 1e-7
    reservation = session.scalars(
        sa.select(BudgetReservation).where(BudgetReservation.ref == f"release:{release_id}")
    ).one()
    assert reservation.state == "committed"
    assert reservation.epsilon_micro == epsilon_micro(float(privacy["epsilon"])) == 1_000_000
    assert manifest["budget_charged"]["epsilon_micro"] == reservation.epsilon_micro
    assert privacy["accounting"]["epsilon"] == privacy["epsilon"]
    utility = manifest["utility"]
    assert set(utility["marginals"]["one_way"]) == {"birth_date", "country", "device", "view_events"}
    assert utility["model"]["target"] == "view_events"
    assert 0 <= utility["model"]["accuracy_trained_on_synthetic"] <= 1
    # lineage: exactly the permitted people (their dashboards show the release); the withdrawn, erased and
    # never-granted are not in the input
    assert subjects_in_release(session, uuid.UUID(release_id)) == groups["permitted"]
    assert "subjects_released" not in manifest["counts"]  # the exact number of people is not released
    session.rollback()  # end the read (SQLite's writer lock is taken at BEGIN by the requests below)
    link = client.post(f"/api/v1/datasets/{release_id}/links", headers=trainer).get_json()
    download = client.get(link["url"].replace("http://localhost", ""))
    text = download.get_data().decode()
    download.close()
    lines = text.strip().splitlines()
    assert lines[0] == "birth_date,country,device,view_events"
    assert len(lines) - 1 == shown["rows"] == manifest["counts"]["rows_released"]
    for value in CANARY.values():
        assert value not in text
    stored = session.get(Release, uuid.UUID(release_id))
    assert stored.pseudonym_mode == "none"


def test_a_release_beyond_the_budget_is_refused_and_nothing_is_stored(app, client, trainer, session):
    from governance.gateway.models import Release

    big = {**SPEC, "epsilon": "4.0"}
    for _ in range(2):  # model_training has epsilon 10: two reservations of 4 fit
        assert client.post("/api/v1/datasets/synthetic", json=big, headers=trainer).status_code == 202
    before = session.scalar(sa.select(sa.func.count()).select_from(Release))
    session.rollback()  # end the read (SQLite's writer lock is taken at BEGIN by the requests below)
    preview = client.post("/api/v1/datasets/synthetic/preview", json=big, headers=trainer).get_json()
    assert preview["budget"]["allowed"] is False
    refused = client.post("/api/v1/datasets/synthetic", json=big, headers=trainer)
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "budget_exhausted"
    assert Decimal(refused.get_json()["budget"]["epsilon_remaining"]) < Decimal("4")
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(Release)) == before


def test_a_preview_says_what_would_be_charged_and_costs_nothing(client, trainer):
    before = client.get(f"/api/v1/budgets/{PURPOSE}", headers=trainer).get_json()["purpose"]
    response = client.post("/api/v1/datasets/synthetic/preview", json={**SPEC, "epsilon": "0.75"}, headers=trainer)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["kind"] == "synthetic"
    assert body["cost"] == "0"
    assert body["epsilon"] == "0.75"
    assert Decimal(body["delta"]) == Decimal("1e-7")
    assert body["unit_of_privacy"] == "person"
    assert body["budget"]["allowed"] is True
    assert Decimal(body["budget"]["epsilon_remaining_before"]) == Decimal(before["epsilon_remaining"])
    assert Decimal(body["budget"]["epsilon_remaining_after"]) == Decimal(before["epsilon_remaining"]) - Decimal("0.75")
    after = client.get(f"/api/v1/budgets/{PURPOSE}", headers=trainer).get_json()["purpose"]
    assert after == before


def test_asking_for_dp_synthetic_through_the_row_release_route_points_to_its_own(client, trainer):
    body = {"purpose": PURPOSE, "profile_fields": ["birth_date", "country"], "mode": "dp_synthetic"}
    response = client.post("/api/v1/datasets", json=body, headers=trainer)
    assert response.status_code == 403
    assert ("dp_synthetic", "use_synthetic_endpoint") in {
        (i["name"], i["reason"]) for i in response.get_json()["not_allowed"]
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"profile_fields": ["birth_date", "email"]}, ("email", "direct_identifier")),
        ({"profile_fields": ["birth_date", "postal_code"]}, ("postal_code", "no_public_domain")),
        ({"event_categories": ["view"], "profile_fields": []}, ("columns", "fewer_than_two_columns")),
        ({"epsilon": "5"}, ("5", "outside_policy_limit")),
        ({"utility_target": "name"}, ("name", "not_a_column")),
    ],
)
def test_a_synthetic_spec_policy_does_not_allow_is_refused_with_the_list(client, trainer, change, expected):
    for path in ("/api/v1/datasets/synthetic", "/api/v1/datasets/synthetic/preview"):
        response = client.post(path, json={**SPEC, **change}, headers=trainer)
        assert response.status_code == 403, response.get_json()
        body = response.get_json()
        assert body["error"] == "not_allowed"
        assert expected in {(i["name"], i["reason"]) for i in body["not_allowed"]}


def test_bad_synthetic_input_is_a_clear_422(client, trainer):
    for body in ({**SPEC, "epsilon": "-1"}, {**SPEC, "delta": "0.5"}, {**SPEC, "extra": 1}, {"purpose": PURPOSE}):
        response = client.post("/api/v1/datasets/synthetic", json=body, headers=trainer)
        assert response.status_code == 422, body
        assert response.get_json()["error"]


@pytest.mark.slow
def test_a_synthetic_release_of_the_demo_population(app, client, trainer, session):
    """Issue 15's check on the demo data (300 people, seed 7): the epsilon charged is the generator's own
    accounting, the utility report is there, and no more distinct real records appear among the synthetic rows
    than chance predicts from the synthetic table's own marginals."""
    from governance.demo import load_demo
    from governance.gateway.models import BudgetReservation
    from governance.gateway.synthetic_release import SyntheticSpec, collect_person_table

    load_demo(app, subjects=300, seed=7)
    created = client.post("/api/v1/datasets/synthetic", json=SPEC, headers=trainer)
    assert created.status_code == 202, created.get_json()
    release_id = created.get_json()["release_id"]
    assert drain(app) >= 1
    shown = client.get(f"/api/v1/datasets/{release_id}", headers=trainer).get_json()
    assert shown["status"] == "ready", shown.get("error_code")
    manifest = shown["manifest"]
    privacy = manifest["privacy"]
    reservation = session.scalars(
        sa.select(BudgetReservation).where(BudgetReservation.ref == f"release:{release_id}")
    ).one()
    assert reservation.state == "committed"
    assert reservation.epsilon_micro == epsilon_micro(float(privacy["accounting"]["epsilon"]))
    assert manifest["budget_charged"]["epsilon_micro"] == reservation.epsilon_micro
    utility = manifest["utility"]
    assert set(utility["marginals"]["one_way"]) == {"birth_date", "country", "device", "view_events"}
    assert 0 <= utility["model"]["accuracy_trained_on_synthetic"] <= 1
    session.rollback()  # end the read (SQLite's writer lock is taken at BEGIN by the requests below)

    link = client.post(f"/api/v1/datasets/{release_id}/links", headers=trainer).get_json()
    download = client.get(link["url"].replace("http://localhost", ""))
    lines = download.get_data().decode().strip().splitlines()
    download.close()
    synthetic = [tuple(value or None for value in line.split(",")) for line in lines[1:]]
    with app.app_context():
        _people, real = collect_person_table(
            app.extensions["governance.db"].session, SyntheticSpec.of(SPEC), now=dt.datetime.now(dt.UTC)
        )
    assert len(real) > 100
    assert synthetic
    for column in range(len(real[0])):  # the same categories on both sides, so a match could be seen
        assert {row[column] for row in synthetic} & {row[column] for row in real}
    reproduced = records_reproduced(real, synthetic)
    chance = expected_records_reproduced_by_chance(real, synthetic)
    assert reproduced <= _chance_bound(chance), (reproduced, chance)
    # the check can fail: a copy of the input reproduces every record, far beyond chance
    copied = list(real)
    assert records_reproduced(real, copied) > _chance_bound(expected_records_reproduced_by_chance(real, copied))
