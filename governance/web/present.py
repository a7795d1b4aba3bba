"""Turning service results into what templates show: labels, dates, days left, masked values.

Service results are dataclasses or dicts depending on the domain; `field` reads either, so pages keep working
when a domain adds fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pycountry
from flask import has_request_context
from flask_babel import gettext, ngettext

from governance.web import i18n
from governance.web.i18n import N_

LEGAL_BASIS_LABELS = {
    "consent": N_("Your consent"),
    "legitimate_interest": N_("Our legitimate interest"),
    "contract": N_("Needed to provide the service (contract)"),
    "legal_obligation": N_("Required by law"),
    "vital_interest": N_("Vital interests"),
    "public_task": N_("Public task"),
}

REQUEST_KIND_LABELS = {
    "access": N_("Copy of your data"),
    "portability": N_("Copy of your data (portable)"),
    "export": N_("Copy of your data"),
    "erasure": N_("Deletion"),
    "rectification": N_("Correction"),
    "objection": N_("Objection"),
}

MODEL_KIND_LABELS = {
    "classifier": N_("Classifier (neural network, DP-SGD)"),
    "recommender": N_("Recommender (neural network, DP-SGD)"),
    "dpl_logistic": N_("Logistic regression (differentially private)"),
    "dpl_naive_bayes": N_("Naive Bayes (differentially private)"),
}

METHOD_LABELS = {
    "dashboard": N_("On this dashboard"),
    "api": N_("Through the app"),
    "staff": N_("By our staff, on your behalf"),
    "gpc": N_("Global Privacy Control signal"),
    "import": N_("Imported record"),
    "expiry": N_("Expired automatically"),
    "system": N_("Automatically"),
}


def label(table: Mapping[str, str], code: Any, default: Any = None) -> Any:
    """`table[code]` in the reader's language (the tables hold English msgids), else `default`."""
    return gettext(table[code]) if code in table else default


def _reader_language() -> str:
    return i18n.current_language() if has_request_context() else i18n.DEFAULT


def purpose_title(purpose: Any) -> str:
    """A purpose's title in the reader's language when the policy translates it (policies/purposes.yaml)."""
    translation = purpose.translations.get(_reader_language())
    return translation.title if translation else purpose.title


def purpose_description(purpose: Any) -> str:
    translation = purpose.translations.get(_reader_language())
    return translation.description if translation else purpose.description


def notice_change(purpose: Any, notice: Any) -> str | None:
    """What changed in a notice version, in the reader's language when the policy translates it."""
    translation = notice.translations.get(_reader_language())
    return translation.change if translation and translation.change else notice.change


# event categories as a person calls them (the catalog's descriptions are written for staff)
EVENT_LABELS = {
    "view": N_("Items viewed"),
    "click": N_("Clicks"),
    "search": N_("Searches"),
    "purchase": N_("Purchases"),
    "rating": N_("Ratings"),
    "chat_intent": N_("Chat topics"),
}


def event_label(category: str, fallback: str) -> str:
    """In English the catalog's own description (unchanged pages); in another language the translated name."""
    if _reader_language() == i18n.DEFAULT or category not in EVENT_LABELS:
        return fallback
    return gettext(EVENT_LABELS[category])


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


def format_decimal_text(value: Any, places: int = 3) -> str:
    """ε and δ as `decimal_text` writes them, with the reader's decimal sign (`0,5` in German)."""
    text = decimal_text(value, places)
    return text.replace(".", ",") if i18n.current_language() == "de" else text


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
        return ngettext("%(num)d year", "%(num)d years", years)
    months = round(days / _DAYS_PER_MONTH)
    if months >= 1 and abs(days - months * _DAYS_PER_MONTH) <= 5:
        return ngettext("%(num)d month", "%(num)d months", months)
    return ngettext("%(num)d day", "%(num)d days", days)


def region_name(code: str) -> str:
    """`CH` -> `Switzerland`, `US-CA` -> `California (United States)`; an unknown code is shown as given."""
    if _reader_language() != i18n.DEFAULT and "-" not in code:  # Babel names countries in the reader's language
        named = i18n.territory_name("150" if code == "EU" else code)
        if named:
            return named
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
    "granted": N_("Allowed"),
    "withdrawn": N_("Not allowed"),
    "refused": N_("Not allowed"),
    "expired": N_("Expired"),
}

# what a request's status means for the person, in one sentence
REQUEST_STATUS_TEXT = {
    "received": (N_("Received"), N_("We have your request and will start on it shortly.")),
    "verified": (N_("Confirmed"), N_("We confirmed it was you and are working on it.")),
    "in_progress": (N_("In progress"), N_("We are working on it now.")),
    "completed": (N_("Done"), N_("We finished your request.")),
    "partially_completed": (
        N_("Partly done"),
        N_("We did part of it; the note below says what we could not do and why."),
    ),
    "rejected": (N_("Declined"), N_("We could not do this; the note below says why.")),
    "withdrawn": (N_("Withdrawn"), N_("You withdrew this request; nothing more is done for it.")),
}


