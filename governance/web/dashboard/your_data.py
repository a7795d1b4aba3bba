"""Your data (/me): the profile by category (masked; "Show values" reveals it for two minutes, each display
audited), activity counts, and summaries of consent, requests and use."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import redirect, url_for
from flask import session as cookie
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from governance.access.decorators import current_principal, requires
from governance.consent import service as consent
from governance.db import get_session, transaction, utcnow
from governance.requests import service as requests
from governance.requests.lifecycle import OPEN
from governance.vault import service as vault
from governance.vault.errors import SubjectErasedError
from governance.web import i18n, present
from governance.web.blueprint import bp
from governance.web.dashboard.erasure import render_erased
from governance.web.dashboard.layout import page
from governance.web.dashboard.subject import is_erased, own_subject, own_subject_id
from governance.web.dashboard.usage import usage_count

IDENTITY_GROUPS = (
    ("direct", _l("Who you are and how to reach you")),
    ("quasi", _l("About you")),
    ("none", _l("Your settings")),
)
ACTIVITY_MONTHS = 6
REVEAL_KEY = "web.reveal_until"  # epoch seconds; only the deadline is in the session cookie, never a value
REVEAL_SECONDS = 120  # "Show values" lasts two minutes, then the page masks them again


def _profile_groups(fields: dict[str, Any]) -> list[dict[str, Any]]:
    catalog = vault.categories()
    groups = []
    for identifier, title in IDENTITY_GROUPS:
        rows = [
            {
                "name": name,
                "label": present.profile_label(
                    catalog.profile_fields[name].kind, catalog.profile_fields[name].description
                ),
                "value": present.profile_value(catalog.profile_fields[name].kind, value),
            }
            for name, value in fields.items()
            if name in catalog.profile_fields and catalog.profile_fields[name].identifier == identifier
        ]
        if rows:
            groups.append({"title": title, "fields": rows})
    return groups


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    first = today.replace(day=1)
    out = []
    for _month in range(months):
        out.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return list(reversed(out))


def _per_month(
    session: Any, subject_id: uuid.UUID, counts: dict[str, int], months: list[dt.date]
) -> dict[str, list[int]]:
    per_month: dict[str, list[int]] = {name: [0] * len(months) for name in counts}
    if not counts:
        return per_month
    since = dt.datetime.combine(months[0], dt.time(), dt.UTC)
    index = {m.strftime("%Y-%m"): i for i, m in enumerate(months)}
    for month, by_category in vault.event_counts_by_month(session, subject_id, since=since).items():
        slot = index.get(month)
        for category, count in by_category.items():
            if slot is not None and category in per_month:
                per_month[category][slot] += count
    return per_month


def _activity(session: Any, subject_id: uuid.UUID, counts: dict[str, int]) -> dict[str, Any]:
    """Events by kind: all-time totals and per month over the last months, from the vault's counts on the
    clear `occurred_at` and category columns (nothing is decrypted)."""
    catalog = vault.categories()
    months = _month_starts(utcnow().date(), ACTIVITY_MONTHS)
    per_month = _per_month(session, subject_id, counts, months)
    rows = [
        {
            "label": present.event_label(name, catalog.event_categories[name].description)
            if name in catalog.event_categories
            else name,
            "counts": list(reversed(per_month[name])),  # newest month first
            "total": count,
        }
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    return {"periods": [i18n.format_month(m) for m in reversed(months)], "rows": rows}


def _render_index(fields: dict[str, Any] | None, *, revealed: bool) -> str:
    session, subject_id = get_session(), own_subject_id()
    erased = False
    if fields is None:
        try:
            fields = vault.read_profile(session, subject_id, actor=current_principal(), view="masked")["fields"]
        except SubjectErasedError:  # an erased subject still sees their certificate and history
            fields, erased = {}, True
    statuses = consent.overview(session, subject_id)
    consent_needed = [s for s in statuses if s.legal_basis == "consent"]
    my_requests = requests.requests_for_subject(session, subject_id)
    return page(
        "web/dashboard/index.html",
        "web.dashboard",
        profile=_profile_groups(fields),
        revealed=revealed,
        erased=erased,
        activity=_activity(session, subject_id, {} if erased else vault.event_counts(session, subject_id)),
        renewal=[present.purpose_title(consent.purposes()[s.purpose]) for s in statuses if s.needs_renewal],
        consent_summary={"allowed": sum(s.allowed for s in consent_needed), "total": len(consent_needed)},
        open_requests=sum(1 for r in my_requests if r.status in {s.value for s in OPEN}),
        usage_count=usage_count(session, subject_id),
    )


def _reveal_active() -> bool:
    until = cookie.get(REVEAL_KEY)
    if isinstance(until, int | float) and until > utcnow().timestamp():
        return True
    cookie.pop(REVEAL_KEY, None)
    return False


@bp.get("/me")
@requires("dashboard.view", resource=own_subject)
def dashboard() -> str:
    if is_erased(own_subject_id()):
        return render_erased()
    if not _reveal_active():
        return _render_index(None, revealed=False)
    try:
        with transaction(get_session()) as session:  # every display in clear is an audited read
            fields = vault.read_profile(session, own_subject_id(), actor=current_principal(), view="clear")["fields"]
    except SubjectErasedError:
        return _render_index(None, revealed=False)
    return _render_index(fields, revealed=True)


@bp.post("/me/reveal")
@requires("profile.read_clear", resource=own_subject)
def dashboard_reveal() -> ResponseReturnValue:
    """Post/redirect/get: the reveal is a short-lived mark in the session, so Back or Reload never re-posts."""
    cookie[REVEAL_KEY] = int(utcnow().timestamp()) + REVEAL_SECONDS
    return redirect(url_for("web.dashboard", _anchor="profile-h"), code=303)


@bp.post("/me/hide")
@requires("dashboard.view", resource=own_subject)
def dashboard_hide() -> ResponseReturnValue:
    cookie.pop(REVEAL_KEY, None)
    return redirect(url_for("web.dashboard", _anchor="profile-h"), code=303)
