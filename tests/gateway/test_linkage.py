"""Linkage attacks on row-level releases, run the way an attacker with side knowledge would (issue 15, findings 1
and 2): planted populations built through the vault's and consent's services, releases built by the gateway, and
the attacker's view computed independently from the released files (pycanon on person-level records).

- k per person: the reported k equals the smallest number of people sharing any person's full released
  footprint, and knowing 4 of a person's active days never singles them out below k.
- joinable releases (stable pseudonyms, or fresh pseudonyms linked by event content) are measured together.
- a field declared non-identifying that identifies in the data (language standing in for country) is caught.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import uuid
import warnings
from collections import defaultdict
from typing import Any

import pandas as pd
import pytest
from pycanon import anonymity

from governance.db import transaction
from governance.gateway import service
from governance.jobs.worker import drain
from tests.gateway.conftest import ALL_CATEGORIES, PURPOSE, SYSTEM, client_principal

K = 10  # policies/purposes.yaml: model_training k_anonymity
STABLE_CLIENT = "training-service"  # policies/gateway.yaml grants it stable pseudonyms for model_training
DAYS = [dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC) + dt.timedelta(days=d) for d in range(20)]


@pytest.fixture(autouse=True)
def _app_context(app):
    with app.app_context():
        yield


def plant(app, people: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Subjects with the given profile and event days (one view per day, a marker item per person)."""
    from governance.consent import service as consent
    from governance.vault import service as vault

    ids = []
    session = app.extensions["governance.db"].session()
    try:
        for n, person in enumerate(people):
            with transaction(session):
                view = vault.create_subject(
                    session, external_ref=f"planted-{uuid.uuid4().hex[:12]}", actor=SYSTEM, profile=person["profile"]
                )
                consent.record_decisions(
                    session,
                    view.id,
                    [{"purpose": PURPOSE, "decision": "granted"}],
                    method="api",
                    actor=SYSTEM,
                    jurisdiction="EU",
                )
            events = [
                {
                    "event_id": f"planted-{n}-{j}",
                    "category": "view",
                    "occurred_at": (DAYS[day] + dt.timedelta(minutes=j)).isoformat(),
                    "item_id": f"marker-{n}",
                    "value": float(10 + j),
                }
                for j, day in enumerate(person.get("days", ()))
            ]
            if events:
                with transaction(session):
                    vault.ingest_events(session, view.id, events, actor=SYSTEM, lawful_categories=ALL_CATEGORIES)
            ids.append(view.id)
    finally:
        session.close()
    return ids


def profile(birth: str = "1990-02-03", postal: str = "10115", country: str = "DE", language: str = "de") -> dict:
    return {"birth_date": birth, "postal_code": postal, "country": country, "language": language, "device": "mobile"}


def released(build) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(build.path.read_text())))


def person_records(rows: list[dict[str, str]], qi: list[str]) -> pd.DataFrame:
    """One record per pseudonym: the person's full footprint (the set of their QI combinations) as one value."""
    combos: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for row in rows:
        combos[row["subject"]].add(tuple(row[c] for c in qi))
    return pd.DataFrame(
        {"subject": list(combos), "footprint": ["|".join(map(repr, sorted(c))) for c in combos.values()]}
    )


def pycanon_k(frame: pd.DataFrame, qi: list[str]) -> int:
    """pycanon's k; its single-column groupby warns about a future pandas change (not about the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
        return int(anonymity.k_anonymity(frame, qi))


def build(session, tmp_path, spec: dict[str, Any], client_id: str = "trainer"):
    full = {"purpose": PURPOSE, "format": "csv", **spec}
    service.check_spec(PURPOSE, client_principal(client_id), full)
    return service.build_dataset(session, purpose=PURPOSE, client_id=client_id, spec=full, output_dir=tmp_path)


def day_population(seed: int) -> list[dict[str, Any]]:
    """Three groups of 12 people with identical activity days, and 24 people with random days: one row class per
    day holds many people, but a random person's set of days is theirs alone."""
    rng = random.Random(seed)
    people = []
    for template in ([0, 3, 5, 9], [1, 2, 8], [4, 6, 7, 11, 12]):
        people += [{"profile": profile(), "days": template} for _ in range(12)]
    people += [{"profile": profile(), "days": sorted(rng.sample(range(14), rng.randint(4, 7)))} for _ in range(24)]
    return people


EVENT_SPEC = {
    "profile_fields": ["birth_date", "country"],
    "event_categories": ["view"],
    "event_fields": ["category", "occurred_at", "item", "value"],
}