def request_status(status: str) -> dict[str, str]:
    """The label and the one-line explanation of a request status, for the person who made it."""
    if status in REQUEST_STATUS_TEXT:
        label_text, text = (gettext(part) for part in REQUEST_STATUS_TEXT[status])
    else:
        label_text, text = humanize(status), ""
    return {"code": status, "label": label_text, "text": text}


def language_name(code: str | None) -> str | None:
    """`de` -> "German", `pt-BR` -> "Portuguese (Brazil)"."""
    if not code:
        return None
    if _reader_language() != i18n.DEFAULT:
        named = i18n.language_name(code)
        if named:
            return named
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
    "email": N_("Email address"),
    "person_name": N_("Name"),
    "phone": N_("Phone number"),
    "postal_address": N_("Postal address"),
    "postal_code": N_("Postal code"),
    "birth_date": N_("Date of birth"),
    "country": N_("Country where you live"),
    "language": N_("Preferred language"),
    "device_type": N_("Main device"),
}

DEVICE_LABELS = {
    "mobile": N_("Mobile phone"),
    "tablet": N_("Tablet"),
    "desktop": N_("Computer"),
    "tv": N_("TV"),
    "console": N_("Games console"),
    "wearable": N_("Watch or other wearable"),
    "other": N_("Other"),
}


def profile_label(kind: str, fallback: str) -> str:
    return label(PROFILE_FIELD_LABELS, kind, fallback)


def profile_value(kind: str, value: Any) -> Any:
    """A stored profile value as a person reads it: countries and languages by name, dates written out."""
    if value in (None, "") or not isinstance(value, str) or "*" in value:  # empty, or masked
        return value
    if kind == "country" and len(value) == 2:
        return region_name(value.upper())
    if kind == "language":
        return language_name(value)
    if kind == "device_type":
        return label(DEVICE_LABELS, value, value)
    if kind == "birth_date":
        try:
            return i18n.format_long_day(date.fromisoformat(value))
        except ValueError:
            return value
    return value


# how to write a corrected value, per kind of field, and what was wrong with a rejected one
RECTIFY_HINTS = {
    "email": N_("For example name@example.com."),
    "person_name": N_("Your name as you want us to use it."),
    "phone": N_("With the country code, starting with +, for example +49 30 1234567."),
    "postal_address": N_("Street and house number, then town or city, each on its own line."),
    "postal_code": N_("As on letters to you: 3 to 12 letters, digits, spaces or dashes."),
    "birth_date": N_("Choose the day in the calendar, or type it as year, month, day (for example 1990-12-31)."),
    "country": N_("Choose the country from the list."),
    "language": N_("Choose the language from the list."),
    "device_type": N_("Choose the kind of device you use most."),
}
RECTIFY_PROBLEMS = {
    "email": N_("This is not an email address we can use."),
    "person_name": N_("A name needs at least one letter."),
    "phone": N_("This is not a phone number we can use."),
    "postal_code": N_("This is not a postal code we can use."),
    "birth_date": N_("This is not a date we can use."),
}


def rectify_hint(kind: str) -> str:
    return label(RECTIFY_HINTS, kind, "")


def rectify_problem(kind: str, service_message: str) -> str:
    """A rejected value's problem in plain words plus how to write it (never the value itself)."""
    if "future" in service_message:
        problem = gettext("The date cannot be in the future.")
    elif "years ago" in service_message:
        problem = gettext("The date is too long ago.")
    elif "control characters" in service_message or "empty" in service_message:
        problem = gettext("Please use letters, digits and ordinary punctuation only.")
    else:
        problem = label(RECTIFY_PROBLEMS, kind, gettext("We could not use what you wrote."))
    hint = rectify_hint(kind)
    return f"{problem} {hint}".strip()


def rectify_options(kind: str) -> list[tuple[str, str]] | None:
    """The choices for fields a person picks from a list (value, name), sorted by name; None for free text."""
    translated = _reader_language() != i18n.DEFAULT
    if kind == "country":
        names = [(c.alpha_2, getattr(c, "common_name", None) or c.name) for c in pycountry.countries]
        if translated:
            names = [(code, i18n.territory_name(code) or name) for code, name in names]
    elif kind == "language":
        names = [(lang.alpha_2, lang.name) for lang in pycountry.languages if hasattr(lang, "alpha_2")]
        if translated:
            names = [(code, i18n.language_name(code) or name) for code, name in names]
    elif kind == "device_type":
        names = [(code, gettext(name)) for code, name in DEVICE_LABELS.items()]
    else:
        return None
    return sorted(names, key=lambda pair: i18n.sort_key(pair[1]))
