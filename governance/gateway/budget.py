"""Privacy budget arithmetic: exact storage, basic composition and zCDP accounting.

Amounts are stored as integers: epsilon in micro-units (1e-6) and delta in femto-units (1e-15), always
rounded UP when converted from a decimal, so the ledger never under-counts and never drifts. Totals keep
four sums: pure (delta = 0) spends' epsilons and their squares, approximate spends' epsilons, and deltas.

Basic composition: (sum of epsilons, sum of deltas). zCDP: a pure epsilon-DP spend is (epsilon^2 / 2)-zCDP
(Bun and Steinke 2016, Prop. 1.4); rho adds up; rho-zCDP gives (rho + 2 sqrt(rho ln(1/delta')), delta')-DP
(Prop. 1.3). The composed epsilon is the smaller of the two valid bounds; under zCDP accounting the
conversion delta' is charged once as soon as there is a pure spend, so the reported pair holds whichever
bound is smaller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Context, Decimal, InvalidOperation, localcontext
from typing import Literal

__all__ = [
    "DELTA_SCALE",
    "EPSILON_SCALE",
    "Accounting",
    "Budget",
    "Spend",
    "Totals",
    "composed",
    "delta_from_units",
    "delta_to_units",
    "epsilon_from_micro",
    "epsilon_to_micro",
]

EPSILON_SCALE = 10**6
DELTA_SCALE = 10**15
Accounting = Literal["basic", "zcdp"]


def _to_scaled(value: Decimal | str | int | float, scale: int, what: str) -> int:
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise ValueError(f"{what} is not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a finite number >= 0")
    scaled = (amount * scale).to_integral_value(rounding=ROUND_CEILING)
    return int(scaled)


def epsilon_to_micro(value: Decimal | str | int | float) -> int:
    """Epsilon as integer micro-units, rounded up."""
    return _to_scaled(value, EPSILON_SCALE, "epsilon")


def delta_to_units(value: Decimal | str | int | float) -> int:
    """Delta as integer 1e-15 units, rounded up."""
    return _to_scaled(value, DELTA_SCALE, "delta")


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (``0.25``, ``10``, ``0.0000001``)."""
    return Decimal(format(value.normalize(), "f"))


def epsilon_from_micro(micro: int) -> Decimal:
    return _plain(Decimal(micro).scaleb(-6))


def delta_from_units(units: int) -> Decimal:
    return _plain(Decimal(units).scaleb(-15))


@dataclass(frozen=True, slots=True)
class Spend:
    """One reservation or charge. ``pure`` when delta is zero (Laplace, geometric, exponential mechanisms)."""

    epsilon_micro: int
    delta_units: int = 0

    @property
    def pure(self) -> bool:
        return self.delta_units == 0

    @classmethod
    def of(cls, epsilon: Decimal | str | float, delta: Decimal | str | float = 0) -> Spend:
        return cls(epsilon_to_micro(epsilon), delta_to_units(delta))


@dataclass(frozen=True, slots=True)
class Totals:
    """Running sums of a budget (all integers, so additions and refunds are exact)."""

    pure_epsilon_micro: int = 0
    pure_epsilon_sq: int = 0  # sum of squared micro-epsilons (units of 1e-12)
    approx_epsilon_micro: int = 0
    delta_units: int = 0

    def plus(self, spend: Spend, sign: int = 1) -> Totals:
        if spend.pure:
            return Totals(
                self.pure_epsilon_micro + sign * spend.epsilon_micro,
                self.pure_epsilon_sq + sign * spend.epsilon_micro**2,
                self.approx_epsilon_micro,
                self.delta_units,
            )
        return Totals(
            self.pure_epsilon_micro,
            self.pure_epsilon_sq,
            self.approx_epsilon_micro + sign * spend.epsilon_micro,
            self.delta_units + sign * spend.delta_units,
        )

    def minus(self, spend: Spend) -> Totals:
        return self.plus(spend, -1)


@dataclass(frozen=True, slots=True)
class Budget:
    """A budget from policy: (epsilon, delta), the accounting, and the delta set aside for zCDP conversion."""

    epsilon_micro: int
    delta_units: int
    accounting: Accounting = "zcdp"
    conversion_delta_units: int = 0

    def __post_init__(self) -> None:
        if self.accounting == "zcdp" and not 0 < self.conversion_delta_units <= self.delta_units:
            raise ValueError("zCDP accounting needs a conversion delta within the budget's delta")

    @classmethod
    def of(
        cls,
        epsilon: Decimal | str | float,
        delta: Decimal | str | float,
        *,
        accounting: Accounting = "zcdp",
        conversion_delta: Decimal | str | float | None = None,
    ) -> Budget:
        delta_units = delta_to_units(delta)
        if conversion_delta is None:
            conversion_units = delta_units // 10 if accounting == "zcdp" else 0
        else:
            conversion_units = delta_to_units(conversion_delta)
        # a budget is a ceiling: round its epsilon DOWN so that rounding never grants extra budget
        epsilon_micro = int((Decimal(str(epsilon)) * EPSILON_SCALE).to_integral_value(rounding="ROUND_FLOOR"))
        return cls(epsilon_micro, delta_units, accounting, conversion_units)

    def spent(self, totals: Totals) -> tuple[int, int]:
        """(epsilon micro, delta units) spent under this budget's accounting."""
        return composed(totals, accounting=self.accounting, conversion_delta_units=self.conversion_delta_units)

    def allows(self, totals: Totals) -> bool:
        epsilon, delta = self.spent(totals)
        return epsilon <= self.epsilon_micro and delta <= self.delta_units

    def remaining(self, totals: Totals) -> tuple[int, int]:
        epsilon, delta = self.spent(totals)
        return max(self.epsilon_micro - epsilon, 0), max(self.delta_units - delta, 0)


def _zcdp_epsilon_micro(pure_epsilon_sq: int, conversion_delta_units: int) -> int:
    """Epsilon (micro, rounded up) of rho-zCDP at delta', rho = sum(eps^2)/2, in 60-digit decimals."""
    with localcontext(Context(prec=60)):
        rho = Decimal(pure_epsilon_sq).scaleb(-12) / 2
        log_term = (Decimal(DELTA_SCALE) / Decimal(conversion_delta_units)).ln()
        epsilon = rho + 2 * (rho * log_term).sqrt()
        micro = (epsilon * EPSILON_SCALE).to_integral_value(rounding=ROUND_CEILING)
    return int(micro)


def composed(totals: Totals, *, accounting: Accounting, conversion_delta_units: int = 0) -> tuple[int, int]:
    """(epsilon micro, delta units) of all spends in ``totals``: basic, or the tighter of basic and zCDP."""
    basic_epsilon = totals.pure_epsilon_micro + totals.approx_epsilon_micro
    if accounting == "basic" or totals.pure_epsilon_micro == 0:
        return basic_epsilon, totals.delta_units
    zcdp_epsilon = _zcdp_epsilon_micro(totals.pure_epsilon_sq, conversion_delta_units)
    return min(basic_epsilon, zcdp_epsilon + totals.approx_epsilon_micro), totals.delta_units + (conversion_delta_units)


def zcdp_break_even(epsilon: float, delta: float) -> int:
    """How many equal pure spends of ``epsilon`` it takes before zCDP beats basic composition."""
    n = 1
    while n < 10**7:
        rho = n * epsilon * epsilon / 2
        if rho + 2 * math.sqrt(rho * math.log(1 / delta)) < n * epsilon:
            return n
        n += 1
    return n
