"""Turning service results into what templates show: labels, dates, days left, masked values.

Service results are dataclasses or dicts depending on the domain; `field` reads either, so pages keep working
when a domain adds fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

LEGAL_BASIS_LABELS = {
    "consent": "Your consent",
    "legitimate_interest": "Our legitimate interest",
    "contract": "Needed to provide the service (contract)",
    "legal_obligation": "Required by law",
    "vital_interest": "Vital interests",
    "public_task": "Public task",
}

REQUEST_KIND_LABELS = {
    "access": "Copy of your data",
    "portability": "Copy of your data (portable)",
    "export": "Copy of your data",
    "erasure": "Deletion",
    "rectification": "Correction",
    "objection": "Objection",
}

MODEL_KIND_LABELS = {
    "classifier": "Classifier (neural network, DP-SGD)",
    "recommender": "Recommender (neural network, DP-SGD)",
    "dpl_logistic": "Logistic regression (differentially private)",
    "dpl_naive_bayes": "Naive Bayes (differentially private)",
}

METHOD_LABELS = {
    "dashboard": "On this dashboard",
    "api": "Through the app",
    "staff": "By our staff, on your behalf",
    "gpc": "Global Privacy Control signal",
    "import": "Imported record",
    "expiry": "Expired automatically",
    "system": "Automatically",
}


def field(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or key `name` of `obj` (dataclass, pydantic model or dict)."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def first(obj: Any, *names: str, default: Any = None) -> Any:
    """The first of `names` that `obj` has and that is not None."""
    for name in names:
        value = field(obj, name)
        if value is not None:
            return value
    return default


def humanize(key: str | None) -> str:
    """`birth_date` -> `Birth date`."""
    if not key:
        return ""
    text = str(key).replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:]


def aware(value: datetime) -> datetime:
    """A stored time as an aware datetime (SQLite gives naive UTC ones)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return as_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def days_left(due: Any, *, today: date | None = None) -> int | None:
    """Whole days from today until `due` (negative when overdue)."""
    due_dt = as_datetime(due)
    if due_dt is None:
        return None
    today = today or datetime.now(UTC).date()
    return (due_dt.date() - today).days


def percent(part: float, whole: float) -> float | None:
    if not whole:
        return None
    return round(100.0 * part / whole, 1)


def decimal_text(value: Any, places: int = 3) -> str:
    """A compact number for ε and δ (no trailing zeros, scientific for tiny values)."""
    if value is None:
        return "—"
    number = float(value)
    if number == 0:
        return "0"
    if abs(number) < 10 ** (-places):
        return f"{number:.0e}"
    text = f"{number:.{places}f}".rstrip("0").rstrip(".")
    return text if not math.isnan(number) else "—"


# --- plain words for policy values (GDPR Art. 12: "clear and plain language") ------------------------------

_REGION_NAMES = {"EU": "European Union", "EEA": "European Economic Area", "UK": "United Kingdom"}
_DAYS_PER_YEAR = 365.25
_DAYS_PER_MONTH = _DAYS_PER_YEAR / 12


def plural(amount: int, unit: str) -> str:
    """`1 month`, `2 months`, `1 business day`."""
    return f"{amount} {unit}" if amount == 1 else f"{amount} {unit}s"


def period_words(amount: int, unit: str) -> str:
    """A legal period (`months`, `days`, `business_days`) in words: `1 month`, `10 business days`."""
    singular = {"months": "month", "days": "day", "business_days": "business day"}.get(unit, unit)
    return plural(amount, singular)


def duration_words(days: int | None) -> str:
    """A retention period given in days, in the unit a person would say: 730 -> `2 years`, 395 -> `13 months`.

    Years or months are used when the days are within two days of a whole number of them (policies write
    365, 730 or 3653 for years, 180 or 395 for months); otherwise the days themselves."""
    if days is None:
        return "—"
    years = round(days / _DAYS_PER_YEAR)
    if years >= 1 and abs(days - years * _DAYS_PER_YEAR) <= 2:
        return plural(years, "year")
    months = round(days / _DAYS_PER_MONTH)
    if months >= 1 and abs(days - months * _DAYS_PER_MONTH) <= 5:
        return plural(months, "month")
    return plural(days, "day")


def region_name(code: str) -> str:
    """`CH` -> `Switzerland`, `US-CA` -> `California (United States)`; an unknown code is shown as given."""
    import pycountry  # light; only pages that name regions need it

    if code in _REGION_NAMES:
        return _REGION_NAMES[code]
    if "-" in code:
        subdivision = pycountry.subdivisions.get(code=code)
        country = pycountry.countries.get(alpha_2=code.split("-", 1)[0])
        if subdivision is not None and country is not None:
            return f"{subdivision.name} ({getattr(country, 'common_name', country.name)})"
    country = pycountry.countries.get(alpha_2=code)
    return getattr(country, "common_name", country.name) if country is not None else code


def chance_words(probability: Any) -> str:
    """δ in words: 1e-06 -> `1 in 1,000,000`."""
    number = float(probability)
    if number <= 0:
        return "none"
    return f"1 in {round(1 / number):,}"


# --- plain language for data subjects (GDPR Art. 12: concise, intelligible, clear and plain language) ---------

