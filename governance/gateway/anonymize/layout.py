"""Where each column sits in an output row and how it is generalized, and the text encoding of rows (pass one)."""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from governance.gateway.anonymize.inputs import PSEUDONYM_COLUMN, PersonLevel
from governance.gateway.generalize import Generalizer
from governance.gateway.kanon import AnonymityRequirement
from governance.gateway.writers import Column


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each column sits in an output row and how it is generalized."""

    names: list[str]
    out_columns: list[Column]
    qi_names: list[str]
    profile_steps: list[tuple[str, Callable[[Any], Any] | None]]
    event_steps: list[tuple[str, Callable[[Any], Any] | None]]
    qi_positions: list[int]  # positions in the output row (the pseudonym is position 0)
    sensitive_position: int | None
    per_event: bool
    candidate_names: list[str] = field(default_factory=list)
    candidate_positions: list[int] = field(default_factory=list)
    content_names: list[str] = field(default_factory=list)
    content_positions: list[int] = field(default_factory=list)

    @property
    def wide_positions(self) -> list[int]:
        """Positions kept in a row's class combination: declared quasi-identifiers, then candidates."""
        return self.qi_positions + self.candidate_positions

    @classmethod
    def build(
        cls,
        profile_columns: Sequence[Column],
        event_columns: Sequence[Column],
        generalizer: Generalizer,
        requirement: AnonymityRequirement,
        forbidden: frozenset[str],
        person_level: PersonLevel | None = None,
    ) -> _Layout:
        columns = [*profile_columns, *event_columns]
        names = [c.name for c in columns]
        refused = sorted((set(names) & forbidden) | ({PSEUDONYM_COLUMN} & set(names)))
        refused += sorted({n for n in names if names.count(n) > 1})
        if refused:
            raise ValueError(f"columns not releasable: {', '.join(refused)}")
        if requirement.sensitive is not None and requirement.sensitive not in names:
            raise ValueError(f"sensitive attribute {requirement.sensitive!r} is not among the released columns")
        qi_names = generalizer.quasi_identifiers(names)
        functions = generalizer.functions(names)
        steps = list(zip(names, functions, strict=True))
        skip = {*qi_names, requirement.sensitive}
        candidates = [n for n in (person_level.candidates if person_level else ()) if n in names and n not in skip]
        content = [n for n in (person_level.content if person_level else ()) if n in names and n not in skip]
        return cls(
            names=names,
            out_columns=[
                Column(PSEUDONYM_COLUMN),
                *(Column(c.name, "string") if c.name in qi_names else c for c in columns),
            ],
            qi_names=qi_names,
            profile_steps=steps[: len(profile_columns)],
            event_steps=steps[len(profile_columns) :],
            qi_positions=[i + 1 for i, n in enumerate(names) if n in qi_names],
            sensitive_position=names.index(requirement.sensitive) + 1 if requirement.sensitive else None,
            per_event=bool(event_columns),
            candidate_names=candidates,
            candidate_positions=[names.index(n) + 1 for n in candidates],
            content_names=content,
            content_positions=[names.index(n) + 1 for n in content],
        )


class _TextEncoder:
    """Encodes rows of JSON Lines or CSV as text once, in pass one: the pseudonym and profile part once per
    subject, the event parts of a chunk column by column (`lines`); repeated strings are encoded once."""

    def __init__(self, fmt: str, names: list[str], head_width: int) -> None:
        self._json = fmt == "jsonl"
        self._cache: dict[str, str] = {}
        keys = [json.dumps(n, ensure_ascii=False) + ":" for n in names]
        self._head_keys = ["{" + keys[0], *("," + k for k in keys[1:head_width])]
        self._end = "}\n" if self._json else "\n"
        self._null = "null" if self._json else ""
        tail_keys = ["," + k for k in keys[head_width:]] if self._json else ["," for _ in keys[head_width:]]
        # one format string for a row's event part: str.format and map run the per-value loop in C
        self._tail_format = "".join(_braces_escaped(k) + "{}" for k in tail_keys) + _braces_escaped(self._end)

    def _value(self, value: Any) -> str:
        kind = type(value)
        if kind is str:
            cached = self._cache.get(value)
            if cached is None:
                cached = self._encode_str(value)
                if len(self._cache) < 200_000:
                    self._cache[value] = cached
            return cached
        if value is None:
            return "null" if self._json else ""
        if kind is float:
            return repr(value) if math.isfinite(value) else ("null" if self._json else "")
        if kind is bool:
            return ("true" if value else "false") if self._json else str(value)
        if kind is int:
            return str(value)
        return self._encode_str(value if isinstance(value, str) else json.dumps(value, default=str))

    def _encode_str(self, text: str) -> str:
        if self._json:
            return json.dumps(text, ensure_ascii=False)
        if any(c in text for c in ',"\r\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    def head(self, values: tuple[Any, ...]) -> str:
        if self._json:
            return "".join([k + self._value(v) for k, v in zip(self._head_keys, values, strict=True)])
        return ",".join([self._value(v) for v in values])

    def line(self, head: str, values: tuple[Any, ...]) -> str:
        return head + self._tail_format.format(*map(self._value, values))

    def lines(self, heads: list[str], counts: list[int], bodies: list[tuple[Any, ...]]) -> list[str]:
        """The rows of many subjects: `heads[i]` (from `head`) followed by each of subject i's `counts[i]` event
        parts in `bodies`, as `line` encodes them. The event parts are encoded column by column, so that a
        column of one kind (strings, finite floats, integers) runs in C (`map`), not a Python call per value."""
        if not bodies:
            return []
        columns = [self._column(values) for values in zip(*bodies, strict=True)]
        repeated = itertools.chain.from_iterable(map(itertools.repeat, heads, counts))
        return list(map(operator.add, repeated, map(self._tail_format.format, *columns)))

    def _column(self, values: tuple[Any, ...]) -> list[str] | Iterator[str]:
        """One column's values encoded, each exactly as `_value` encodes it."""
        kinds = set(map(type, values))
        if kinds == {str}:
            encoded: list[str | None] = list(map(self._cache.get, values))
            if None in encoded:  # the first time a string is seen (or the cache is full)
                return [self._value(v) if e is None else e for e, v in zip(encoded, values, strict=True)]
            return encoded  # type: ignore[return-value]  # no None left in it
        if kinds <= _NUMBER_OR_NONE and _all_finite(values):
            null = self._null  # repr of an int or a finite float is what `_value` writes for it
            return [null if v is None else repr(v) for v in values]
        return map(self._value, values)

    def alone(self, head: str) -> str:
        return head + self._end


_NUMBER_OR_NONE = frozenset({int, float, type(None)})


def _all_finite(numbers: tuple[Any, ...]) -> bool:
    """No NaN or infinity among numbers (and Nones); an int too large for a float is finite too."""
    try:
        return all(map(math.isfinite, filter(None, numbers)))
    except OverflowError:
        return all(type(v) is not float or math.isfinite(v) for v in numbers)


def _braces_escaped(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")
