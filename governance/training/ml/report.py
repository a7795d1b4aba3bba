"""The model card: privacy report, data, metrics, library versions and the truth about the random generator."""

from __future__ import annotations

import platform
from datetime import datetime
from importlib import metadata
from typing import Any

from governance.training.ml.result import TrainedModel

__all__ = ["LIBRARIES", "RNG_STATEMENT", "library_versions", "model_card"]

LIBRARIES = ("torch", "opacus", "diffprivlib", "scikit-learn", "numpy", "scipy", "safetensors")

RNG_STATEMENT = (
    "Opacus's secure mode needs torchcsprng, which is not published for current PyTorch releases, so this model "
    "was trained with secure_mode off: the Gaussian noise and the Poisson sampling come from PyTorch's standard "
    "Mersenne Twister generator, seeded with 63 bits from the operating system's CSPRNG that are never stored or "
    "reported. The DP guarantee holds against an adversary who cannot predict that generator; it is not hardened "
    "against floating-point attacks on the noise (Mironov 2012)."
)
DPL_RNG_STATEMENT = (
    "diffprivlib draws its noise from Python's secrets module (a CSPRNG) when no random_state is fixed; its "
    "floating-point mechanisms follow diffprivlib's published implementations."
)
FIXED_SEED_WARNING = (
    "TEST ONLY: the noise/sampling seed was fixed by the caller, so anyone who knows it can reproduce the noise; "
    "this model carries no differential privacy guarantee."
)
NOT_COVERED = (
    "Not covered by the guarantee: held-out metrics (computed on records excluded from training, aggregated) and "
    "the per-epoch training loss shown as progress. Both are aggregates released only to the submitting client. "
    "Counts of people and rows are released with DP noise charged to this job (data.counts), never exactly."
)


def library_versions() -> dict[str, str]:
    """Installed versions, read from package metadata (imports nothing heavy)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def model_card(
    model: TrainedModel,
    *,
    dataset: dict[str, Any] | None = None,
    consent_snapshot_at: datetime | None = None,
    counts: dict[str, Any] | None = None,
    purpose: str | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """A JSON-ready model card for ``model``: privacy report, data, metrics, libraries, seed, caveats.

    ``dataset`` is the gateway release manifest (release id, spec, field list) without exact counts; ``counts``
    the DP counts of people and rows (governance.training.ml.counts). No exact count of the data is published.
    """
    privacy = dict(model.privacy)
    opacus_model = "noise_multiplier" in privacy
    caveats = [RNG_STATEMENT if opacus_model else DPL_RNG_STATEMENT, NOT_COVERED]
    if privacy.get("noise_seed_fixed"):
        caveats.insert(0, FIXED_SEED_WARNING)
    if model.stopped_early:
        caveats.append("Training was cancelled: epsilon is what the completed steps actually spent.")
    return {
        "model": {"kind": model.kind, "architecture": model.architecture, "label": label, "purpose": purpose},
        "privacy": {
            **privacy,
            "unit_of_privacy": model.unit_of_privacy,
            "secure_rng": False if opacus_model else not privacy.get("noise_seed_fixed", False),
            "rng_statement": RNG_STATEMENT if opacus_model else DPL_RNG_STATEMENT,
        },
        "data": {
            "release": dataset,
            "consent_snapshot_at": consent_snapshot_at.isoformat() if consent_snapshot_at else None,
            "counts": counts,
            "n_subjects": counts["people"] if counts else None,
            "n_subjects_method": "dp (see counts)" if counts else None,
        },
        "metrics": model.metrics,
        "libraries": library_versions(),
        "seed": model.seed,
        "caveats": caveats,
        "notes": list(model.notes),
    }
