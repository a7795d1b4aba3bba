"""policies/requests.yaml: the shipped file is valid, and broken files fail with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from governance.policyfiles import PolicyFileError
from governance.requests.deadlines import Period
from governance.requests.policy import load_policy

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_shipped_policy_loads() -> None:
    policy = load_policy(POLICIES)
    assert set(policy.jurisdictions) >= {"GDPR", "CCPA"}
    assert policy.rule("GDPR").respond_within == Period(1, "months")
    assert policy.rule("GDPR").extension_max == Period(2, "months")
    ccpa = policy.rule("CCPA")
    assert (ccpa.confirm_within, ccpa.respond_within) == (Period(10, "business_days"), Period(45, "days"))
    assert (ccpa.extension_max, ccpa.extension_max_times) == (Period(45, "days"), 1)
    assert policy.jurisdiction_for("US-CA") == "CCPA"
    assert policy.jurisdiction_for("EU") == "GDPR"
    assert policy.jurisdiction_for("BR") == policy.default_jurisdiction == "GDPR"
    assert policy.jurisdiction_for(None) == "GDPR"
    assert policy.export.bundle_retention_days == 7
    kept = policy.retention_for("GDPR")
    assert kept
    assert all(len(e.reason) >= 10 for e in kept)
    assert "identity_not_verified" in policy.rejection_reasons


def _write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((POLICIES / "requests.yaml").read_text())
    mutate(data)
    (tmp_path / "requests.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp_path


def _set(path: list, value):
    def mutate(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (_set(["jurisdictions", "GDPR", "respond_within"], {"months": 1, "days": 30}), "exactly one"),
        (_set(["jurisdictions", "GDPR", "respond_within"], {"business_days": 20}), "months or days"),
        (_set(["jurisdictions", "GDPR", "extension"], {"max_total": {"days": 60}}), "same unit"),
        (_set(["jurisdictions", "GDPR", "timezone"], "Mars/Olympus"), "unknown time zone"),
        (_set(["jurisdictions", "CCPA", "applies_to"], ["EU"]), "claimed by both"),
        (_set(["default_jurisdiction"], "LGPD"), "not a listed jurisdiction"),
        (_set(["retention_exceptions", 0, "reason"], "tax"), "at least 10"),
        (_set(["retention_exceptions", 0, "jurisdictions"], ["PIPL"]), "unknown"),
        (_set(["export", "bundle_retention_days"], 0), "greater than or equal"),
        (_set(["surprise"], True), "Extra inputs"),
    ],
)
def test_broken_policy_is_refused_with_file_and_line(tmp_path: Path, mutate, fragment: str) -> None:
    directory = _write(tmp_path, mutate)
    with pytest.raises(PolicyFileError) as info:
        load_policy(directory)
    assert fragment in str(info.value)
    assert str(directory / "requests.yaml") in str(info.value)
    assert info.value.line is not None


def test_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policy(tmp_path)


def test_retention_exceptions_name_real_categories(app) -> None:
    """Every kept category must exist in the vault's catalog, or the exception would silently keep nothing."""
    from governance.vault import service as vault

    with app.app_context():
        catalog = vault.categories()
    known = set(catalog.event_category_names) | set(catalog.field_names)
    policy = load_policy(POLICIES)
    assert policy.retention_exceptions
    for exception in policy.retention_exceptions:
        assert exception.category in known, exception.category
