import csv
import json
import random
import uuid
from pathlib import Path

import pytest

from governance.db import transaction
from governance.gateway import service
from governance.gateway.errors import SpecNotAllowedError
from tests.gateway.conftest import CANARY, PURPOSE, SYSTEM, client_principal

SPEC = {
    "purpose": PURPOSE,
    "profile_fields": ["birth_date", "postal_code", "country", "language"],
    "event_categories": ["view"],
    "event_fields": ["category", "occurred_at", "item", "value", "time_of_day"],
}


@pytest.fixture(autouse=True)
def _app_context(app):
    with app.app_context():
        yield


def build(session, tmp_path, spec=None, client_id="trainer", fmt="jsonl", **kwargs):
    spec = {**SPEC, "format": fmt, **(spec or {})}
    service.check_spec(PURPOSE, client_principal(client_id), spec)
    return service.build_dataset(
        session, purpose=PURPOSE, client_id=client_id, spec=spec, output_dir=tmp_path, **kwargs
    )


def rows_of(result):
    if result.format == "csv":
        with result.path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    if result.format == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(result.path).to_pylist()
    return [json.loads(line) for line in result.path.read_text().splitlines()]


def reasons(exc_info):
    return {(i["name"], i["reason"]) for i in exc_info.value.extra["not_allowed"]}


def test_spec_asking_for_what_the_purpose_does_not_allow_is_refused_with_the_list():
    client = client_principal(purposes=frozenset({"chat_personalization", "fraud_prevention"}))
    with pytest.raises(SpecNotAllowedError) as refused:
        service.check_spec(
            "chat_personalization",
            client,
            {
                "purpose": "chat_personalization",
                "profile_fields": ["language", "postal_code", "shoe_size"],
                "event_categories": ["chat_intent", "purchase"],
                "event_fields": ["category", "query", "intent"],
                "pseudonyms": "stable",
            },
        )
    assert reasons(refused) == {
        ("postal_code", "not_allowed_for_purpose"),
        ("profile_fields[2]", "unknown_field"),  # an unknown name is the client's text: named by position
        ("purchase", "not_allowed_for_purpose"),
        ("query", "not_releasable"),
        ("stable", "stable_pseudonyms_not_granted"),
        ("pseudonymized_rows", "pseudonymized_personal_data_not_permitted"),  # only intent-classifier has it
    }
    assert refused.value.status == 403


def test_direct_identifiers_are_never_released_even_where_the_purpose_uses_them():
    client = client_principal(purposes=frozenset({"fraud_prevention"}))
    with pytest.raises(SpecNotAllowedError) as refused:
        service.check_spec(
            "fraud_prevention",
            client,
            {"purpose": "fraud_prevention", "profile_fields": ["email", "phone", "postal_address", "country"]},
        )
    assert reasons(refused) == {
        ("email", "direct_identifier"),
        ("phone", "direct_identifier"),
        ("postal_address", "direct_identifier"),
        ("pseudonymized_rows", "pseudonymized_personal_data_not_permitted"),  # fraud_prevention: DP statistics only
    }


def test_client_must_be_registered_for_the_purpose_and_purpose_must_allow_releases():
    with pytest.raises(SpecNotAllowedError) as refused:
        service.check_spec("model_training", client_principal(purposes=frozenset()), SPEC)
    assert ("model_training", "client_not_registered_for_purpose") in reasons(refused)
    client = client_principal(purposes=frozenset({"marketing_email"}))
    with pytest.raises(SpecNotAllowedError) as refused:
        service.check_spec("marketing_email", client, {"purpose": "marketing_email", "profile_fields": ["language"]})
    assert ("marketing_email", "purpose_allows_no_releases") in reasons(refused)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_build_is_k_anonymous_minimized_and_free_of_direct_identifiers(session, tmp_path, populate, fmt):
    import pandas as pd
    from pycanon import anonymity

    people = populate(24, varied=True)
    result = build(session, tmp_path, fmt=fmt)
    rows = rows_of(result)
    assert rows
    assert set(rows[0]) == {"subject", *SPEC["profile_fields"], *SPEC["event_fields"]}
    qis = ["birth_date", "postal_code", "country", "occurred_at"]
    assert anonymity.k_anonymity(pd.DataFrame(rows)[qis], qis) >= 10
    assert result.manifest["k_anonymity"]["k_achieved"] >= 10
    # canaries: no direct identifier, no raw quasi-identifier, no external reference, no subject id
    content = result.path.read_bytes()
    for value in [*CANARY.values(), "10115", "1990-02-03", *people.refs.values(), *(str(s) for s in people.ids)]:
        assert value.encode() not in content, value
    assert {r["birth_date"] for r in rows} <= {"30-39", "50-59"}
    # lineage: exactly the subjects whose marker items were released
    released_items = {r["item"] for r in rows}
    assert {people.item_of[s] for s in result.subject_ids} == released_items
    assert result.manifest["counts"]["rows_released"] == len(rows)


