"""The values the consent service hands to its callers: decisions in, receipts, ledger events and purpose
statuses out (plain frozen dataclasses, no ORM objects)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """One decision as collected by the product or the dashboard."""

    purpose: str
    decision: str  # granted | withdrawn
    collected_at: dt.datetime | None = None  # when the subject decided; default: now
    notice_version: int | None = None  # the notice shown; default: the current one

    @classmethod
    def of(cls, value: DecisionInput | Mapping[str, Any]) -> DecisionInput:
        if isinstance(value, DecisionInput):
            return value
        return cls(
            purpose=str(value["purpose"]),
            decision=str(value["decision"]),
            collected_at=value.get("collected_at"),
            notice_version=value.get("notice_version"),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    record_id: uuid.UUID
    purpose: str
    decision: str
    superseded: bool
    receipt: dict[str, Any]
    jws: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_id": str(self.record_id),
            "purpose": self.purpose,
            "decision": self.decision,
            "superseded": self.superseded,
            "receipt": self.receipt,
            "jws": self.jws,
        }


@dataclass(frozen=True, slots=True)
class ConsentEventView:
    id: uuid.UUID
    purpose: str
    decision: str
    seq: int
    collected_at: dt.datetime
    recorded_at: dt.datetime
    notice_version: int
    notice_sha256: str
    method: str
    jurisdiction: str
    actor_kind: str
    superseded: bool
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PurposeStatus:
    """One purpose as the dashboard and the API show it to a subject."""

    purpose: str
    title: str
    description: str
    legal_basis: str
    allowed: bool
    reason: str
    decision: str | None
    decided_at: dt.datetime | None
    notice_version: int | None
    current_notice_version: int
    needs_renewal: bool
    expires_at: dt.datetime | None
    objected: bool
    sale_or_sharing: bool
