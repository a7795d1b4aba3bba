"""Validation, normalization and masking of profile field values, by the field's `kind` in the catalog.

`normalize(name, spec, value)` returns the canonical string the vault encrypts, or raises `FieldValueError`
naming the field and the problem, never the value. `mask(spec, value)` is what support staff see without
break-glass. `lookup_key(kind, value)` is the normalized form blind indexes are computed over.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from governance.vault.catalog import ProfileField

__all__ = ["DEVICE_TYPES", "FieldValueError", "lookup_key", "mask", "normalize", "normalize_external_ref"]

DEVICE_TYPES = frozenset({"mobile", "tablet", "desktop", "tv", "console", "wearable", "other"})
MAX_AGE_YEARS = 120
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_POSTAL_CODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,10}[A-Z0-9]$")
_LANGUAGE_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{4}))?(?:[-_]([a-zA-Z]{2}|[0-9]{3}))?$")
_EXTERNAL_REF = re.compile(r"^[\x21-\x7e]{1,128}$")


class FieldValueError(ValueError):
    """A value is not acceptable for a field. `field` and `code` are safe to show; the value never appears."""

    def __init__(self, field: str, code: str, message: str) -> None:
        self.field, self.code = field, code
        super().__init__(f"{field}: {message}")


def _text(field: str, value: object, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise FieldValueError(field, "invalid_type", "must be a string")
    text = unicodedata.normalize("NFC", value).strip()
    if multiline:
        text = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    else:
        text = " ".join(text.split())
    if _CONTROL.search(text) or (not multiline and "\n" in text):
        raise FieldValueError(field, "invalid_characters", "contains control characters")
    if not text:
        raise FieldValueError(field, "empty", "must not be empty")
    return text


def _email(field: str, value: object, today: dt.date) -> str:
    text = _text(field, value)
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise FieldValueError(field, "invalid_email", "is not a valid email address") from None
    return result.normalized


def _person_name(field: str, value: object, today: dt.date) -> str:
    text = _text(field, value)
    if not any(ch.isalpha() for ch in text):
        raise FieldValueError(field, "invalid_name", "must contain letters")
    return text


def _phone(field: str, value: object, today: dt.date) -> str:
    text = _text(field, value)
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise FieldValueError(
            field, "invalid_phone", "must be an international number starting with + (E.164)"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise FieldValueError(field, "invalid_phone", "is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _postal_address(field: str, value: object, today: dt.date) -> str:
    return _text(field, value, multiline=True)


def _postal_code(field: str, value: object, today: dt.date) -> str:
    text = _text(field, value).upper()
    if not _POSTAL_CODE.match(text):
        raise FieldValueError(field, "invalid_postal_code", "must be 3-12 letters, digits, spaces or dashes")
    return text


def _birth_date(field: str, value: object, today: dt.date) -> str:
    if isinstance(value, dt.datetime):
        raise FieldValueError(field, "invalid_date", "must be a date (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        born = value
    else:
        text = _text(field, value)
        try:
            born = dt.date.fromisoformat(text)
        except ValueError:
            raise FieldValueError(field, "invalid_date", "must be a date (YYYY-MM-DD)") from None
    if born > today:
        raise FieldValueError(field, "date_in_future", "must not be in the future")
    try:
        oldest = today.replace(year=today.year - MAX_AGE_YEARS)
    except ValueError:  # 29 February
        oldest = today.replace(year=today.year - MAX_AGE_YEARS, day=28)
    if born < oldest:
        raise FieldValueError(field, "date_too_old", f"must not be more than {MAX_AGE_YEARS} years ago")
    return born.isoformat()


def _country(field: str, value: object, today: dt.date) -> str:
    text = _text(field, value).upper()
    country = None
    if len(text) == 2:
        country = pycountry.countries.get(alpha_2=text)
    elif len(text) == 3:
        country = pycountry.countries.get(alpha_3=text)
    if country is None:
        raise FieldValueError(field, "invalid_country", "must be an ISO 3166-1 country code")
    return country.alpha_2


def _language(field: str, value: object, today: dt.date) -> str:
    text = _text(field, value)
    match = _LANGUAGE_TAG.match(text)
    if not match:
        raise FieldValueError(field, "invalid_language", "must be a language tag such as en or de-AT")
    primary, script, region = match.groups()
    primary = primary.lower()
    language = (
        pycountry.languages.get(alpha_2=primary) if len(primary) == 2 else pycountry.languages.get(alpha_3=primary)
    )
    if language is None:
        raise FieldValueError(field, "invalid_language", "is not an ISO 639 language")
    parts = [primary]
    if script:
        if pycountry.scripts.get(alpha_4=script.title()) is None:
            raise FieldValueError(field, "invalid_language", "has an unknown script subtag")
        parts.append(script.title())
    if region:
        if region.isdigit():
            parts.append(region)  # UN M.49 region such as 419 (Latin America)
        elif pycountry.countries.get(alpha_2=region.upper()) is None:
            raise FieldValueError(field, "invalid_language", "has an unknown region subtag")
        else:
            parts.append(region.upper())
    return "-".join(parts)


def _device_type(field: str, value: object, today: dt.date) -> str:
    text = _text(field, value).lower()
    if text not in DEVICE_TYPES:
        raise FieldValueError(field, "invalid_device", f"must be one of {', '.join(sorted(DEVICE_TYPES))}")
    return text


def _plain_text(field: str, value: object, today: dt.date) -> str:
    return _text(field, value)


_NORMALIZERS: dict[str, Callable[[str, object, dt.date], str]] = {
    "email": _email,
    "person_name": _person_name,
    "phone": _phone,
    "postal_address": _postal_address,
    "postal_code": _postal_code,
    "birth_date": _birth_date,
    "country": _country,
    "language": _language,
    "device_type": _device_type,
    "text": _plain_text,
}


def normalize(name: str, spec: ProfileField, value: object, *, today: dt.date | None = None) -> str:
    """The canonical form of `value` for field `name`; raises `FieldValueError` (field named, value never)."""
    normalized = _NORMALIZERS[spec.kind](name, value, today or dt.datetime.now(dt.UTC).date())
    if len(normalized) > spec.max_length:
        raise FieldValueError(name, "too_long", f"must be at most {spec.max_length} characters")
    return normalized


def normalize_external_ref(value: object) -> str:
    """The product's own user reference: 1-128 printable ASCII characters, compared exactly."""
    if not isinstance(value, str) or not _EXTERNAL_REF.match(value):
        raise FieldValueError("external_ref", "invalid_external_ref", "must be 1-128 printable ASCII characters")
    return value


def lookup_key(kind: str, normalized: str) -> str:
    """The form a blind index is computed over: case-insensitive for emails (what people type varies)."""
    if kind == "email":
        return normalized.casefold()
    return normalized


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


def _mask_phone(value: str) -> str:
    digits = [ch for ch in value if ch.isdigit()]
    return "*" * 6 + "".join(digits[-2:])


def _mask_name(value: str) -> str:
    return " ".join(f"{word[:1]}***" for word in value.split())


def _mask_birth_date(value: str) -> str:
    return value[:4] + "-**-**"


def _mask_prefix(value: str) -> str:
    return value[:2] + "***"


_PARTIAL_MASKS: dict[str, Callable[[str], str]] = {
    "email": _mask_email,
    "phone": _mask_phone,
    "person_name": _mask_name,
    "birth_date": _mask_birth_date,
    "postal_code": _mask_prefix,
}


def mask(spec: ProfileField, value: str) -> str:
    """The value as support staff see it without break-glass (j***@example.com, ******42, J*** D***)."""
    if spec.mask == "none":
        return value
    if spec.mask == "partial" and spec.kind in _PARTIAL_MASKS:
        return _PARTIAL_MASKS[spec.kind](value)
    return "***"
