"""The intake's checks of one event against its category's rules (precomputed once per catalog): what a
valid event is, and the plaintext payload it is stored as. Problems are named, never a client's value."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from governance import inputs
from governance.vault.catalog import CategoryCatalog

_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message


def _parse_time(value: Any) -> dt.datetime:
    """The shared timestamp rule (governance.inputs): ISO 8601 with a time zone, inside the calendar."""
    try:
        return inputs.parse_timestamp(value)
    except ValueError as exc:
        raise _Invalid("invalid_event", f"occurred_at {exc}") from None


_EVENT_KEYS = frozenset({"event_id", "category", "occurred_at", "item_id", "value", "context"})
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class _CategoryRule:
    """An event category's checks, precomputed once per catalog (the intake hot path)."""

    name: str
    item_required: bool
    context_keys: frozenset[str]
    value_name: str | None
    value_min: float
    value_max: float
    value_required: bool


_RULES: dict[int, dict[str, _CategoryRule]] = {}


def _rules(catalog: CategoryCatalog) -> dict[str, _CategoryRule]:
    rules = _RULES.get(id(catalog))
    if rules is None:
        rules = {
            name: _CategoryRule(
                name,
                spec.item,
                spec.context_keys,
                spec.value.name if spec.value else None,
                spec.value.min if spec.value else 0.0,
                spec.value.max if spec.value else 0.0,
                bool(spec.value and spec.value.required),
            )
            for name, spec in catalog.event_categories.items()
        }
        _RULES[id(catalog)] = rules
    return rules


def _is_number(value: Any) -> bool:
    kind = type(value)
    return (kind is int or kind is float) and math.isfinite(value)


def _validate_event(
    rules: Mapping[str, _CategoryRule], raw: Any, lawful: set[str] | frozenset[str], latest: dt.datetime
) -> tuple[str, str, dt.datetime, bytes]:
    """(event_id, category, occurred_at, plaintext payload) or `_Invalid` naming the problem (never a value)."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise _Invalid("invalid_event", "an event must be an object")
    if not raw.keys() <= _EVENT_KEYS:
        # the attribute names are the client's text: say how many, never which
        raise _Invalid("invalid_event", f"{len(set(raw) - _EVENT_KEYS)} unknown event attribute(s)")
    event_id = raw.get("event_id")
    if type(event_id) is not str or not _EVENT_ID.match(event_id):
        raise _Invalid("invalid_event", "event_id must be 1-128 printable ASCII characters")
    category = raw.get("category")
    rule = rules.get(category) if type(category) is str else None
    if rule is None:
        raise _Invalid("unknown_category", "category is not a known event category")
    occurred_at = _parse_time(raw.get("occurred_at"))
    if occurred_at > latest:
        raise _Invalid("invalid_event", "occurred_at is in the future")
    item_id = raw.get("item_id")
    if item_id is None:
        if rule.item_required:
            raise _Invalid("invalid_event", f"item_id is required for {category} events")
    elif type(item_id) is not str or not 1 <= len(item_id) <= 128:
        raise _Invalid("invalid_event", "item_id must be a string of 1-128 characters")
    value = raw.get("value")
    if value is not None:
        if rule.value_name is None:
            raise _Invalid("invalid_event", f"{category} events carry no value")
        if not _is_number(value):
            raise _Invalid("invalid_event", "value must be a number")
        if not rule.value_min <= value <= rule.value_max:
            bounds = f"[{rule.value_min:g}, {rule.value_max:g}]"
            raise _Invalid("invalid_event", f"value ({rule.value_name}) must be in {bounds}")
    elif rule.value_required:
        raise _Invalid("invalid_event", f"value ({rule.value_name}) is required for {category} events")
    context = raw.get("context")
    if context:
        if type(context) is not dict and not isinstance(context, Mapping):
            raise _Invalid("invalid_event", "context must be an object")
        if not context.keys() <= rule.context_keys:
            raise _Invalid("invalid_event", f"context key not allowed for {category} events")
        for item in context.values():
            if type(item) is str:
                if len(item) > 500:
                    raise _Invalid("invalid_event", "context values must be at most 500 characters")
            elif not _is_number(item):
                raise _Invalid("invalid_event", "context values must be strings or numbers")
    elif context is not None and context != {}:
        raise _Invalid("invalid_event", "context must be an object")
    if category not in lawful:
        raise _Invalid("no_lawful_basis", "no purpose the subject permits covers this category")
    # the client's id travels encrypted with the event; the column holds only its keyed hash (`stored_event_id`)
    payload = _JSON.encode({"e": event_id, "i": item_id, "v": value, "c": context or {}}).encode("utf-8")
    return event_id, rule.name, occurred_at, payload
