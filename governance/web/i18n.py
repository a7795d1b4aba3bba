"""The language of the pages a person reads (the dashboard, the front page, sign-in links): English or German.

The locale is chosen per request, in this order: the language the person picked on the dashboard (kept in the
session), the `language` field of their profile in the vault, the browser's `Accept-Language`, English. Staff
pages (the console, staff sign-in) and the JSON API stay English. Catalogs live in governance/translations/
(`make translations`); dates and numbers go through Babel so a German reader gets "2. Dez. 2026" and "1.234".
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_decimal
from flask import Flask, Response, g, request, session
from flask_babel import Babel, get_locale
from sqlalchemy.exc import SQLAlchemyError

from governance.core.routes import current_principal
from governance.db import get_session
from governance.vault import service as vault
from governance.vault.errors import SubjectErasedError, SubjectNotFoundError

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
SUPPORTED = ("en", "de")
DEFAULT = "en"
SESSION_KEY = "web.language"  # the person's explicit choice; a language code, nothing personal
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}  # each in its own language, as switchers show them

# pages for data subjects; everything else (console, staff sign-in, API) is English
_PERSON_PREFIXES = ("/me/", "/dashboard/")
_PERSON_PATHS = frozenset({"/", "/me"})

# Babel date patterns per language: the English ones give what the pages showed before ("2 Dec 2026, 14:30")
_PATTERNS = {
    "en": {"day": "d MMM y", "when": "d MMM y, HH:mm", "long_day": "d MMMM y", "month": "LLLL y"},
    "de": {"day": "d. MMM y", "when": "d. MMM y, HH:mm", "long_day": "d. MMMM y", "month": "LLLL y"},
}


def N_(message: str) -> str:  # the name pybabel extracts by default
    """Marks a message for the catalog without translating it here (it is translated where it is shown)."""
    return message


# Error messages that reach a person's error page (templates/errors/error.html translates them when shown).
PERSON_ERROR_MESSAGES = (
    N_("The request is malformed."),
    N_("Authentication is required."),
    N_("You are not allowed to do this."),
    N_("No such resource."),
    N_("The request conflicts with the current state."),
    N_("This resource is no longer available."),
    N_("Some fields are invalid."),
    N_("Too many requests; retry later."),
    N_("The request body is too large."),
    N_("An unexpected error occurred; quote the request id."),
    N_("No such request."),
    N_("No such receipt."),
    N_("No such notice."),
    N_("No such entry."),
)
# the gateway's names of kinds of release, shown on "How your data is used" (governance/gateway/modes.py)
RELEASE_MODE_LABELS = (
    N_("Pseudonymized personal data (row level, not anonymous)"),
    N_("Synthetic data from a differentially private generator"),
    N_("Pseudonymized rows read by a training job inside the service (never released)"),
)


def init_app(app: Flask) -> None:
    """Attach Flask-Babel with this module's locale selector and the template helpers for dates and names."""
    Babel(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS_DIR))
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks: whitespace as pybabel extracts it
    app.jinja_env.globals.update(
        format_day=format_day,
        format_when=format_when,
        format_long_day=format_long_day,
        page_language=lambda: str(get_locale() or DEFAULT),
        language_names=LANGUAGE_NAMES,
    )
    app.after_request(_say_the_language)


def _say_the_language(response: Response) -> Response:
    """A person's page names its language and varies with the browser's, so no cache serves it in another."""
    if is_person_page(request.path) and response.mimetype == "text/html":
        response.headers["Content-Language"] = current_language()
        response.vary.add("Accept-Language")
    return response


def is_person_page(path: str) -> bool:
    return path in _PERSON_PATHS or path.startswith(_PERSON_PREFIXES)


def best_supported(tag: Any) -> str | None:
    """`de-AT` -> `de`, `EN` -> `en`; None for a language the pages are not written in."""
    if not isinstance(tag, str) or not tag:
        return None
    base = tag.replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED else None


def select_locale() -> str:
    """Session choice > profile `language` > Accept-Language > English; staff pages always English."""
    if not is_person_page(request.path):
        return DEFAULT
    chosen = best_supported(session.get(SESSION_KEY))
    if chosen:
        return chosen
    profile = best_supported(_profile_language())
    if profile:
        return profile
    return request.accept_languages.best_match(SUPPORTED, default=DEFAULT) or DEFAULT


def _profile_language() -> str | None:
    """The `language` field of the session's subject, read once per request through the vault's masked view
    (its mask is none, so the view has the value; a masked read is not a clear read and is not audited)."""
    if "web_profile_language" in g:
        return g.web_profile_language
    g.web_profile_language = None
    principal = current_principal()
    if principal.kind != "subject" or principal.subject_id is None:
        return None
    names = [name for name, spec in vault.categories().profile_fields.items() if spec.kind == "language"]
    if not names:
        return None
    try:
        fields = vault.read_profile(get_session(), principal.subject_id, actor=principal, view="masked")["fields"]
    except (SubjectErasedError, SubjectNotFoundError):
        return None
    except SQLAlchemyError:  # an error page after a failed statement: the language must not fail the page too
        return None
    value = fields.get(names[0])
    g.web_profile_language = value if isinstance(value, str) and "*" not in value else None
    return g.web_profile_language


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def _format(value: Any, kind: str) -> str:  # kind: a key of _PATTERNS, or "time"
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    else:
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    language = current_language()
    pattern = "HH:mm" if kind == "time" else _PATTERNS.get(language, _PATTERNS[DEFAULT])[kind]
    return _babel_datetime(moment, pattern, tzinfo=dt.UTC, locale=language)


def format_day(value: Any) -> str:
    """`2 Dec 2026` / `2. Dez. 2026`."""
    return _format(value, "day")


def format_when(value: Any) -> str:
    """`2 Dec 2026, 14:30` / `2. Dez. 2026, 14:30` (UTC; the caller adds the zone)."""
    return _format(value, "when")


def format_long_day(value: Any) -> str:
    """`2 December 2026` / `2. Dezember 2026`."""
    return _format(value, "long_day")


def format_long_when(value: Any) -> str:
    """`2 December 2026, 14:30` / `2. Dezember 2026, 14:30` (UTC; the caller adds the zone)."""
    return _format(value, "long_day") + ", " + _format(value, "time")


def format_number(value: Any) -> str:
    """`1,234` / `1.234`."""
    return format_decimal(value, locale=current_language())


def format_month(value: Any) -> str:
    """`December 2026` / `Dezember 2026`."""
    return _format(value, "month")


def territory_name(code: str) -> str | None:
    """A country's name in the page's language (`DE` -> "Deutschland"), None when Babel does not know it."""
    return Locale.parse(current_language()).territories.get(code.upper())


def language_name(code: str) -> str | None:
    """A language's name in the page's language (`de` -> "Deutsch", `pt-BR` -> "Portugiesisch (Brasilien)")."""
    base, _, region = code.replace("_", "-").partition("-")
    locale = Locale.parse(current_language())
    name = locale.languages.get(base.lower())
    if name is None:
        return None
    country = locale.territories.get(region.upper()) if len(region) == 2 else None
    return f"{name} ({country})" if country else name


def sort_key(text: str) -> str:
    """Sorts names as a reader expects (Ä with A, É with E)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