def test_small_groups_are_suppressed_and_counted(session, tmp_path, populate):
    people = populate(12)  # one class of 12 subjects
    populate(3, population=people, varied=True)  # i = 12..14: some fall into small classes
    result = build(session, tmp_path)
    manifest = result.manifest
    assert manifest["counts"]["rows_suppressed"] > 0
    assert manifest["counts"]["rows_released"] + manifest["counts"]["rows_suppressed"] == manifest["counts"]["rows_in"]
    assert len(result.subject_ids) < len(people.ids)


def test_two_default_releases_share_no_pseudonym_but_a_granted_stable_key_does(session, tmp_path, populate):
    populate(12)
    first = {r["subject"] for r in rows_of(build(session, tmp_path))}
    second = {r["subject"] for r in rows_of(build(session, tmp_path))}
    assert len(first) == 12
    assert not first & second
    stable_a = {r["subject"] for r in rows_of(build(session, tmp_path, {"pseudonyms": "stable"}, "training-service"))}
    stable_b = {r["subject"] for r in rows_of(build(session, tmp_path, {"pseudonyms": "stable"}, "training-service"))}
    assert stable_a == stable_b
    assert not stable_a & first


@pytest.mark.parametrize("seed", [20261128, 7, 1234, 99])
def test_withdrawn_erased_and_objecting_subjects_are_absent_from_every_later_release(session, tmp_path, populate, seed):
    """Random orderings of grant, withdraw, object, erase and release: a release only ever holds subjects who
    were permitted when it was built (checked through lineage and through each subject's marker items)."""
    from governance.consent import service as consent
    from governance.vault import service as vault

    people = populate(16)
    erased: set[uuid.UUID] = set()
    objected: set[uuid.UUID] = set()  # an objection outlives later grants until lifted
    granted = set(people.ids)
    rng = random.Random(seed)
    releases = 0
    for _step in range(45):
        subject = rng.choice(people.ids)
        action = rng.choices(["grant", "withdraw", "object", "erase", "release"], [4, 3, 1, 0.5, 3])[0]
        if subject in erased and action != "release":
            continue
        with transaction(session):
            if action == "grant":
                consent.record_decisions(
                    session,
                    subject,
                    [{"purpose": PURPOSE, "decision": "granted"}],
                    method="api",
                    actor=SYSTEM,
                    jurisdiction="EU",
                )
                granted.add(subject)
            elif action == "withdraw":
                consent.record_decisions(
                    session,
                    subject,
                    [{"purpose": PURPOSE, "decision": "withdrawn"}],
                    method="api",
                    actor=SYSTEM,
                    jurisdiction="EU",
                )
                granted.discard(subject)
            elif action == "object":
                consent.object_to(session, subject, [PURPOSE], actor=SYSTEM)
                objected.add(subject)
            elif action == "erase":
                vault.shred_subject(session, subject, actor=SYSTEM, reason="erasure request")
                erased.add(subject)
        permitted = granted - objected - erased
        if action != "release":
            continue
        releases += 1
        result = build(session, tmp_path)
        included = set(result.subject_ids)
        assert included <= permitted
        items = {r["item"] for r in rows_of(result)}
        assert items <= {people.item_of[s] for s in permitted}
        if len(permitted) >= 10:  # one class of identical quasi-identifiers: all or none are released
            assert included == permitted
    assert releases >= 6


def test_release_job_stores_manifest_and_lineage_and_audits(app, session, populate, tmp_path):
    from governance.audit.models import AuditEntry
    from governance.jobs.worker import drain

    people = populate(12)
    client = client_principal()
    with transaction(session):
        release = service.request_release(session, client=client, spec={**SPEC, "format": "csv"})
    assert drain(app) >= 1
    session.expire_all()
    stored = service.get_release(session, release.id, client_id="trainer")
    assert stored.status == "ready", stored.error_code
    assert stored.k_achieved >= 10
    assert stored.manifest["policy_version"]
    assert stored.manifest["consent_snapshot_at"]
    assert service.subjects_in_release(session, release.id) == set(people.ids)
    summaries = service.releases_including(session, people.ids[0])
    assert [s.release_id for s in summaries] == [release.id]
    with transaction(session):
        token, _ = service.create_download_link(session, stored, actor=client)
    with transaction(session):
        _, path = service.resolve_download(session, release.id, token)
    import hashlib

    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == stored.checksum_sha256
    actions = set(session.scalars(__import__("sqlalchemy").select(AuditEntry.action)))
    assert {"gateway.release.requested", "gateway.release.completed", "gateway.release.link_created"} <= actions
    assert "gateway.release.downloaded" in actions


def test_old_release_files_expire_but_manifest_and_lineage_stay(app, session, populate):
    import datetime as dt

    from governance.jobs.worker import drain

    people = populate(10)
    with transaction(session):
        release = service.request_release(session, client=client_principal(), spec=SPEC)
    drain(app, kinds=["gateway.release"])
    session.expire_all()
    stored = service.get_release(session, release.id)
    file_path = service.releases_dir() / stored.file_name
    assert file_path.exists()
    with transaction(session):
        assert service.expire_release_files(session, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=8)) == 1
    assert not file_path.exists()
    assert stored.status == "expired"
    assert stored.manifest["counts"]["subjects_released"] == 10
    assert service.subjects_in_release(session, release.id) == set(people.ids)
