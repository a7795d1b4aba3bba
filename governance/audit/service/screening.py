"""What an entry may hold: no e-mail- or phone-like text, no free text, lowercase keys (`_check_details`);
and for refusals, the keyed-hash stand-ins for values that look like personal data (`redacted`)."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, has_app_context

from governance.audit.errors import AuditDetailsError

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)
_PHONE = re.compile(r"\+?\(?\d[\d ().-]{7,}\d")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # due dates and the like are not phone numbers
# a decimal number as str(Decimal) writes it (a privacy budget: "0.1234567"): one point, no other separator
_DECIMAL = re.compile(r"^-?\d+\.\d+(?:E[+-]?\d+)?$")
_UUID = re.compile(r"(?:urn:uuid:)?\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?", re.I)
_PHONE_START = frozenset("+(0123456789")
_SCALARS = frozenset({int, bool, float, type(None)})  # no personal data possible: nothing to check
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_TEXT = 200


def _check_text(value: str, what: str) -> None:
    # cheap tests first: record() runs in every audited transaction (docs/audit.md, "Throughput")
    if len(value) > _MAX_TEXT or ("@" in value and _EMAIL.search(value)):
        raise AuditDetailsError(f"{what} looks like personal data or free text")
    stripped = value.strip()
    looks_like_phone = stripped[:1] in _PHONE_START and _PHONE.fullmatch(stripped)
    # ids, due dates and decimal numbers are not phone numbers
    if looks_like_phone and not (_UUID.fullmatch(value) or _ISO_DATE.match(value) or _DECIMAL.match(value)):
        raise AuditDetailsError(f"{what} looks like personal data or free text")


def _check_details(value: Any, path: str = "details") -> None:
    kind = type(value)
    if kind is str:
        _check_text(value, path)
    elif kind in _SCALARS:
        return
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if type(key) is not str or not _KEY.match(key):
                raise AuditDetailsError(f"{path} keys are lowercase identifiers")
            if type(item) not in _SCALARS:
                _check_details(item, f"{path}.{key}")
    elif isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_details(item, path)


REF_PREFIX = "ref:"
_HEX = re.compile(r"^[0-9a-f]{16,}$")


def digest_ref(hex_digest: str) -> str:
    """How an entry names something by a hash (an SSO subject, a throttled address): its first 16 hex digits,
    prefixed. Bare, one such prefix in about 1,850 is all digits, and the screen above would refuse it as a
    phone number, failing the caller's whole transaction (a sign-in) for that person only."""
    if not _HEX.match(hex_digest):
        raise ValueError("digest_ref takes a lowercase hex digest")
    return REF_PREFIX + hex_digest[:16]


REDACTED_PREFIX = "redacted:"
_REDACTION_INFO = b"governance audit redaction v1"


def _redaction_key() -> bytes:
    """A key for the keyed hashes that stand in for refused values, derived from the app's session secret (no
    extra secret to provision); outside an app, a per-process random key (the hashes then only correlate within
    the process)."""
    cached = _REDACTION_KEY.get("key")
    if cached is None:
        secret = current_app.secret_key if has_app_context() else None
        material = secret if isinstance(secret, bytes) and secret else uuid.uuid4().bytes * 2
        cached = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_REDACTION_INFO).derive(material)
        if has_app_context():
            _REDACTION_KEY["key"] = cached
    return cached


_REDACTION_KEY: dict[str, bytes] = {}


def redacted(value: str) -> str:
    """The stand-in for a value that looks like personal data: a keyed hash, so repeated probes with the same
    value can be told apart from different ones, without the value being recoverable."""
    digest = hmac.new(_redaction_key(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return REDACTED_PREFIX + digest[:24]


# What a refusal keeps in clear: id-like tokens (UUIDs, client ids, purpose keys). Names, free text, e-mail- and
# phone-like values are replaced by their keyed hash.
_TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def _redact_text(value: str) -> str:
    if not _TOKEN.match(value):
        return redacted(value)
    try:
        _check_text(value, "value")
    except AuditDetailsError:
        return redacted(value)
    return value


def _redact_details(value: Any) -> Any:
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, Mapping):
        return {
            (key if type(key) is str and _KEY.match(key) else "redacted_key"): _redact_details(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_details(item) for item in value]
    return value
