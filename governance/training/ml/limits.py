"""Pure checks of the privacy parameters a training request asks for.

They never raise on bad input; they return the list of :class:`Refusal` so the caller can refuse the request with
every reason at once (``require_acceptable`` raises instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "DEFAULT_EPSILON_CAP",
    "PrivacyParametersRefusedError",
    "Refusal",
    "check_privacy_parameters",
    "max_delta",
    "require_acceptable",
]

DEFAULT_EPSILON_CAP = 10.0


@dataclass(frozen=True)
class Refusal:
    """One reason a request is refused: a stable ``code`` and a human ``reason`` (no personal data)."""

    code: str
    reason: str


class PrivacyParametersRefusedError(ValueError):
    """Raised by :func:`require_acceptable` when the requested epsilon/delta/data size are not acceptable."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("; ".join(r.reason for r in refusals))


def max_delta(n_examples: int) -> float:
    """The largest delta accepted for ``n_examples`` units of privacy: 1 / (10 N)."""
    if n_examples <= 0:
        return 0.0
    return 1.0 / (10.0 * n_examples)


def check_privacy_parameters(
    *,
    epsilon: float,
    delta: float,
    n_examples: int,
    epsilon_cap: float = DEFAULT_EPSILON_CAP,
    min_examples: int = 1,
    delta_required: bool = True,
) -> list[Refusal]:
    """Return why (epsilon, delta) may not be spent on ``n_examples`` units; an empty list means acceptable.

    ``delta_required=False`` is for pure epsilon-DP mechanisms (diffprivlib models), where delta must be 0.
    """
    refusals: list[Refusal] = []
    if not _finite(epsilon) or epsilon <= 0:
        refusals.append(Refusal("epsilon_invalid", "epsilon must be a positive finite number"))
    elif epsilon > epsilon_cap:
        refusals.append(Refusal("epsilon_above_cap", f"epsilon {epsilon:g} exceeds the policy cap of {epsilon_cap:g}"))
    if n_examples < min_examples:
        refusals.append(
            Refusal(
                "too_few_examples",
                f"the dataset has {n_examples} training examples; at least {min_examples} are needed",
            )
        )
    if not _finite(delta) or delta < 0 or delta >= 1:
        refusals.append(Refusal("delta_invalid", "delta must be a number in [0, 1)"))
    elif not delta_required:
        if delta != 0:
            refusals.append(Refusal("delta_not_zero", "this model kind gives pure epsilon-DP: delta must be 0"))
    elif delta == 0:
        refusals.append(Refusal("delta_invalid", "DP-SGD needs a positive delta"))
    elif n_examples > 0 and delta > max_delta(n_examples):
        refusals.append(
            Refusal(
                "delta_too_large",
                f"delta {delta:g} exceeds 1/(10*N) = {max_delta(n_examples):.3g} for N = {n_examples} examples",
            )
        )
    return refusals


def require_acceptable(**kwargs: float | int | bool) -> None:
    """Like :func:`check_privacy_parameters` but raises :class:`PrivacyParametersRefusedError` on any refusal."""
    refusals = check_privacy_parameters(**kwargs)  # type: ignore[arg-type]
    if refusals:
        raise PrivacyParametersRefusedError(refusals)


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
