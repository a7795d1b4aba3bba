"""The category catalog: content of policies/categories.yaml and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.policyfiles import PolicyFileError
from governance.vault.catalog import load_catalog

POLICY = Path(__file__).resolve().parents[2] / "policies" / "categories.yaml"


def test_catalog_content() -> None:
    catalog = load_catalog(POLICY)
    assert {"email", "name", "phone", "postal_address", "postal_code", "birth_date", "country"} <= set(
        catalog.profile_fields
    )
    assert {"language", "device"} <= catalog.field_names
    assert {"view", "click", "purchase", "rating", "search", "chat_intent"} == catalog.event_category_names
    assert catalog.direct_identifiers == {"email", "name", "phone", "postal_address", "external_ref"}
    assert {"birth_date", "postal_code", "country", "device", "occurred_at"} <= catalog.quasi_identifiers
    assert catalog.blind_indexed_fields == {"email"}
    assert catalog.profile_fields["phone"].kind == "phone"
    assert catalog.event_categories["rating"].value is not None
    assert catalog.event_categories["rating"].value.required
    assert "query" in catalog.event_categories["search"].context_keys
    assert "device" in catalog.event_categories["click"].context_keys


def test_every_purpose_names_known_categories() -> None:
    import yaml

    catalog = load_catalog(POLICY)
    purposes = yaml.safe_load((POLICY.parent / "purposes.yaml").read_text())["purposes"]
    for purpose in purposes:
        assert set(purpose.get("profile_fields", ())) <= catalog.field_names, purpose["key"]
        assert set(purpose.get("event_categories", ())) <= catalog.event_category_names, purpose["key"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "categories.yaml"
    path.write_text(text)
    return path


GOOD = POLICY.read_text()


@pytest.mark.parametrize(
    ("old", "new", "line_text"),
    [
        ("    kind: phone\n", "    kind: telepathy\n", "kind: telepathy"),
        (
            "    identifier: direct\n    mask: full\n",
            "    identifier: direct\n    mask: none\n",
            "postal_address:",
        ),
        ("  rating:\n", "  email:\n", None),
        ("    value: {name: stars, min: 1, max: 5", "    value: {name: stars, min: 9, max: 5", None),
        ("    blind_index: true\n", "    blind_index: true\n    colour: blue\n", "colour: blue"),
    ],
)
def test_bad_file_names_file_and_line(tmp_path: Path, old: str, new: str, line_text: str | None) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(PolicyFileError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert str(path) in message
    if line_text is not None:
        expected_line = next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line_text in line)
        assert caught.value.line is not None
        assert abs(caught.value.line - expected_line) <= 1, message


def test_invalid_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "schema_version: 1\nprofile_fields: [unclosed\n")
    with pytest.raises(PolicyFileError, match=r"categories\.yaml:\d+"):
        load_catalog(path)
