"""Synthetic demo data: subjects with profiles, consents and behaviour events, staff accounts and service clients.

Everything goes through the domains' own services (so it is encrypted, consent-checked and audited like real
data). The seed fixes every value; running it twice adds nothing the second time. Generated passwords and client
secrets are printed once and written to `instance/demo-credentials.txt` (mode 0600): there are no default secrets.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers
from flask import Flask
from sqlalchemy.orm import Session

from governance.access import accounts, tokens
from governance.access.errors import DuplicateError
from governance.access.service import create_dashboard_link
from governance.consent import service as consent
from governance.core.principals import Principal
from governance.vault import service as vault

DEMO_ACTOR = Principal.system("demo")

FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emma",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Paula",
    "Quentin",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wim",
    "Yara",
]
LAST_NAMES = [
    "Almeida",
    "Becker",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "García",
    "Horvat",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Schmidt",
    "Tanaka",
]
COUNTRIES = {"DE": "de", "FR": "fr", "ES": "es", "IT": "it", "NL": "nl", "SE": "sv", "PL": "pl", "US": "en", "GB": "en"}
DEVICES = ["mobile", "mobile", "mobile", "desktop", "desktop", "tablet", "tv"]
EVENT_WEIGHTS = {"view": 50, "click": 25, "search": 8, "purchase": 5, "rating": 7, "chat_intent": 5}
INTENTS = ["order_status", "return_item", "product_question", "recommendation", "billing", "smalltalk"]
# How likely a demo person is to grant each consent-based purpose.
GRANT_RATES = {
    "personalized_recommendations": 0.72,
    "chat_personalization": 0.55,
    "product_analytics": 0.6,
    "model_training": 0.45,
    "marketing_email": 0.3,
    "partner_sharing": 0.12,
}
STAFF = [("demo-admin", "admin"), ("demo-dpo", "dpo"), ("demo-auditor", "auditor"), ("demo-support", "support")]
CLIENTS = [
    (
        "demo-product-backend",
        "Product backend",
        {"subjects:write", "subjects:link", "events:write", "consents:write", "consents:read", "requests:write"},
        set(),
    ),
    (
        "demo-recommender",
        "Recommendation model service",
        {"datasets:request", "training:submit"},
        {"personalized_recommendations", "model_training", "product_analytics"},
    ),
]


@dataclass
class DemoSummary:
    created_subjects: int = 0
    existing_subjects: int = 0
    events: int = 0
    decisions: int = 0


def _phone(rng: random.Random, country: str) -> str:
    """A valid mobile number for the country: its example number with the last digits varied."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:  # every country the demo uses has one; a typo in the list should fail loudly
        raise ValueError("no example mobile number for that country")
    base = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    for _ in range(50):
        candidate = base[:-4] + f"{rng.randrange(10000):04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate
    return base