def test_reported_k_is_the_smallest_group_sharing_a_full_footprint_per_pycanon(app, session, tmp_path):
    plant(app, day_population(seed=3))
    result = build(session, tmp_path, EVENT_SPEC)
    rows = released(result)
    k_report = result.manifest["k_anonymity"]
    records = person_records(rows, ["birth_date", "country", "occurred_at"])
    measured = pycanon_k(records, ["footprint"])
    assert measured == k_report["k_achieved"]
    assert measured >= K
    assert k_report["unit"] == "person"
    assert len(records) == result.manifest["counts"]["subjects_released"] == 36  # the three groups of 12
    assert k_report["people_suppressed"] == 24


def test_four_known_active_days_single_nobody_out_below_k(app, session, tmp_path):
    """The finding's attack: knowing 4 days a person was active, find their rows."""
    plant(app, day_population(seed=11))
    rows = released(build(session, tmp_path, EVENT_SPEC))
    days: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        days[row["subject"]].add(row["occurred_at"])
    assert days, "the planted groups must be released"
    rng = random.Random(5)
    for active in days.values():
        known = set(rng.sample(sorted(active), min(4, len(active))))
        candidates = [other for other, theirs in days.items() if known <= theirs]
        assert len(candidates) >= K, f"{len(candidates)} people match 4 known days of one person"


def test_a_declared_non_identifying_field_that_identifies_in_the_data_is_caught(app, session, tmp_path):
    """language is declared non-identifying, but here it stands in for country: 22 people in one age band, 18 of
    them de, 4 fr. On the declared quasi-identifiers k = 22; counting language, the 4 are singled out."""
    plant(app, [{"profile": profile(language="de")} for _ in range(18)])
    plant(app, [{"profile": profile(country="FR", language="fr")} for _ in range(4)])
    result = build(session, tmp_path, {"profile_fields": ["birth_date", "language"]})
    frame = pd.DataFrame(released(result))
    assert pycanon_k(frame, ["birth_date", "language"]) >= K
    checked = result.manifest["identifying_power"]
    assert checked["people_below_k_on_declared_quasi_identifiers"] == 0
    language = checked["fields"]["language"]
    assert language["counted_as_quasi_identifier"] is True
    assert language["people_newly_below_k"] == 4
    assert language["conditional_entropy_bits"] > 0.5
    assert "language" in result.manifest["k_anonymity"]["quasi_identifiers"]
    assert set(frame["language"]) == {"de"}


def test_a_field_that_does_not_identify_is_checked_and_left_alone(app, session, tmp_path):
    plant(app, [{"profile": profile(birth="1990-02-03" if i % 2 else "1975-07-01")} for i in range(24)])
    result = build(session, tmp_path, {"profile_fields": ["birth_date", "language"]})
    language = result.manifest["identifying_power"]["fields"]["language"]
    assert language == {**language, "counted_as_quasi_identifier": False, "conditional_entropy_bits": 0.0}
    assert result.manifest["counts"]["subjects_released"] == 24


def test_policy_can_refuse_a_release_with_an_identifying_field(app, session, tmp_path):
    from governance.core.runtime import runtime_of
    from governance.gateway.errors import IdentifyingFieldsRefusedError
    from governance.gateway.policy import GATEWAY_POLICY, IdentifyingPower

    plant(app, [{"profile": profile(language="de")} for _ in range(12)])
    plant(app, [{"profile": profile(country="FR", language="fr")} for _ in range(3)])
    policy = service.gateway_policy()
    refusing = policy.model_copy(update={"identifying_power": IdentifyingPower(action="refuse")})
    config = runtime_of(app)
    config.provide(GATEWAY_POLICY, refusing)
    try:
        with pytest.raises(IdentifyingFieldsRefusedError) as refused:
            build(session, tmp_path, {"profile_fields": ["birth_date", "language"]})
    finally:
        config.provide(GATEWAY_POLICY, policy)
    assert refused.value.extra["identifying_fields"] == ["language"]


# --- joinable releases ---------------------------------------------------------------------------------------


def split_population() -> list[dict[str, Any]]:
    """40 people: age band and postal region each split them 20/20 (k holds for each release alone), but the
    combination is 17/3/3/17: joined, 6 people are in groups below k."""
    cells = [("1990-02-03", "10115")] * 17 + [("1990-02-03", "20095")] * 3
    cells += [("1975-07-01", "10115")] * 3 + [("1975-07-01", "20095")] * 17
    return [{"profile": profile(birth=b, postal=p), "days": [0]} for b, p in cells]


