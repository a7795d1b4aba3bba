"""A training job's privacy budget through the gateway's ledger: reserved at submission, settled exactly once
(committed at what training spent, or refunded whole)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from sqlalchemy.orm import Session

from governance.gateway import service as gateway
from governance.training.models import TrainingJob

__all__ = ["EPSILON_QUANTUM", "as_decimal", "settle", "spent_epsilon"]

EPSILON_QUANTUM = Decimal("0.000001")


def as_decimal(value: float) -> Decimal:
    """The float as the ledger's Decimal, digit for digit (``repr``, not the binary expansion)."""
    return Decimal(repr(float(value)))


def spent_epsilon(epsilon: float, target: Decimal) -> Decimal:
    """The spend to commit: the accountant's epsilon rounded UP to 1e-6, never above what was reserved."""
    return min(Decimal(repr(float(epsilon))).quantize(EPSILON_QUANTUM, rounding=ROUND_CEILING), target)


def settle(session: Session, job: TrainingJob, *, epsilon: Decimal | None, delta: Decimal | None) -> None:
    """Commit the spend (or refund the whole reservation when nothing was spent) exactly once."""
    if job.budget_settled or job.reservation_id is None:
        return
    if epsilon is None or epsilon <= 0:
        gateway.refund_budget(session, job.reservation_id)
        job.epsilon_spent, job.delta_spent = "0", "0"
    else:
        gateway.commit_budget(session, job.reservation_id, epsilon_spent=epsilon, delta_spent=delta or Decimal(0))
        job.epsilon_spent, job.delta_spent = str(epsilon), str(delta or Decimal(0))
    job.budget_settled = True
