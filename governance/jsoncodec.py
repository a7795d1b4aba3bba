"""JSON encoding on the hot paths, with orjson (issue 16).

A consent write encoded the same few kilobytes of JSON four times with the standard library (its response for
the HTTP body and for the idempotency key, and each receipt's canonical form for signing: about 110 of its
2,100 us of CPU; docs/performance.md, session 16). orjson encodes the same documents about ten times faster.
Reading stays with the standard library (`json.loads`), which also reads what was stored before.

Compared with `json.dumps`, what is written here:
- is compact (no space after `,` and `:`) and UTF-8 (no `\\uXXXX` escapes for non-ASCII text): the same JSON
  values, fewer bytes;
- still refuses what `json.dumps` refuses for datetimes and dataclasses (TypeError), unless a `default` says
  how to encode them;
- writes `null` for a float NaN or infinity, where `json.dumps` wrote `NaN`, which is not JSON (PostgreSQL
  refused it in a `jsonb` column; SQLite stored text that its own JSON functions cannot read).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

# datetimes and dataclasses go to `default` (none: TypeError, as json.dumps raises); non-str keys become strings
# as json.dumps makes them
_STORED = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def stored_text(value: Any) -> str:
    """A JSON column's text (the engines' `json_serializer`)."""
    try:
        return orjson.dumps(value, option=_STORED).decode()
    except orjson.JSONEncodeError:
        return _standard(value, sort_keys=False)


def sorted_text(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Sorted keys, compact, UTF-8: an API response body (`default` encodes what JSON has no type for)."""
    try:
        return orjson.dumps(value, default=default, option=_STORED | orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return _standard(value, sort_keys=True, default=default)


def canonical_bytes(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: byte for byte what
    `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()` gives for JSON's own
    types (strings, integers, booleans, null, lists, objects with string keys), so signatures over it verify
    across both. tests/test_jsoncodec.py checks the equality on generated documents."""
    try:
        return orjson.dumps(value, option=_CANONICAL)
    except orjson.JSONEncodeError:
        return _standard(value, sort_keys=True).encode()


def _standard(value: Any, *, sort_keys: bool, default: Callable[[Any], Any] | None = None) -> str:
    """What orjson refuses and json.dumps can write (an integer beyond 64 bits), the same way; and what neither
    can write, json.dumps's TypeError (or ValueError for a NaN beside such an integer)."""
    return json.dumps(
        value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=default, allow_nan=False
    )
