"""Canonical serialization of audit entries and their RFC 9162 leaf hashes.

An entry is first brought into its *typed JSON form*: plain JSON values, with the values JSON cannot express
tagged explicitly so that no two different values share one encoding:

- time (``datetime``, always UTC, microseconds)  ->  ``{"$time": "2026-11-28T12:00:00.000000Z"}``
- ``uuid.UUID``                                  ->  ``{"$uuid": "5f0c...-..."}`` (lowercase, hyphenated)
- ``decimal.Decimal``                            ->  ``{"$decimal": "0.50"}`` (its exact string)

The canonical bytes are that form as JSON with keys sorted, no whitespace, UTF-8 (no ``\\u`` escapes beyond
the ones JSON requires), and no NaN or infinity. The typed form is also what an export carries, so an
auditor re-serializes each exported entry with the same rule (sort keys, compact, UTF-8) and gets the hashed
bytes back without knowing any schema. Keys starting with ``$`` are reserved for these tags.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from governance.audit.merkle import leaf_hash

__all__ = [
    "ENTRY_FIELDS",
    "ENTRY_FORMAT",
    "CanonicalizationError",
    "build_entry",
    "canonical_bytes",
    "details_json",
    "entry_bytes",
    "entry_leaf_hash",
    "format_time",
    "parse_time",
    "to_typed",
]

ENTRY_FORMAT = 1
"""Version of the entry layout; part of every hashed entry (field ``v``)."""

ENTRY_FIELDS = (
    "v",
    "seq",
    "time",
    "actor",
    "action",
    "target",
    "request_id",
    "policy_version",
    "details",
)
"""Fields of a canonical entry. ``actor`` is ``{"kind", "id"}``; ``target`` is ``{"kind", "id"}`` or null."""

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_PLAIN = frozenset({str, int, bool, type(None)})  # exact types that are their own typed form
_encode_str = json.encoder.encode_basestring  # what _ENCODER uses for strings (C-accelerated)


class CanonicalizationError(ValueError):
    """Raised when a value has no canonical form (unsupported type, naive datetime, reserved key...)."""


def format_time(value: dt.datetime) -> str:
    """RFC 3339 UTC with exactly six fractional digits, e.g. ``2026-11-28T12:00:00.000000Z``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise CanonicalizationError("audit times must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    """Inverse of :func:`format_time`."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def to_typed(value: Any) -> Any:
    """The typed JSON form of ``value`` (see the module docstring). Raises CanonicalizationError."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict and all(type(k) is str and k[:1] != "$" and type(v) in _PLAIN for k, v in value.items()):
        return dict(value)  # the common case: flat details of ids, counts and names
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise CanonicalizationError("NaN and infinity have no canonical form")
        return value
    if isinstance(value, Enum):
        return to_typed(value.value)
    if isinstance(value, dt.datetime):
        return {"$time": format_time(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CanonicalizationError("NaN and infinity have no canonical form")
        return {"$decimal": str(value)}
    if isinstance(value, Mapping):
        typed: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError("object keys must be strings")
            if key.startswith("$"):
                raise CanonicalizationError("keys starting with '$' are reserved for type tags")
            typed[key] = to_typed(item)
        return typed
    if isinstance(value, list | tuple):
        return [to_typed(item) for item in value]
    raise CanonicalizationError(f"unsupported type in an audit entry: {type(value).__name__}")


def canonical_bytes(typed_entry: Mapping[str, Any]) -> bytes:
    """Canonical UTF-8 bytes of an entry already in typed JSON form (as stored or exported)."""
    try:
        return _ENCODER.encode(typed_entry).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise CanonicalizationError(str(exc)) from exc


def entry_leaf_hash(typed_entry: Mapping[str, Any]) -> bytes:
    """The RFC 9162 leaf hash of an entry in typed JSON form: SHA-256(0x00 || canonical bytes)."""
    return leaf_hash(canonical_bytes(typed_entry))


def build_entry(
    *,
    seq: int,
    time: dt.datetime,
    actor_kind: str,
    actor_id: str,
    action: str,
    target_kind: str | None,
    target_id: str | None,
    request_id: str | None,
    policy_version: str | None,
    details: Mapping[str, Any] | None,
    details_typed: bool = False,
) -> dict[str, Any]:
    """The typed JSON form of one audit entry, with exactly :data:`ENTRY_FIELDS`.

    ``details_typed`` says the details are already in typed form (as stored), so tags are kept as they are."""
    target = None if target_kind is None else {"kind": target_kind, "id": target_id}
    return {
        "v": ENTRY_FORMAT,
        "seq": seq,
        "time": {"$time": format_time(time)},
        "actor": {"kind": actor_kind, "id": actor_id},
        "action": action,
        "target": target,
        "request_id": request_id,
        "policy_version": policy_version,
        "details": dict(details or {}) if details_typed else to_typed(dict(details or {})),
    }


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


def entry_bytes(
    seq: int,
    time_text: str,
    actor_kind: str,
    actor_id: str,
    action: str,
    target_kind: str | None,
    target_id: str | None,
    request_id: str | None,
    policy_version: str | None,
    details_json: str,
) -> bytes:
    """The canonical bytes of a stored entry, built directly from its columns (the sealer's and the database
    verifier's hot path: no intermediate dict, no key sorting of the outer object).

    Exactly ``canonical_bytes(build_entry(...))``: the keys are written in sorted order, strings are escaped
    by the same encoder, ``time_text`` is :func:`format_time`'s output and ``details_json`` is
    ``canonical_bytes``'s text of the typed details. The tests hold the two paths to the same bytes."""
    if type(seq) is not int or type(actor_id) is not str or type(action) is not str:
        raise CanonicalizationError("entry fields have unexpected types")
    s = _encode_str
    target = "null" if target_kind is None else f'{{"id":{_text_or_null(target_id)},"kind":{s(target_kind)}}}'
    policy = "null" if policy_version is None else s(policy_version)
    request = "null" if request_id is None else s(request_id)
    return (
        f'{{"action":{s(action)},"actor":{{"id":{s(actor_id)},"kind":{s(actor_kind)}}},"details":{details_json},'
        f'"policy_version":{policy},"request_id":{request},"seq":{seq},"target":{target},'
        f'"time":{{"$time":"{time_text}"}},"v":{ENTRY_FORMAT}}}'
    ).encode()


def _make_details_encoder() -> Any:
    """The C encoder `_ENCODER` builds on every call, built once (same arguments as JSONEncoder.iterencode
    passes on Python 3.11+); falls back to `_ENCODER` where the C signature differs."""
    try:
        encoder = json.encoder.c_make_encoder(None, None, _encode_str, None, ":", ",", True, False, False)  # type: ignore[attr-defined]
        if "".join(encoder({"b": [1.5, None], "a": "\u00e9"}, 0)) != _ENCODER.encode({"b": [1.5, None], "a": "\u00e9"}):
            raise TypeError("unexpected output")
    except (TypeError, ValueError):
        return _ENCODER.encode
    join = "".join
    return lambda value: join(encoder(value, 0))


_encode_details = _make_details_encoder()


def details_json(details: Mapping[str, Any] | None) -> str:
    """Canonical JSON text of typed details (as stored); raises CanonicalizationError."""
    try:
        return _encode_details(details if type(details) is dict else dict(details or {}))
    except (TypeError, ValueError, RecursionError) as exc:
        raise CanonicalizationError(str(exc)) from exc