DECISION_LABELS = {
    "granted": "Allowed",
    "withdrawn": "Not allowed",
    "refused": "Not allowed",
    "expired": "Expired",
}

# what a request's status means for the person, in one sentence
REQUEST_STATUS_TEXT = {
    "received": ("Received", "We have your request and will start on it shortly."),
    "verified": ("Confirmed", "We confirmed it was you and are working on it."),
    "in_progress": ("In progress", "We are working on it now."),
    "completed": ("Done", "We finished your request."),
    "partially_completed": ("Partly done", "We did part of it; the note below says what we could not do and why."),
    "rejected": ("Declined", "We could not do this; the note below says why."),
    "withdrawn": ("Withdrawn", "You withdrew this request; nothing more is done for it."),
}


def request_status(status: str) -> dict[str, str]:
    """The label and the one-line explanation of a request status, for the person who made it."""
    label, text = REQUEST_STATUS_TEXT.get(status, (humanize(status), ""))
    return {"code": status, "label": label, "text": text}


def language_name(code: str | None) -> str | None:
    """`de` -> "German", `pt-BR` -> "Portuguese (Brazil)"."""
    if not code:
        return None
    import pycountry

    base, _, region = code.replace("_", "-").partition("-")
    language = pycountry.languages.get(alpha_2=base.lower()) if len(base) == 2 else None
    language = language or pycountry.languages.get(alpha_3=base.lower())
    if language is None:
        return code
    name = language.name
    country = region_name(region.upper()) if len(region) == 2 else None
    return f"{name} ({country})" if country else name


# profile fields by kind, as a person calls them (the policy's descriptions name formats such as E.164)
PROFILE_FIELD_LABELS = {
    "email": "Email address",
    "person_name": "Name",
    "phone": "Phone number",
    "postal_address": "Postal address",
    "postal_code": "Postal code",
    "birth_date": "Date of birth",
    "country": "Country where you live",
    "language": "Preferred language",
    "device_type": "Main device",
}

DEVICE_LABELS = {
    "mobile": "Mobile phone",
    "tablet": "Tablet",
    "desktop": "Computer",
    "tv": "TV",
    "console": "Games console",
    "wearable": "Watch or other wearable",
    "other": "Other",
}


def profile_label(kind: str, fallback: str) -> str:
    return PROFILE_FIELD_LABELS.get(kind, fallback)


def profile_value(kind: str, value: Any) -> Any:
    """A stored profile value as a person reads it: countries and languages by name, dates written out."""
    if value in (None, "") or not isinstance(value, str) or "*" in value:  # empty, or masked
        return value
    if kind == "country" and len(value) == 2:
        return region_name(value.upper())
    if kind == "language":
        return language_name(value)
    if kind == "device_type":
        return DEVICE_LABELS.get(value, value)
    if kind == "birth_date":
        try:
            return date.fromisoformat(value).strftime("%-d %B %Y")
        except ValueError:
            return value
    return value


# how to write a corrected value, per kind of field, and what was wrong with a rejected one
RECTIFY_HINTS = {
    "email": "For example name@example.com.",
    "person_name": "Your name as you want us to use it.",
    "phone": "With the country code, starting with +, for example +49 30 1234567.",
    "postal_address": "Street and house number, then town or city, each on its own line.",
    "postal_code": "As on letters to you: 3 to 12 letters, digits, spaces or dashes.",
    "birth_date": "Choose the day in the calendar, or type it as year, month, day (for example 1990-12-31).",
    "country": "Choose the country from the list.",
    "language": "Choose the language from the list.",
    "device_type": "Choose the kind of device you use most.",
}
RECTIFY_PROBLEMS = {
    "email": "This is not an email address we can use.",
    "person_name": "A name needs at least one letter.",
    "phone": "This is not a phone number we can use.",
    "postal_code": "This is not a postal code we can use.",
    "birth_date": "This is not a date we can use.",
}


def rectify_hint(kind: str) -> str:
    return RECTIFY_HINTS.get(kind, "")


def rectify_problem(kind: str, service_message: str) -> str:
    """A rejected value's problem in plain words plus how to write it (never the value itself)."""
    if "future" in service_message:
        problem = "The date cannot be in the future."
    elif "years ago" in service_message:
        problem = "The date is too long ago."
    elif "control characters" in service_message or "empty" in service_message:
        problem = "Please use letters, digits and ordinary punctuation only."
    else:
        problem = RECTIFY_PROBLEMS.get(kind, "We could not use what you wrote.")
    hint = rectify_hint(kind)
    return f"{problem} {hint}".strip()


def rectify_options(kind: str) -> list[tuple[str, str]] | None:
    """The choices for fields a person picks from a list (value, name), sorted by name; None for free text."""
    import pycountry

    if kind == "country":
        names = [(c.alpha_2, getattr(c, "common_name", None) or c.name) for c in pycountry.countries]
    elif kind == "language":
        names = [(lang.alpha_2, lang.name) for lang in pycountry.languages if hasattr(lang, "alpha_2")]
    elif kind == "device_type":
        names = list(DEVICE_LABELS.items())
    else:
        return None
    return sorted(names, key=lambda pair: pair[1])
