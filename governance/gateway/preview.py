"""Previews before any epsilon is spent: what a DP query, a training job or a synthetic-data release would
charge, what would remain of the budget, and how accurate the result is expected to be.

A preview reads no personal data and reserves nothing, so it costs no budget; it is audited
(`gateway.preview.run`) so that an auditor sees what was considered. Every kind of spend uses the same
:func:`preview_spend`: the caller computes its expected accuracy from public parameters only (never from the
data, which would be a free answer) and passes it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.gateway.budget import delta_to_units, epsilon_to_micro
from governance.gateway.ledger import BudgetPreview, preview_budget

__all__ = ["PREVIEW_KINDS", "Preview", "preview_spend"]

PREVIEW_KINDS = ("dp_query", "training", "synthetic")


@dataclass(frozen=True, slots=True)
class Preview:
    """A dry run: the charge and the budget after it (``budget``), and the expected accuracy."""

    kind: str
    purpose: str
    budget: BudgetPreview
    accuracy: dict[str, Any]
    unit_of_privacy: str
    neighbouring: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "purpose": self.purpose,
            "epsilon": str(self.budget.epsilon_charged),
            "delta": str(self.budget.delta_charged),
            "budget": self.budget.as_dict(),
            "expected_accuracy": self.accuracy,
            "unit_of_privacy": self.unit_of_privacy,
            "neighbouring": self.neighbouring,
            "cost": "0",
        }


def preview_spend(
    session: Session,
    *,
    actor: Principal | ActorRef,
    kind: str,
    purpose: str,
    client_id: str,
    epsilon: Decimal,
    delta: Decimal,
    accuracy: dict[str, Any],
    unit_of_privacy: str = "subject",
    neighbouring: str = "one person's data added or removed",
) -> Preview:
    """Preview a spend of (epsilon, delta) by ``client_id`` for ``purpose`` and audit it in the caller's
    transaction. ``accuracy`` must come from public parameters only. Raises `BudgetNotConfiguredError`."""
    if kind not in PREVIEW_KINDS:
        raise ValueError(f"unknown preview kind {kind!r}")
    budget = preview_budget(session, purpose=purpose, client_id=client_id, epsilon=epsilon, delta=delta)
    audit.record(
        session,
        actor=actor,
        action="gateway.preview.run",
        target=("purpose", purpose),
        details={
            "kind": kind,
            "client_id": client_id,
            "epsilon_micro": epsilon_to_micro(epsilon),
            "delta_units": delta_to_units(delta),
            "allowed": budget.allowed,
        },
    )
    return Preview(
        kind=kind,
        purpose=purpose,
        budget=budget,
        accuracy=accuracy,
        unit_of_privacy=unit_of_privacy,
        neighbouring=neighbouring,
    )
