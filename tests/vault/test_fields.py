"""Field validation, normalization and masking; errors name the field, never the value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from governance.vault.catalog import load_catalog
from governance.vault.fields import FieldValueError, lookup_key, mask, normalize, normalize_external_ref

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "policies" / "categories.yaml")
TODAY = dt.date(2026, 6, 15)


def norm(field: str, value: object) -> str:
    return normalize(field, CATALOG.profile_fields[field], value, today=TODAY)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("email", "  Jane.Doe@Example.COM ", "Jane.Doe@example.com"),
        ("name", "  Jane   Doe ", "Jane Doe"),
        ("phone", "+49 151 2345 6789", "+4915123456789"),
        ("phone", "+1 (650) 253-0000", "+16502530000"),
        ("postal_address", " 1 Example Street \n\n  10115   Berlin ", "1 Example Street\n10115 Berlin"),
        ("postal_code", " sw1a 1aa ", "SW1A 1AA"),
        ("birth_date", "1990-02-03", "1990-02-03"),
        ("birth_date", dt.date(1990, 2, 3), "1990-02-03"),
        ("country", "de", "DE"),
        ("country", "DEU", "DE"),
        ("language", "EN", "en"),
        ("language", "de_at", "de-AT"),
        ("language", "zh-hant-TW", "zh-Hant-TW"),
        ("language", "es-419", "es-419"),
        ("device", "Mobile", "mobile"),
    ],
)
def test_valid_values_are_normalized(field: str, value: object, expected: str) -> None:
    assert norm(field, value) == expected


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("email", "not-an-email", "invalid_email"),
        ("email", "jane@", "invalid_email"),
        ("email", "secret.person@@example.com", "invalid_email"),
        ("email", 42, "invalid_type"),
        ("name", "   ", "empty"),
        ("name", "12345", "invalid_name"),
        ("name", "Jane\x00Doe", "invalid_characters"),
        ("name", "x" * 201, "too_long"),
        ("phone", "0151 2345 6789", "invalid_phone"),
        ("phone", "+49 1", "invalid_phone"),
        ("phone", "call me maybe", "invalid_phone"),
        ("postal_code", "!!", "invalid_postal_code"),
        ("birth_date", "2026-06-16", "date_in_future"),
        ("birth_date", "1906-06-14", "date_too_old"),
        ("birth_date", "03/02/1990", "invalid_date"),
        ("birth_date", "2000-02-30", "invalid_date"),
        ("country", "XX", "invalid_country"),
        ("country", "Germany", "invalid_country"),
        ("language", "xx", "invalid_language"),
        ("language", "en-ZZ", "invalid_language"),
        ("language", "english", "invalid_language"),
        ("device", "toaster", "invalid_device"),
    ],
)
def test_invalid_values_name_the_field_but_not_the_value(field: str, value: object, code: str) -> None:
    with pytest.raises(FieldValueError) as caught:
        norm(field, value)
    assert caught.value.field == field
    assert caught.value.code == code
    assert str(caught.value).startswith(f"{field}: ")
    if isinstance(value, str) and len(value.strip()) > 3:
        assert value.strip() not in str(caught.value)


def test_birth_date_bounds_are_inclusive() -> None:
    assert norm("birth_date", "2026-06-15") == "2026-06-15"
    assert norm("birth_date", "1906-06-15") == "1906-06-15"


def test_birth_date_on_leap_day() -> None:
    spec = CATALOG.profile_fields["birth_date"]
    assert normalize("birth_date", spec, "1900-02-28", today=dt.date(2020, 2, 29)) == "1900-02-28"  # 1900: no 29th


def test_external_ref() -> None:
    assert normalize_external_ref("user-42") == "user-42"
    for bad in ("", "with space", "x" * 129, 42, "ümlaut"):
        with pytest.raises(FieldValueError) as caught:
            normalize_external_ref(bad)
        assert caught.value.field == "external_ref"


def test_lookup_key_folds_email_case() -> None:
    assert lookup_key("email", "Jane.Doe@example.com") == "jane.doe@example.com"
    assert lookup_key("phone", "+4915123456789") == "+4915123456789"


@pytest.mark.parametrize(
    ("field", "value", "masked"),
    [
        ("email", "jane.doe@example.com", "j***@example.com"),
        ("phone", "+4915123456742", "******42"),
        ("name", "Jane Doe", "J*** D***"),
        ("postal_address", "1 Example Street\n10115 Berlin", "***"),
        ("postal_code", "10115", "10***"),
        ("birth_date", "1990-02-03", "1990-**-**"),
        ("country", "DE", "DE"),
        ("language", "de-AT", "de-AT"),
        ("device", "mobile", "mobile"),
    ],
)
def test_masking(field: str, value: str, masked: str) -> None:
    assert mask(CATALOG.profile_fields[field], value) == masked