def request_and_build(app, client_id: str, spec: dict[str, Any]) -> Any:
    session = app.extensions["governance.db"].session()
    try:
        with transaction(session):
            release = service.request_release(
                session, client=client_principal(client_id), spec={"purpose": PURPOSE, "format": "csv", **spec}
            )
            release_id = release.id
    finally:
        session.close()
    drain(app, kinds=["gateway.release"])
    session = app.extensions["governance.db"].session()
    try:
        release = service.get_release(session, release_id)
        assert release.status == "ready", release.error_code
        rows = list(csv.DictReader(io.StringIO((service.releases_dir() / release.file_name).read_text())))
        return release.manifest, rows, release_id
    finally:
        session.close()


def joined_k(first: list[dict], second: list[dict], link_first, link_second, qi_first, qi_second) -> int:
    """k of the people of the second release once joined with the first (the attacker's merge)."""
    by_link = defaultdict(list)
    for row in first:
        by_link[link_first(row)].append(row)
    merged = defaultdict(set)
    for row in second:
        merged[row["subject"]].add(tuple(row[c] for c in qi_second))
        for match in by_link.get(link_second(row), ()):
            merged[row["subject"]].add(tuple(match[c] for c in qi_first))
    frame = pd.DataFrame({"footprint": ["|".join(map(repr, sorted(c))) for c in merged.values()]})
    return pycanon_k(frame, ["footprint"])


def test_two_releases_on_stable_pseudonyms_are_measured_together(app):
    plant(app, split_population())
    _m1, first, first_id = request_and_build(
        app, STABLE_CLIENT, {"profile_fields": ["birth_date"], "pseudonyms": "stable"}
    )
    manifest, second, _ = request_and_build(
        app, STABLE_CLIENT, {"profile_fields": ["postal_code"], "pseudonyms": "stable"}
    )
    assert len(first) == 40
    pseudonym = lambda row: row["subject"]  # noqa: E731
    assert joined_k(first, second, pseudonym, pseudonym, ["birth_date"], ["postal_code"]) >= K
    assert manifest["joint_measurement"]["releases"] == [
        {"release_id": str(first_id), "joinable_by": "stable_pseudonyms"}
    ]
    assert len(second) == 34  # the 6 people of the small joined groups are not in the second release
    assert manifest["k_anonymity"]["k_achieved"] >= K


def test_fresh_pseudonyms_linked_by_event_content_are_measured_together(app):
    plant(app, split_population())
    events = {"event_categories": ["view"], "event_fields": ["item", "value"]}
    _m1, first, first_id = request_and_build(app, "trainer", {"profile_fields": ["birth_date"], **events})
    manifest, second, _ = request_and_build(app, "trainer", {"profile_fields": ["postal_code"], **events})
    assert not {r["subject"] for r in first} & {r["subject"] for r in second}  # no pseudonym in common
    content = lambda row: (row["item"], row["value"])  # noqa: E731
    assert joined_k(first, second, content, content, ["birth_date"], ["postal_code"]) >= K
    assert manifest["joint_measurement"]["releases"] == [{"release_id": str(first_id), "joinable_by": "event_content"}]
    assert len({r["subject"] for r in second}) == 34


def test_releases_that_cannot_be_joined_are_not_measured_together(app):
    plant(app, split_population())
    request_and_build(app, "trainer", {"profile_fields": ["birth_date"]})
    manifest, second, _ = request_and_build(app, "trainer", {"profile_fields": ["postal_code"]})
    assert manifest["joint_measurement"]["releases"] == []  # fresh pseudonyms, no event content: no person link
    assert len(second) == 40


def test_a_joinable_release_still_being_built_makes_the_next_one_wait(app, session):
    from governance.gateway.errors import JoinableReleaseInProgressError

    plant(app, split_population()[:12])
    spec = {"purpose": PURPOSE, "profile_fields": ["birth_date"], "pseudonyms": "stable"}
    with transaction(session):
        service.request_release(session, client=client_principal(STABLE_CLIENT), spec=spec)
    with pytest.raises(JoinableReleaseInProgressError), transaction(session):
        service.request_release(session, client=client_principal(STABLE_CLIENT), spec=spec)
    with transaction(session):  # another client's releases are not joinable with this client's
        service.request_release(
            session, client=client_principal("another-client"), spec={**spec, "pseudonyms": "per_release"}
        )


# --- the demo population, where the findings were made ---------------------------------------------------------


