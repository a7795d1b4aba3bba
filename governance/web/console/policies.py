"""The policies in force: purposes, request deadlines per jurisdiction, retention exceptions, access policies."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app

from governance.access.decorators import requires
from governance.consent import service as consent
from governance.requests import service as requests
from governance.web import present
from governance.web.blueprint import bp
from governance.web.console.chrome import render


def _purpose_rows() -> list[dict[str, Any]]:
    rows = []
    for p in consent.purposes():
        gateway = _gateway_words(p.gateway) if p.gateway else None
        rows.append(
            {
                "key": p.key,
                "title": p.title,
                "description": p.description,
                "legal_basis": p.legal_basis.value,
                "legal_basis_label": present.LEGAL_BASIS_LABELS.get(p.legal_basis.value, p.legal_basis.value),
                "profile_fields": [present.humanize(name) for name in p.profile_fields],
                "event_categories": [present.humanize(name) for name in p.event_categories],
                "retention": present.duration_words(p.retention_days),
                "notice_version": p.current_notice.version,
                "gateway": gateway,
            }
        )
    return rows


def _gateway_words(gateway: Any) -> str:
    words = (
        f"Released only in groups of at least {gateway.k_anonymity} people; privacy budget ε = "
        f"{present.decimal_text(gateway.epsilon)} with a {present.chance_words(gateway.delta)} chance (δ) of "
        "exceeding it"
    )
    return words + ("; the same pseudonym across releases." if gateway.stable_pseudonyms else ".")


def _access_files() -> list[dict[str, Any]]:
    settings = current_app.extensions["governance.settings"]
    folder = settings.policies_dir / "access"
    out = []
    for path in sorted(folder.glob("*.cedar")):
        data = path.read_bytes()
        out.append({"name": f"access/{path.name}", "sha256": hashlib.sha256(data).hexdigest(), "text": data.decode()})
    return out


def _period(spec: Any) -> str:
    period = spec.to_period()
    return present.period_words(period.amount, period.unit)


def _deadline_rows(policy: Any) -> list[dict[str, Any]]:
    """Each jurisdiction's request deadlines, in sentences (never the policy file's raw values)."""
    rows = []
    for spec in policy.jurisdictions.values():
        rules = [f"Answer within {_period(spec.respond_within)} of receiving the request."]
        if spec.confirm_within:
            rules.append(f"Confirm receipt within {_period(spec.confirm_within)}.")
        if spec.extension:
            times = spec.extension.max_times
            how_often = " once," if times == 1 else (f" up to {times} times," if times else "")
            rules.append(
                f"May be extended{how_often} by up to {_period(spec.extension.max_total)} in total, "
                "telling the person why within the first period."
            )
        if spec.respond_within.business_days is not None or spec.confirm_within:
            weekend = ", ".join(day.capitalize() for day in spec.business_calendar.weekend)
            listed = len(spec.business_calendar.holidays)
            rules.append(f"Business days exclude {weekend} and {plural_holidays(listed)}.")
        rows.append(
            {
                "title": spec.title,
                "applies_to": ", ".join(present.region_name(code) for code in spec.applies_to),
                "timezone": f"Days are counted in {spec.timezone.replace('_', ' ')} time.",
                "rules": rules,
            }
        )
    return rows


def plural_holidays(count: int) -> str:
    return "no listed public holidays" if count == 0 else f"{present.plural(count, 'listed public holiday')}"


def _request_settings(policy: Any) -> list[tuple[str, str]]:
    link_minutes = policy.export.download_link_minutes
    link = present.plural(link_minutes // 60, "hour") if link_minutes % 60 == 0 else f"{link_minutes} minutes"
    wait = policy.erasure.processor_wait_hours
    return [
        ("Copies of data are kept for download for", present.plural(policy.export.bundle_retention_days, "day")),
        ("A download link works for", link),
        ("Erasure waits for downstream systems to confirm for up to", present.plural(wait, "hour")),
    ]


def _retention_rows(policy: Any) -> list[dict[str, str]]:
    return [
        {
            "category": present.humanize(exception.category),
            "basis": present.LEGAL_BASIS_LABELS.get(exception.basis, present.humanize(exception.basis)),
            "kept_for": present.plural(exception.retain_for.years, "year"),
            "reason": exception.reason,
            "where": ", ".join(exception.jurisdictions),
        }
        for exception in policy.retention_exceptions
    ]


@bp.get("/console/policies")
@requires("policy.read")
def console_policies() -> str:
    policy = requests.get_policy()
    return render(
        "web/console/policies.html",
        "web.console_policies",
        versions=[("Policy version in force", current_app.extensions.get("governance.policy_version") or "—")],
        purposes=_purpose_rows(),
        deadlines=_deadline_rows(policy),
        request_settings=_request_settings(policy),
        retention=_retention_rows(policy),
        rejection_reasons=[(present.humanize(code), text) for code, text in policy.rejection_reasons.items()],
        access_files=_access_files(),
    )
