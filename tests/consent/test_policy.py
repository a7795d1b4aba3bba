"""The purposes policy: the shipped file is valid and coherent; bad files are refused, naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from governance.consent.policy import LegalBasis, PolicyError, PurposeCatalog, PurposesFile, load_catalog

POLICIES = Path(__file__).resolve().parents[2] / "policies"

PROFILE_FIELDS = {
    "email", "name", "phone", "postal_address", "postal_code", "birth_date", "country", "language", "device",
}  # fmt: skip
EVENT_CATEGORIES = {"view", "click", "purchase", "rating", "search", "chat_intent"}


@pytest.fixture(scope="module")
def catalog() -> PurposeCatalog:
    return load_catalog(POLICIES / "purposes.yaml")


def test_shipped_catalog_has_the_product_purposes(catalog: PurposeCatalog) -> None:
    required = {
        "personalized_recommendations", "chat_personalization", "product_analytics", "model_training",
        "marketing_email", "partner_sharing",
    }  # fmt: skip
    assert required <= set(catalog.keys)
    for key in required:
        assert catalog[key].legal_basis == LegalBasis.CONSENT
    assert {p.key for p in catalog.sale_or_sharing_purposes()} == {"partner_sharing"}
    assert {p.legal_basis for p in catalog} == set(LegalBasis)


def test_shipped_catalog_uses_known_categories(catalog: PurposeCatalog) -> None:
    catalog.check_categories(PROFILE_FIELDS, EVENT_CATEGORIES)
    catalog.check_categories_file(POLICIES / "categories.yaml")  # the vault's catalog is the authority


def test_notices_hashed_and_material_changes(catalog: PurposeCatalog) -> None:
    recs = catalog["personalized_recommendations"]
    assert recs.current_notice.version == 2
    assert recs.renewal_from_version == 2  # v2 was material
    training = catalog["model_training"]
    assert training.current_notice.version == 2
    assert training.renewal_from_version == 1  # v2 only reworded
    for purpose in catalog:
        for notice in purpose.notices:
            assert catalog.notice_text(purpose.key, notice.version)


def test_gateway_policy_defaults(catalog: PurposeCatalog) -> None:
    recs = catalog["personalized_recommendations"].gateway
    assert recs is not None
    assert recs.k_anonymity == 10
    assert str(recs.delta) == "0.000001"
    assert catalog["marketing_email"].gateway is None


def _copy_policies(tmp_path: Path) -> Path:
    shutil.copytree(POLICIES / "notices", tmp_path / "notices")
    shutil.copy(POLICIES / "purposes.yaml", tmp_path / "purposes.yaml")
    return tmp_path / "purposes.yaml"


def test_edited_notice_text_is_refused(tmp_path: Path) -> None:
    path = _copy_policies(tmp_path)
    notice = tmp_path / "notices" / "model_training" / "v2.md"
    notice.write_text(notice.read_text() + "\nA quiet edit.\n")
    with pytest.raises(PolicyError, match=r"v2\.md.*does not match the sha256"):
        load_catalog(path)


def test_missing_notice_is_refused(tmp_path: Path) -> None:
    path = _copy_policies(tmp_path)
    (tmp_path / "notices" / "chat_personalization" / "v1.md").unlink()
    with pytest.raises(PolicyError, match="chat_personalization v1"):
        load_catalog(path)


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["purposes"][0].update(legal_basis="vibes"), "legal_basis"),
        (lambda d: d["purposes"].append(dict(d["purposes"][0])), "more than once"),
        (lambda d: d["purposes"][0]["notices"].reverse(), "strictly increasing"),
        (lambda d: d["purposes"][6].update(max_consent_age_days=10), "only applies to purposes"),
        (lambda d: d["purposes"][6].update(sale_or_sharing=True), "must rest on consent"),
        (lambda d: d["purposes"][0].update(unexpected="x"), "unexpected"),
        (lambda d: d["purposes"][0].update(key="Bad Key"), "key"),
        (lambda d: d["purposes"][0]["gateway"].update(epsilon="-1"), "epsilon"),
        (lambda d: d["purposes"][0].update(profile_fields=["email", "email"]), "more than once"),
    ],
)
def test_invalid_specs_are_refused(mutate, message: str) -> None:
    data = _raw(POLICIES / "purposes.yaml")
    PurposesFile.model_validate(data)  # the shipped file is valid
    mutate(data)
    with pytest.raises(ValueError, match=message):
        PurposesFile.model_validate(data)


def test_invalid_file_names_the_file(tmp_path: Path) -> None:
    path = _copy_policies(tmp_path)
    path.write_text(path.read_text().replace("legal_basis: contract", "legal_basis: contrat"))
    with pytest.raises(PolicyError, match=r"purposes\.yaml:\d+: purposes\.7\.legal_basis"):
        load_catalog(path)


def test_unknown_category_is_reported(catalog: PurposeCatalog) -> None:
    with pytest.raises(PolicyError, match="unknown event categories chat_intent"):
        catalog.check_categories(PROFILE_FIELDS, EVENT_CATEGORIES - {"chat_intent"})
