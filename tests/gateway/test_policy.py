from pathlib import Path

import pytest

from governance.gateway.policy import load_gateway_policy
from governance.policyfiles import PolicyFileError

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_shipped_gateway_policy_loads():
    policy = load_gateway_policy(POLICIES / "gateway.yaml")
    assert policy.default_k == 10
    columns = {rule.column for rule in policy.generalization_rules()}
    assert {"birth_date", "postal_code", "country", "device", "occurred_at"} <= columns
    assert "query" not in policy.released_event_context  # free text is never released


def test_shipped_policy_covers_every_quasi_identifier_of_the_catalog():
    from governance.vault.catalog import load_catalog

    catalog = load_catalog(POLICIES / "categories.yaml")
    policy = load_gateway_policy(POLICIES / "gateway.yaml")
    assert catalog.quasi_identifiers <= set(policy.quasi_identifiers)


def test_shipped_policy_references_existing_purposes():
    import yaml

    purposes = {p["key"]: p for p in yaml.safe_load((POLICIES / "purposes.yaml").read_text())["purposes"]}
    policy = load_gateway_policy(POLICIES / "gateway.yaml")
    assert set(policy.purposes) <= set(purposes)
    for grants in policy.clients.values():
        for purpose, grant in grants.items():
            assert purpose in purposes
            block = purposes[purpose].get("gateway")
            assert block, f"{purpose} has no gateway block"
            if grant.stable_pseudonyms:
                assert block.get("stable_pseudonyms"), f"{purpose} does not allow stable pseudonyms"


def test_bad_rule_options_name_the_line(tmp_path):
    bad = tmp_path / "gateway.yaml"
    bad.write_text("schema_version: 1\nquasi_identifiers:\n  birth_date: {rule: age_band, widht: 5}\n")
    with pytest.raises(PolicyFileError, match=r"gateway.yaml:\d+.*widht"):
        load_gateway_policy(bad)
