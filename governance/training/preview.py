"""Previews of training jobs before any epsilon is spent: the charge, the budget left, and the expected noise.

Pure Python (no torch, opacus or scipy: it runs in a web worker). The noise multiplier comes from an RDP
accountant of the Poisson-subsampled Gaussian mechanism at integer orders (Mironov, Talwar and Zhang 2019,
with the conversion Opacus uses, Balle et al. 2020). It is an upper bound on what the job will use: the job
calibrates with Opacus's PRV accountant, which is tighter, so its noise multiplier is at most this one. The
sample rate needs a dataset size, which is private: the caller gives ``assumed_people`` (its own public guess);
without it the noise is not estimated. Nothing here reads personal data.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["batches_per_epoch", "expected_training_noise", "noise_multiplier_rdp", "rdp_epsilon"]

ORDERS = tuple(range(2, 257))


def batches_per_epoch(public_examples: int, batch_size: int) -> int:
    """k in the Poisson sampling rate q = 1/k (as in governance.training.ml.dpsgd)."""
    # at least 2: q = 1 would be no sampling at all (and PRV's discretization divides by log(1 - q))
    return max(2, round(public_examples / batch_size))


def _log_add(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = max(a, b), min(a, b)
    return high + math.log1p(math.exp(low - high))


def _rdp_step(q: float, sigma: float, alpha: int) -> float:
    """RDP of one Poisson-subsampled Gaussian step at integer order alpha."""
    if q >= 1.0:
        return alpha / (2 * sigma**2)
    log_a = -math.inf
    for k in range(alpha + 1):
        term = (
            math.lgamma(alpha + 1)
            - math.lgamma(k + 1)
            - math.lgamma(alpha - k + 1)
            + (alpha - k) * math.log1p(-q)
            + (k * math.log(q) if k else 0.0)
            + (k * k - k) / (2 * sigma**2)
        )
        log_a = _log_add(log_a, term)
    return log_a / (alpha - 1)


def rdp_epsilon(*, noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """(epsilon, delta)-DP of ``steps`` subsampled Gaussian steps, from RDP at integer orders 2..256."""
    best = math.inf
    for alpha in ORDERS:
        rdp = steps * _rdp_step(sample_rate, noise_multiplier, alpha)
        eps = rdp - (math.log(delta) + math.log(alpha)) / (alpha - 1) + math.log((alpha - 1) / alpha)
        best = min(best, eps)
    return max(best, 0.0)


def noise_multiplier_rdp(*, epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """The smallest noise multiplier (to 0.1%) whose RDP epsilon is at most ``epsilon``."""
    low, high = 0.05, 1.0
    while rdp_epsilon(noise_multiplier=high, sample_rate=sample_rate, steps=steps, delta=delta) > epsilon:
        high *= 2
        if high > 1e4:
            raise ValueError("no noise multiplier reaches this epsilon")
    while high - low > 1e-3 * high:
        middle = (low + high) / 2
        if rdp_epsilon(noise_multiplier=middle, sample_rate=sample_rate, steps=steps, delta=delta) > epsilon:
            low = middle
        else:
            high = middle
    return high


def expected_training_noise(
    *,
    kind: str,
    epsilon: float,
    delta: float,
    epochs: int,
    batch_size: int,
    max_grad_norm: float,
    holdout_fraction: float,
    assumed_people: int | None,
) -> dict[str, Any]:
    """The noise a job will add, from its public parameters (and the caller's assumed number of people)."""
    if kind not in ("classifier", "recommender"):
        return {
            "mechanism": "diffprivlib (pure epsilon-DP)",
            "epsilon_training": epsilon,
            "note": "objective perturbation / noisy sufficient statistics: noise scales with 1 / (epsilon * N)",
        }
    out: dict[str, Any] = {
        "mechanism": "DP-SGD (Opacus), Poisson sampling",
        "epsilon_training": epsilon,
        "expected_batch_size": batch_size,
        "gradient_normalizer": batch_size,
        "max_grad_norm": max_grad_norm,
        "assumed_people": assumed_people,
        "noise_multiplier_upper_bound": None,
    }
    if not assumed_people:
        out["note"] = "give assumed_people (a public guess) to estimate the noise: the sample rate depends on it"
        return out
    examples = round(assumed_people * (1 - holdout_fraction)) if kind == "classifier" else assumed_people
    k = batches_per_epoch(max(examples, 1), batch_size)
    sigma = noise_multiplier_rdp(epsilon=epsilon, delta=delta, sample_rate=1 / k, steps=epochs * k)
    out.update(
        {
            "sample_rate": 1 / k,
            "steps": epochs * k,
            "noise_multiplier_upper_bound": sigma,
            "accountant": "RDP at integer orders (the job's PRV calibration gives at most this)",
            "noise_std_on_gradient_sum": sigma * max_grad_norm,
            "noise_std_on_mean_gradient": sigma * max_grad_norm / batch_size,
        }
    )
    return out
