"""Rules every input follows, whichever route or job reads it (docs/api.md, "Input rules").

- Text: no NUL and no other control character except tab, line feed and carriage return; no lone surrogate
  (neither can be stored as UTF-8 text on PostgreSQL, and none has a meaning in an id, a name or a filter).
- Timestamps: ISO 8601 strings with a time zone only (never a number read as a Unix time), converted to UTC,
  and far enough from the ends of the calendar that arithmetic on them cannot overflow.
- Integers: within a signed 64-bit column.

These functions raise `ValueError` with fixed messages that never contain the value.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

# C0 controls except \t \n \r, DEL, and UTF-16 surrogates (a lone one cannot be encoded as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_DUMP = json.JSONEncoder(ensure_ascii=False, check_circular=False, default=str)
# The same controls written as JSON escapes; an escape counts only after an even number of backslashes
# (`\\u0000` is a backslash followed by "u0000").
_FORBIDDEN_ESCAPE_TEXT = re.compile(r"(?<!\\)(?:\\\\)*\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])")
_SURROGATE_ESCAPE_TEXT = re.compile(r"\\u[dD][89a-fA-F]")

TEXT_MESSAGE = "must not contain control characters"
TIMESTAMP_MESSAGE = "must be an ISO 8601 date-time with a time zone (for example 2026-01-31T12:00:00Z)"
RANGE_MESSAGE = "is outside the supported range of dates"
INTEGER_MESSAGE = "is outside the supported range of integers"

# A day inside each end of the calendar: converting any offset to UTC, or adding a day, cannot overflow.
EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def has_forbidden_characters(value: str) -> bool:
    return _FORBIDDEN.search(value) is not None


def check_json_document(raw: str, decoded: Any) -> None:
    """Raise ValueError if a JSON text writes a forbidden character as a `\\uXXXX` escape (raw control
    characters are invalid JSON already): usually one substring test, a scan when the text has escapes, and a
    walk of the decoded value only when it escapes a surrogate (legal in a pair, such as an emoji)."""
    if "\\u" not in raw:
        return
    if _FORBIDDEN_ESCAPE_TEXT.search(raw):
        raise ValueError(TEXT_MESSAGE)
    if _SURROGATE_ESCAPE_TEXT.search(raw):
        check_text(decoded)


def check_text(value: Any) -> None:
    """Raise ValueError if `value` (a string, or a JSON-like structure of them, keys included) holds a
    forbidden character."""
    if isinstance(value, str):
        if _FORBIDDEN.search(value):
            raise ValueError(TEXT_MESSAGE)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(key)
            check_text(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_text(item)


def check_value(value: Any, *, text_checked: bool = False) -> None:
    """The rules on one field's value: a scalar directly; a container's text through one C-speed JSON encoding
    and a regular-expression scan (skipped with `text_checked`, for a request body the JSON reader already
    scanned: see `check_json_document`). Integers inside containers go to JSON columns, which hold any size."""
    if isinstance(value, str):
        check_text(value)
    elif not isinstance(value, Mapping | list | tuple):
        check_integers(value)
    elif not text_checked:
        text = _DUMP.encode(value)
        if _FORBIDDEN.search(text) or ("\\u" in text and _FORBIDDEN_ESCAPE_TEXT.search(text)):
            raise ValueError(TEXT_MESSAGE)


def check_integers(value: Any) -> None:
    """Raise ValueError for an integer outside 64 bits or a float that is not finite, anywhere in `value`."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise ValueError(INTEGER_MESSAGE)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
    elif isinstance(value, Mapping):
        for item in value.values():
            check_integers(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_integers(item)


def parse_timestamp(value: Any) -> dt.datetime:
    """An aware UTC datetime from an ISO 8601 string with a time zone (or an aware datetime).

    Raises ValueError (TIMESTAMP_MESSAGE or RANGE_MESSAGE) for numbers, dates without a time, naive times and
    moments too close to the ends of the calendar.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and _ISO_DATE_TIME.match(value) and not has_forbidden_characters(value):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(TIMESTAMP_MESSAGE) from None
    else:
        raise ValueError(TIMESTAMP_MESSAGE)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(TIMESTAMP_MESSAGE)
    try:
        moment = moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ValueError(RANGE_MESSAGE) from None
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(RANGE_MESSAGE)
    return moment


# The window of data a release or a training job may ask for: events before the Unix epoch or after 2100 do not
# exist in this service, and a bound out there only makes the job's date arithmetic fail later.
WINDOW_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
WINDOW_LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
WINDOW_MESSAGE = "must be between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z"


def check_data_window(moment: dt.datetime | None) -> dt.datetime | None:
    """`moment` (aware) if it lies in the window of data a job may ask for; raises ValueError otherwise."""
    if moment is not None and not WINDOW_EARLIEST <= moment <= WINDOW_LATEST:
        raise ValueError(WINDOW_MESSAGE)
    return moment
