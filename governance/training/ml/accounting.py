"""Epsilon from (noise multiplier, sample rate, steps, delta), computed by Opacus's own accountants.

Kept apart from the training loop so an auditor (and the tests) can recompute a report's epsilon from the four
numbers it states.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

__all__ = ["ACCOUNTANTS", "RDP_ORDERS", "epsilon_for", "quiet_accountant_warnings"]

Accountant = Literal["prv", "rdp"]
ACCOUNTANTS: tuple[Accountant, ...] = ("prv", "rdp")
RDP_ORDERS: list[float] = (
    [1 + x / 10.0 for x in range(1, 100)] + [float(a) for a in range(11, 64)] + [float(a) for a in range(64, 1025, 8)]
)


def epsilon_for(
    *, noise_multiplier: float, sample_rate: float, steps: int, delta: float, accountant: Accountant = "prv"
) -> float:
    """Epsilon spent by ``steps`` Poisson-subsampled Gaussian steps, as Opacus's ``accountant`` reports it.

    Zero steps spend nothing. The PRV result is Opacus's upper bound (what ``PrivacyEngine.get_epsilon`` returns).
    """
    if steps <= 0:
        return 0.0
    # deferred: heavy: opacus stays out of web workers
    from opacus.accountants import create_accountant

    acct = create_accountant(mechanism=accountant)
    acct.history = [(noise_multiplier, sample_rate, steps)]
    with quiet_accountant_warnings():
        if accountant == "rdp":
            # Opacus's default orders stop at 63; large noise needs higher orders for a tight bound.
            return float(acct.get_epsilon(delta=delta, alphas=RDP_ORDERS))
        return float(acct.get_epsilon(delta=delta))


@contextmanager
def quiet_accountant_warnings() -> Iterator[None]:
    """Silence the RDP "optimal order is the largest alpha" warning.

    The PRV accountant raises it internally while sizing its discretization domain (an RDP bound used only to
    choose a safe range); it says nothing about the epsilon reported, so it should not fill the worker's log.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha", category=UserWarning)
        yield
