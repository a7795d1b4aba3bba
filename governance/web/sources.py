"""Reads the console needs beyond docs/contracts.md, gathered in one place.

Each function calls one other domain's public module. When a domain publishes the same read in its service
(see "Contract additions web needs" in docs/web.md), only this file changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def clients(session: Session) -> list[dict[str, Any]]:
    """Registered OAuth clients: id, name, scopes, purposes, active (no secrets)."""
    from governance.access import tokens

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
    from governance.consent import processors as consent_processors

    return list(consent_processors.list_processors(session))


def deliveries(session: Session, processor_id: Any, limit: int = 500) -> list[Any]:
    from governance.consent import processors as consent_processors

    return list(consent_processors.deliveries(session, processor_id=processor_id, limit=limit))