def _profile(rng: random.Random, index: int, today: dt.date) -> tuple[dict[str, str], str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country = rng.choice(list(COUNTRIES))
    birth = today - dt.timedelta(days=rng.randrange(18 * 365, 80 * 365))
    profile = {
        "email": f"{first.lower()}.{index:04d}@example.com".replace("é", "e"),
        "name": f"{first} {last}",
        "phone": _phone(rng, country),
        "postal_code": f"{rng.randrange(10000, 99999)}",
        "birth_date": birth.isoformat(),
        "country": country,
        "language": COUNTRIES[country],
        "device": rng.choice(DEVICES),
    }
    return profile, country


def _jurisdiction(country: str) -> str:
    return "US-CA" if country == "US" else "EU"


def _events(rng: random.Random, index: int, now: dt.datetime, device: str) -> list[dict[str, Any]]:
    categories, weights = zip(*EVENT_WEIGHTS.items(), strict=True)
    events = []
    for n in range(rng.randrange(10, 60)):
        category = rng.choices(categories, weights)[0]
        occurred = now - dt.timedelta(minutes=rng.randrange(1, 90 * 24 * 60))
        item = f"item-{min(int(rng.paretovariate(1.2)), 200):03d}"
        hour = occurred.hour
        context: dict[str, Any] = {"time_of_day": "morning" if hour < 12 else "evening" if hour >= 18 else "day"}
        context["device"] = device
        event: dict[str, Any] = {"event_id": f"demo-{index:04d}-{n:03d}", "category": category}
        event["occurred_at"] = occurred.isoformat()
        if category in ("view", "click", "purchase", "rating"):
            event["item_id"] = item
        if category == "view":
            event["value"] = rng.randrange(2, 300)
        elif category == "purchase":
            event["value"] = round(rng.uniform(5, 250), 2)
            context.update(currency="EUR", quantity=1)
        elif category == "rating":
            event["value"] = rng.randint(1, 5)
        elif category == "search":
            context["query"] = rng.choice(["running shoes", "rain jacket", "gift ideas", "headphones", "tea"])
        elif category == "chat_intent":
            context["intent"] = rng.choice(INTENTS)
        event["context"] = context
        events.append(event)
    return events


def _decisions(rng: random.Random, now: dt.datetime) -> list[dict[str, Any]]:
    decisions = []
    for purpose, rate in GRANT_RATES.items():
        if rng.random() < rate:
            granted_at = now - dt.timedelta(days=rng.randrange(30, 300))
            decisions.append({"purpose": purpose, "decision": "granted", "collected_at": granted_at})
            if rng.random() < 0.12:  # some people change their mind later
                withdrawn_at = granted_at + dt.timedelta(days=rng.randrange(1, 25))
                decisions.append({"purpose": purpose, "decision": "withdrawn", "collected_at": withdrawn_at})
    return decisions


def _load_subject(session: Session, rng: random.Random, index: int, now: dt.datetime, summary: DemoSummary) -> None:
    profile, country = _profile(rng, index, now.date())
    decisions = _decisions(rng, now)
    events = _events(rng, index, now, profile["device"])
    reference = f"demo-user-{index:04d}"
    if vault.find_subject(session, external_ref=reference) is not None:
        summary.existing_subjects += 1
        return
    subject = vault.create_subject(
        session, external_ref=reference, actor=DEMO_ACTOR, profile=profile, jurisdiction=_jurisdiction(country)
    )
    # One decision per purpose and call: grants first, later withdrawals in a second call.
    for batch in (
        [d for d in decisions if d["decision"] == "granted"],
        [d for d in decisions if d["decision"] == "withdrawn"],
    ):
        if batch:
            consent.record_decisions(
                session, subject.id, batch, method="import", actor=DEMO_ACTOR, jurisdiction=_jurisdiction(country)
            )
            summary.decisions += len(batch)
    lawful = consent.lawful_event_categories(session, subject.id)
    report = vault.ingest_events(session, subject.id, events, actor=DEMO_ACTOR, lawful_categories=lawful)
    summary.events += report.accepted
    summary.created_subjects += 1


def _write_credentials(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _staff_and_clients(session: Session) -> list[str]:
    lines: list[str] = []
    for username, role in STAFF:
        password = secrets.token_urlsafe(12)
        try:
            accounts.create_staff(session, username=username, password=password, roles={role}, actor=DEMO_ACTOR)
        except DuplicateError:
            continue
        lines.append(f"staff {username} ({role}) password: {password}")
    for client_id, name, scopes, purposes in CLIENTS:
        try:
            registered = tokens.register_client(
                session, name=name, scopes=scopes, purposes=purposes, actor=DEMO_ACTOR, client_id=client_id
            )
        except DuplicateError:
            continue
        lines.append(f"client {registered.client_id} secret: {registered.client_secret}")
    return lines


def _in_transaction(app: Flask, work: Callable[[Session], Any]) -> Any:
    with app.extensions["governance.db"].session() as session:
        result = work(session)
        session.commit()
        return result


def load_demo(app: Flask, *, subjects: int, seed: int, progress: Callable[[int], None] | None = None) -> list[str]:
    """Load (or top up) the demo data set; returns lines to show the operator."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    summary = DemoSummary()
    with app.app_context():
        credentials = _in_transaction(app, _staff_and_clients)
        for index in range(1, subjects + 1):
            subject_rng = random.Random(rng.getrandbits(64))  # noqa: S311 - synthetic data
            _in_transaction(
                app, functools.partial(_load_subject, rng=subject_rng, index=index, now=now, summary=summary)
            )
            if progress:
                progress(index)
        first = _in_transaction(app, lambda s: vault.find_subject(s, external_ref="demo-user-0001"))
        link = _in_transaction(app, lambda s: create_dashboard_link(s, first.id, actor=DEMO_ACTOR)) if first else None
    settings = app.extensions["governance.settings"]
    lines = [
        f"demo data: {summary.created_subjects} subjects created ({summary.existing_subjects} already there), "
        f"{summary.decisions} consent decisions, {summary.events} events (seed {seed})",
    ]
    if credentials:
        path = settings.instance_path / "demo-credentials.txt"
        _write_credentials(path, [f"# demo credentials created {now.isoformat()}", *credentials])
        lines += credentials
        lines.append(f"(also saved to {path}, readable only by you)")
        lines.append("Staff sign in at /login; admin, dpo and auditor enrol an authenticator app at first sign-in.")
    if link:
        lines.append(f"One-time dashboard link for demo subject demo-user-0001 (10 minutes, once): {link}")
        lines.append(f"A fresh link later: flask --app wsgi governance dashboard-link {uuid.UUID(str(first.id))}")
    return lines
