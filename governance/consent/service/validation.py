"""Checks of what a caller asks to record, before anything is written: decisions against the catalog and the
clock, evidence against its allow-list, the jurisdiction's form."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context

from governance.consent import state as logic
from governance.consent.errors import BasisNotConsentError, InvalidDecisionError, UnknownPurposeError
from governance.consent.policy import Purpose
from governance.consent.service.catalog import purposes
from governance.consent.service.views import DecisionInput
from governance.consent.state import Decision

DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=2)
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,6})?$")
EVIDENCE_KEYS = frozenset(
    {
        "banner_id",
        "ui_element",
        "page",
        "user_agent_sha256",
        "ip_network_sha256",
        "source_platform",
        "source_record_id",
        "request_id",
        "gpc",
        # which text of the notice the person was shown (a translation is pinned by its own hash): checked
        # against the policy by `_check_notice_shown`
        "notice_language",
        "notice_text_sha256",
    }
)


def _clock_skew() -> dt.timedelta:
    if has_app_context():
        settings = current_app.extensions.get("governance.settings")
        if settings is not None:
            return dt.timedelta(seconds=settings.get_int("CONSENT_CLOCK_SKEW_SECONDS", 120))
    return DEFAULT_CLOCK_SKEW


def _clean_evidence(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """Evidence is an allow-list of short, non-personal values (hashes, ids of the banner or page shown)."""
    cleaned: dict[str, Any] = {}
    for key, value in (evidence or {}).items():
        if key not in EVIDENCE_KEYS:
            raise InvalidDecisionError(
                "Evidence may only hold: " + ", ".join(sorted(EVIDENCE_KEYS)) + ".",
                fields={f"evidence.{key}"[:80]: "not an accepted evidence field"},
            )
        if isinstance(value, bool) or (isinstance(value, str) and len(value) <= 128):
            cleaned[key] = value
        else:
            raise InvalidDecisionError(fields={f"evidence.{key}": "must be a string of at most 128 characters"})
    return cleaned


def _check_notice_shown(planned: Sequence[_Planned], evidence: Mapping[str, Any]) -> None:
    """Evidence naming the notice text shown must name a text the policy pins for every decision's notice version
    (the original, or its translation into `notice_language`), so a receipt's evidence never claims a text that
    does not exist."""
    language, digest = evidence.get("notice_language"), evidence.get("notice_text_sha256")
    if language is None and digest is None:
        return
    if not isinstance(language, str) or not isinstance(digest, str):
        raise InvalidDecisionError(
            "Evidence of the notice shown needs both notice_language and notice_text_sha256.",
            fields={"evidence.notice_language": "required with notice_text_sha256"},
        )
    for plan in planned:
        notice = plan.purpose.notice(plan.notice_version)
        pinned = {notice.language: notice.sha256} | {lang: t.sha256 for lang, t in notice.translations.items()}
        if pinned.get(language) != digest:
            raise InvalidDecisionError(
                f"{plan.purpose.key} v{plan.notice_version} has no {language} text with that hash.",
                fields={"evidence.notice_text_sha256": "not the pinned hash of the notice text in that language"},
            )


def _check_jurisdiction(jurisdiction: str) -> str:
    if not isinstance(jurisdiction, str) or not _JURISDICTION.match(jurisdiction):
        raise InvalidDecisionError(
            "Jurisdiction must be an ISO 3166 code such as EU, DE, US-CA.", fields={"jurisdiction": "invalid"}
        )
    return jurisdiction


@dataclass(frozen=True, slots=True)
class _Planned:
    purpose: Purpose
    decision: Decision
    collected_at: dt.datetime
    notice_version: int


def _validate(decisions: Sequence[DecisionInput], *, now: dt.datetime, allowed: frozenset[Decision]) -> list[_Planned]:
    catalog = purposes()
    skew = _clock_skew()
    planned: list[_Planned] = []
    seen: set[str] = set()
    for index, item in enumerate(decisions):
        where = f"decisions.{index}"
        found = catalog.get(item.purpose)
        if found is None:
            raise UnknownPurposeError(item.purpose, catalog.keys)
        if item.purpose in seen:
            raise InvalidDecisionError(
                "A purpose may appear only once per request.", fields={f"{where}.purpose": "duplicate"}
            )
        seen.add(item.purpose)
        try:
            decision = Decision(item.decision)
        except ValueError:
            decision = None
        if decision is None or decision not in allowed:
            names = ", ".join(sorted(d.value for d in allowed))
            raise InvalidDecisionError(f"Decision must be one of: {names}.", fields={f"{where}.decision": "invalid"})
        if decision in logic.CONSENT_DECISIONS and not found.requires_consent:
            raise BasisNotConsentError(
                f"Purpose '{found.key}' rests on {found.legal_basis.value}, not consent: no consent is recorded.",
                fields={f"{where}.purpose": "legal basis is not consent"},
            )
        collected_at = item.collected_at or now
        if collected_at.tzinfo is None:
            raise InvalidDecisionError(
                "Times must carry a time zone.", fields={f"{where}.collected_at": "naive datetime"}
            )
        if collected_at > now + skew:
            raise InvalidDecisionError(
                "The collection time is in the future.",
                code="collected_at_in_future",
                fields={f"{where}.collected_at": "in the future beyond the allowed clock skew"},
            )
        version = item.notice_version if item.notice_version is not None else found.current_notice.version
        try:
            notice = found.notice(version)
        except KeyError:
            raise InvalidDecisionError(
                f"Purpose '{found.key}' has no notice version {version}.",
                fields={f"{where}.notice_version": "unknown version"},
            ) from None
        if decision == Decision.GRANTED and collected_at.date() < notice.published:
            raise InvalidDecisionError(
                "The consent is dated before its notice version was published.",
                fields={f"{where}.collected_at": "before the notice was published"},
            )
        planned.append(_Planned(found, decision, collected_at.astimezone(dt.UTC), version))
    return planned
