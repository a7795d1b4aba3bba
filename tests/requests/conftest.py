"""Requests test helpers: subjects with profile, consents and events (through the real vault and consent
services), principals for each request source, and a way to run the queued jobs."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from governance.access.principals import Principal
from governance.db import transaction

SYSTEM = Principal.system("requests-tests")
SUPPORT = Principal(kind="staff", id="staff-support-1", roles=frozenset({"support"}), mfa=True)
DPO = Principal(kind="staff", id="staff-dpo-1", roles=frozenset({"dpo"}), mfa=True)
BACKEND = Principal(kind="client", id="product-backend", scopes=frozenset({"requests:write"}))
CONSENT_PURPOSES = ("personalized_recommendations", "marketing_email")
EVENT_CATEGORIES = ("view", "click", "purchase", "rating", "search")


def subject_principal(subject_id: uuid.UUID, session_id: str | None = None) -> Principal:
    return Principal(kind="subject", id=session_id or f"sess-{uuid.uuid4().hex[:10]}", subject_id=subject_id)


def profile_for(tag: str) -> dict[str, Any]:
    """A realistic profile; `tag` makes every identifying value unique to the subject."""
    return {
        "email": f"{tag}.person@example.org",
        "name": f"Ada {tag.capitalize()} Lovelace",
        "phone": "+49 151 2345 6742" if tag == "alpha" else "+49 151 2345 6743",
        "postal_code": "10115",
        "birth_date": "1990-02-03",
        "country": "de",
        "language": "de-DE",
        "device": "mobile",
    }


def make_events(tag: str, count: int, *, start: int = 0) -> list[dict[str, Any]]:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    events = []
    for n in range(start, start + count):
        category = EVENT_CATEGORIES[n % len(EVENT_CATEGORIES)]
        event: dict[str, Any] = {
            "event_id": f"{tag}-evt-{n}",
            "category": category,
            "occurred_at": (base + dt.timedelta(minutes=n)).isoformat(),
            "context": {"time_of_day": "evening", "device": "mobile"},
        }
        if category in ("view", "click", "purchase", "rating"):
            event["item_id"] = f"{tag}-item-{n % 13}"
        if category == "view":
            event["value"] = 12.5
        if category == "rating":
            event["value"] = 4
        if category == "purchase":
            event["value"] = 19.99
            event["context"] = {"currency": "EUR", "quantity": 1}
        if category == "search":
            event["context"] = {"query": f"{tag} secret search"}
        events.append(event)
    return events


@pytest.fixture
def make_subject(app: Flask) -> Callable[..., uuid.UUID]:
    """A subject with a profile, consents to two purposes and `events` events (all through the services).

    Uses its own app context and session, so that API tests (whose requests must not share an app context
    with the test) can use it too."""
    from governance.consent import service as consent
    from governance.vault import service as vault

    def factory(tag: str | None = None, *, events: int = 20, jurisdiction: str = "EU") -> uuid.UUID:
        tag = tag or uuid.uuid4().hex[:8]
        with app.app_context(), app.extensions["governance.db"].session() as session:
            with transaction(session):
                view = vault.create_subject(
                    session,
                    external_ref=f"ref-{tag}",
                    actor=SYSTEM,
                    profile=profile_for(tag),
                    jurisdiction=jurisdiction,
                )
                consent.record_decisions(
                    session,
                    view.id,
                    [{"purpose": p, "decision": "granted"} for p in CONSENT_PURPOSES],
                    method="api",
                    actor=SYSTEM,
                    jurisdiction=jurisdiction,
                )
            remaining, start = events, 0
            while remaining:
                batch = min(remaining, 5000)
                with transaction(session):
                    lawful = consent.lawful_event_categories(session, view.id)
                    report = vault.ingest_events(
                        session,
                        view.id,
                        make_events(tag, batch, start=start),
                        actor=SYSTEM,
                        lawful_categories=lawful,
                    )
                    assert report.accepted == batch, report.rejected[:3]
                remaining -= batch
                start += batch
        return view.id

    return factory


@pytest.fixture
def staff_client(app: Flask, login_staff, csrf_headers) -> Callable[[str], tuple[Any, dict[str, str]]]:
    """A browser signed in as a staff member of `role` (with MFA), and the CSRF header its API writes need."""

    def make(role: str) -> tuple[Any, dict[str, str]]:
        browser = app.test_client()
        login_staff(browser, role)
        return browser, csrf_headers(browser)

    return make


@pytest.fixture
def drain(app: Flask) -> Callable[[], int]:
    """Run every due job in this process (the real worker code), as often as needed."""
    from governance.jobs.worker import drain as drain_jobs

    def run() -> int:
        total = 0
        while ran := drain_jobs(app):
            total += ran
        return total

    return run
