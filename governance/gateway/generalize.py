"""Generalization of quasi-identifiers: pure functions and a policy-driven row generalizer.

Each rule maps one raw value to a coarser one (birth date to an age band, postal code to a region, a
timestamp to its hour or day, a device description to a device class). Missing or unparsable values become
``None`` rather than leaking the raw value: a generalizer never passes through what it could not generalize.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GeneralizationRule",
    "Generalizer",
    "age_band",
    "country_code",
    "device_class",
    "numeric_band",
    "postal_region",
    "truncate_timestamp",
]

RULE_OPTIONS: dict[str, frozenset[str]] = {
    "age_band": frozenset({"width", "top"}),
    "postal_region": frozenset({"keep"}),
    "country": frozenset(),
    "device_class": frozenset(),
    "timestamp": frozenset({"granularity"}),
    "numeric_band": frozenset({"width", "lower", "upper"}),
    "drop": frozenset(),
}
RULE_KINDS = tuple(RULE_OPTIONS)


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def age_band(birth_date: Any, *, as_of: dt.date, width: int = 10, top: int = 90) -> str | None:
    """Age at ``as_of`` as a band like ``"30-39"``; ages from ``top`` up become ``"90+"``.

    Ages under 0 (birth date in the future) and unparsable dates give ``None``.
    """
    born = _as_date(birth_date)
    if born is None:
        return None
    age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    if age < 0:
        return None
    if age >= top:
        return f"{top}+"
    low = (age // width) * width
    return f"{low}-{min(low + width - 1, top - 1)}"


def postal_region(postal_code: Any, *, keep: int = 2) -> str | None:
    """The leading ``keep`` characters of a postal code (spaces removed, upper case): a region."""
    if not isinstance(postal_code, str | int):
        return None
    cleaned = "".join(str(postal_code).split()).upper()
    if len(cleaned) < keep or not cleaned.isalnum():
        return None
    return cleaned[:keep]


def country_code(country: Any) -> str | None:
    """An ISO 3166-1 alpha-2 code (upper case) for a code or country name, ``None`` when unknown."""
    if not isinstance(country, str) or not country.strip():
        return None
    text = country.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    import pycountry  # deferred: its import (~40 ms) is paid only when a country is given by name

    try:
        found = pycountry.countries.lookup(text)
    except LookupError:
        return None
    return str(found.alpha_2)


_DEVICE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tablet", ("ipad", "tablet", "kindle", "tab ")),
    ("mobile", ("iphone", "android", "mobile", "phone", "pixel", "galaxy", "ios")),
    ("desktop", ("windows", "macintosh", "mac os", "macos", "linux", "x11", "desktop", "cros", "laptop")),
    ("tv", ("smart-tv", "smarttv", "tv", "roku", "playstation", "xbox")),
)


def device_class(device: Any) -> str | None:
    """A device description or user agent as ``mobile``, ``tablet``, ``desktop``, ``tv``, ``other``."""
    if not isinstance(device, str) or not device.strip():
        return None
    text = device.lower()
    for name, words in _DEVICE_WORDS:
        if text == name or any(word in text for word in words):
            return name
    return "other"


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    elif isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    else:
        return None
    offset = moment.utcoffset()
    if offset:  # None (naive, taken as UTC) or zero need no conversion
        moment = moment - offset
    return moment


def truncate_timestamp(value: Any, *, granularity: str = "day") -> str | None:
    """A timestamp truncated (in UTC) to its ``hour`` (``…T12:00Z``), ``day``, ``week`` or ``month``."""
    if granularity not in _GRANULARITIES:
        raise ValueError(f"unknown timestamp granularity {granularity!r}")
    if type(value) is dt.datetime and not value.utcoffset() and granularity in ("day", "hour"):
        # fast path for UTC (or naive, taken as UTC) datetimes, the vault's form: slice the C-made ISO string
        text = value.isoformat()
        return text[:10] if granularity == "day" else text[:13] + ":00Z"
    moment = _as_datetime(value)
    if moment is None:
        return None
    if granularity == "day":
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if granularity == "hour":
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:00Z"
    if granularity == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


_GRANULARITIES = frozenset({"hour", "day", "week", "month"})


def numeric_band(value: Any, *, width: float, lower: float | None = None, upper: float | None = None) -> str | None:
    """A number as the band ``[a, a+width)`` it falls in; beyond ``lower``/``upper``: top/bottom-coded."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    if upper is not None and value >= upper:
        return f">={upper:g}"
    if lower is not None and value < lower:
        return f"<{lower:g}"
    start = (value // width) * width
    return f"{start:g}-{start + width:g}"


@dataclass(frozen=True, slots=True)
class GeneralizationRule:
    """How one column is generalized (from ``policies/gateway.yaml``)."""

    column: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"rule": self.kind, **dict(self.options)}

    def bind(self, *, as_of: dt.date) -> Callable[[Any], Any]:
        """The rule as a one-argument function, with ``as_of`` fixed for age bands."""
        opts = dict(self.options)
        if self.kind == "age_band":
            width, top = int(opts.get("width", 10)), int(opts.get("top", 90))
            return lambda v: age_band(v, as_of=as_of, width=width, top=top)
        if self.kind == "postal_region":
            keep = int(opts.get("keep", 2))
            return lambda v: postal_region(v, keep=keep)
        if self.kind == "country":
            return country_code
        if self.kind == "device_class":
            return device_class
        if self.kind == "timestamp":
            granularity = str(opts.get("granularity", "day"))
            truncate_timestamp("2000-01-01T00:00:00", granularity=granularity)  # validate early
            return lambda v: truncate_timestamp(v, granularity=granularity)
        if self.kind == "numeric_band":
            band = float(opts["width"])
            lower, upper = opts.get("lower"), opts.get("upper")
            return lambda v: numeric_band(v, width=band, lower=lower, upper=upper)
        if self.kind == "drop":
            return lambda _v: None
        raise ValueError(f"unknown generalization {self.kind!r} for column {self.column!r}")


@dataclass(frozen=True, slots=True)
class Generalizer:
    """Applies the rules of the quasi-identifier columns present in a release; other columns pass through."""

    rules: tuple[GeneralizationRule, ...]
    as_of: dt.date

    def functions(self, columns: list[str]) -> list[Callable[[Any], Any] | None]:
        """Per column of ``columns``, the generalizing function or ``None`` for pass-through."""
        by_column = {rule.column: rule for rule in self.rules}
        return [by_column[c].bind(as_of=self.as_of) if c in by_column else None for c in columns]

    def quasi_identifiers(self, columns: list[str]) -> list[str]:
        wanted = {rule.column for rule in self.rules}
        return [c for c in columns if c in wanted]

    def describe(self, columns: list[str]) -> dict[str, dict[str, Any]]:
        """The generalization applied, per released column, for the manifest."""
        return {rule.column: rule.describe() for rule in self.rules if rule.column in columns}