@pytest.mark.slow
def test_the_demo_population_language_and_active_days_findings(app, session, tmp_path):
    """On the demo data (300 people, seed 7): language stands in for country, and a person's active days single
    them out. Neither may give anyone a group below k in a released file."""
    from governance.demo import load_demo

    load_demo(app, subjects=300, seed=7)
    client = "demo-recommender"
    result = build(session, tmp_path, {"profile_fields": ["birth_date", "language"]}, client_id=client)
    checked = result.manifest["identifying_power"]
    assert checked["fields"]["language"]["counted_as_quasi_identifier"] is True
    assert checked["fields"]["language"]["people_newly_below_k"] > checked["people"] // 2  # 125 of 129 here
    frame = pd.DataFrame(released(result))
    if len(frame):  # with language counted most groups are below k: often nobody is left
        assert pycanon_k(frame, ["birth_date", "language"]) >= K
    events = build(session, tmp_path, EVENT_SPEC, client_id=client)
    days: dict[str, set[str]] = defaultdict(set)
    for row in released(events):
        days[row["subject"]].add(row["occurred_at"])
    for active in days.values():
        known = set(sorted(active)[:4])
        assert sum(1 for theirs in days.values() if known <= theirs) >= K
    assert events.manifest["k_anonymity"]["people_suppressed"] > 0


def test_people_of_an_earlier_release_without_footprints_are_left_out_of_a_joinable_one(app):
    """Releases built before footprints were kept cannot be measured: their people count as unique."""
    import sqlalchemy as sa

    from governance.gateway.models import ReleaseSubject

    plant(app, split_population())
    _m, first, first_id = request_and_build(
        app, STABLE_CLIENT, {"profile_fields": ["birth_date"], "pseudonyms": "stable"}
    )
    with app.extensions["governance.db"].session() as session, transaction(session):
        session.execute(sa.update(ReleaseSubject).where(ReleaseSubject.release_id == first_id).values(footprint=None))
    plant(app, [{"profile": profile(), "days": [0]} for _ in range(12)])  # newcomers, in no earlier release
    manifest, second, _ = request_and_build(
        app, STABLE_CLIENT, {"profile_fields": ["postal_code"], "pseudonyms": "stable"}
    )
    assert len(first) == 40
    assert not {r["subject"] for r in first} & {r["subject"] for r in second}
    assert len(second) == 12
    assert manifest["k_anonymity"]["people_in_earlier_joinable_releases"] == 40


def test_l_diversity_holds_per_person_on_person_level_records(tmp_path):
    """With l-diversity on, each footprint group needs l distinct per-person sets of sensitive values (pycanon's
    l on person-level records, the person's set of intents as the sensitive value)."""
    from governance.gateway.anonymize import PersonLevel, SubjectRecord, write_release
    from governance.gateway.generalize import GeneralizationRule, Generalizer
    from governance.gateway.kanon import AnonymityRequirement
    from governance.gateway.pseudonyms import Pseudonymizer
    from governance.gateway.writers import Column

    rng = random.Random(2)
    records = []
    for n in range(90):
        # three groups by country; every FR person asked about billing and order status: their row class has two
        # intents (row-level l = 2), but everyone in it has the same set, so knowing someone is in it tells all
        country = ["DE", "NL", "FR"][n % 3]
        choices = ["billing", "order_status", "return_item"]
        intents = choices[:2] if country == "FR" else rng.sample(choices, 2)
        events = [("chat_intent", "2026-01-05T09:00:00", intent) for intent in intents]
        records.append(SubjectRecord(uuid.UUID(int=rng.getrandbits(128)), {"country": country}, events))
    path = tmp_path / "release.csv"
    figures = write_release(
        records,
        profile_columns=[Column("country")],
        event_columns=[Column("category"), Column("occurred_at"), Column("intent")],
        generalizer=Generalizer(
            (GeneralizationRule("country", "country"), GeneralizationRule("occurred_at", "timestamp")),
            as_of=dt.date(2026, 6, 1),
        ),
        requirement=AnonymityRequirement(k=5, l=2, sensitive="intent"),
        pseudonymize=Pseudonymizer.for_release(),
        path=path,
        fmt="csv",
        person_level=PersonLevel(candidates=["category"]),
    )
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    people: dict[str, dict[str, Any]] = {}
    for row in rows:
        person = people.setdefault(row["subject"], {"combos": set(), "intents": set()})
        person["combos"].add((row["country"], row["occurred_at"]))
        person["intents"].add(row["intent"])
    frame = pd.DataFrame(
        {
            "footprint": ["|".join(map(repr, sorted(p["combos"]))) for p in people.values()],
            "intents": [",".join(sorted(p["intents"])) for p in people.values()],
        }
    )
    assert "FR" not in {row["country"] for row in rows}  # one shared set of intents: person-level l = 1
    assert figures.row_class_k_achieved == 30  # the FR row class passed row-level k and l
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert anonymity.l_diversity(frame, ["footprint"], ["intents"]) >= 2
    assert pycanon_k(frame, ["footprint"]) == figures.k_achieved >= 5
    assert figures.l_achieved == 2
