"""GDPR Article 30 records of processing activities, generated from the policy files and the registered
clients and processors (never hand-written, so they cannot drift from what the service does)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from governance.web import present

SUBJECT_CATEGORIES = "Users of the product whose account data the product backend sends to this service"

SECURITY_MEASURES = (
    "Personal data encrypted at rest with a key per person (AES-256-GCM, envelope encryption under a master key)",
    "Erasure by destroying the person's key (crypto-shredding), which also makes backups unreadable",
    "Role-based access from reviewed policy files; second factor required for admins, DPOs and auditors",
    "Support staff see personal data masked; full access only by audited break-glass with a reason",
    "Tamper-evident audit log (hash tree with signed checkpoints) of every change and every clear read",
    "Released datasets pseudonymized with keyed hashes, generalized to k-anonymity, noised with differential "
    "privacy where statistics are released",
)


def _describe(names: Iterable[str], descriptions: dict[str, Any]) -> list[str]:
    return [f"{getattr(descriptions.get(n), 'description', n)} ({n})" for n in names]


def build_records(
    *,
    catalog: Any,
    categories: Any,
    clients: list[dict[str, Any]],
    processors: list[Any],
    policy_version: str | None,
    generated_at: str,
) -> dict[str, Any]:
    """The records as one plain structure (rendered as a page, an HTML document and JSON)."""
    controller = catalog.controller
    activities = []
    for purpose in catalog:
        data = _describe(purpose.profile_fields, categories.profile_fields) + _describe(
            purpose.event_categories, categories.event_categories
        )
        recipients = [f"{c['name']} (internal service, {c['status']})" for c in clients if purpose.key in c["purposes"]]
        recipients += [
            f"{p.name} (processor, notified of {', '.join(p.events)})"
            for p in processors
            if p.active and (p.purposes is None or purpose.key in p.purposes)
        ]
        security = list(SECURITY_MEASURES)
        if purpose.gateway:
            security.append(
                f"Releases for this purpose: k-anonymity k ≥ {purpose.gateway.k_anonymity}, "
                f"total privacy budget ε = {purpose.gateway.epsilon}, δ = {purpose.gateway.delta}"
            )
        activities.append(
            {
                "key": purpose.key,
                "title": purpose.title,
                "description": purpose.description,
                "legal_basis": present.LEGAL_BASIS_LABELS.get(purpose.legal_basis.value, purpose.legal_basis.value)
                + f" ({purpose.legal_basis.value})",
                "subjects": SUBJECT_CATEGORIES,
                "data_categories": data,
                "recipients": recipients,
                "transfers": "None recorded: the service and its registered recipients run in the controller's "
                "infrastructure",
                "retention": f"{purpose.retention_days} days after collection"
                + (
                    f"; consent lapses after {purpose.max_consent_age_days} days"
                    if purpose.max_consent_age_days
                    else ""
                ),
                "security": security,
                "notice_version": purpose.current_notice.version,
            }
        )
    return {
        "controller": [
            ("Name", controller.name),
            ("Contact", controller.contact),
            ("Email", controller.email),
            ("Address", controller.address),
            ("Privacy policy", controller.policy_url),
        ],
        "generated_at": generated_at,
        "policy_version": policy_version or "—",
        "activities": activities,
    }


def as_json(records: dict[str, Any]) -> dict[str, Any]:
    return {**records, "controller": dict(records["controller"])}
