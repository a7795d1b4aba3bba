"""Reads the console needs beyond docs/contracts.md, gathered in one place.

Each function calls one other domain's public module. When a domain publishes the same read in its service
(see "Contract additions web needs" in docs/web.md), only this file changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from governance.access import accounts, tokens
from governance.consent import processors as consent_processors
from governance.vault import keymanagement


def clients(session: Session) -> list[dict[str, Any]]:
    """Registered OAuth clients: id, name, scopes, purposes, active (no secrets)."""
    return [
        {
            "id": c.client_id,
            "name": c.name,
            "scopes": sorted(c.scopes or []),
            "purposes": sorted(c.purposes or []),
            "status": "active" if c.active else "revoked",
        }
        for c in tokens.list_clients(session)
    ]


def processors(session: Session) -> list[Any]:
    """Registered downstream processors (consent's webhooks)."""
    return list(consent_processors.list_processors(session))


def deliveries(session: Session, processor_id: Any, limit: int = 500) -> list[Any]:
    return list(consent_processors.deliveries(session, processor_id=processor_id, limit=limit))


def staff(session: Session) -> list[dict[str, Any]]:
    """Staff accounts and roles (no password or TOTP material)."""
    rows = accounts.list_staff(session)
    return [
        {
            "id": str(row.id),
            "label": row.username,
            "roles": sorted(row.roles or []),
            "mfa": row.totp_enabled_at is not None,
            "status": "active" if row.active else "revoked",
            "last_login": row.last_login_at,
        }
        for row in rows
    ]


def _destruction(version: dict[str, Any]) -> str:
    if version.get("destroyed_at") is not None:
        return f" · destroyed {version['destroyed_at']:%Y-%m-%d}"
    if version.get("destroy_after") is not None:
        return f" · kept for backups until {version['destroy_after']:%Y-%m-%d}"
    return ""


def key_status(session: Session) -> tuple[list[tuple[str, Any]], dict[str, Any] | None]:
    """Master-key versions and the latest rotation, as (facts, rotation) for the admin page."""
    status = keymanagement.key_status(session)
    facts: list[tuple[str, Any]] = [
        (
            f"Version {v['version']}",
            f"{v['state']} · {v['provider']} · wraps {v['data_keys']} data key{'s' if v['data_keys'] != 1 else ''}"
            + _destruction(v),
        )
        for v in status["versions"]
    ]
    epochs = status["epochs"]
    if epochs["next_epoch_at"] is not None:
        overdue = " · OVERDUE" if epochs["epoch_overdue"] else ""
        schedule = f"every {epochs['epoch_days']:g} days, backups kept {epochs['backup_retention_days']:g} days"
        facts.append(("Key epochs", f"{schedule} · next {epochs['next_epoch_at']:%Y-%m-%d %H:%M} UTC{overdue}"))
    rotation = None
    if status["rotations"]:
        latest = status["rotations"][0]
        running = latest.status == "running"
        rotation = {
            "running": running,
            "done": latest.done,
            "total": latest.total,
            "summary": f"Rotation to version {latest.target_version}: {latest.status}, "
            f"{latest.done} of {latest.total} data keys re-wrapped"
            + (f", finished {latest.finished_at:%Y-%m-%d %H:%M} UTC" if latest.finished_at else ""),
        }
    return facts, rotation
