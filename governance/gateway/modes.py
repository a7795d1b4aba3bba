"""Release modes: what kind of data a release is, its unit of privacy, its guarantee and what that does not cover.

One place for the mode enum: the spec, the manifest, the API, the console and the person's "how my data is used"
page all read it from here. A new mode adds a member and a `ModeInfo` entry (and its builder); the rest of the
gateway follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["MODES", "REQUESTABLE_MODES", "ModeInfo", "ReleaseMode", "mode_info", "mode_of"]


class ReleaseMode(StrEnum):
    PSEUDONYMIZED_ROWS = "pseudonymized_rows"  # row-level data under pseudonyms: personal data
    DP_SYNTHETIC = "dp_synthetic"  # synthetic rows from a differentially private generator
    TRAINING_INPUT = "training_input"  # rows read by a DP training job inside the service; never leaves it


# What a client may ask for through POST /api/v1/datasets (training input is the training domain's own read).
REQUESTABLE_MODES: tuple[ReleaseMode, ...] = (ReleaseMode.PSEUDONYMIZED_ROWS, ReleaseMode.DP_SYNTHETIC)


@dataclass(frozen=True, slots=True)
class ModeInfo:
    """How a mode is labelled and what it promises (shown in the manifest, the API, the console, the dashboard)."""

    mode: ReleaseMode
    data_classification: str  # pseudonymized_personal_data | dp_synthetic_data | internal_training_input
    personal_data: bool
    label: str  # for people: the console and the dashboard
    unit_of_privacy: str
    guarantee: str
    not_covered: tuple[str, ...]

    def as_manifest(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "data_classification": self.data_classification,
            "personal_data": self.personal_data,
            "unit_of_privacy": self.unit_of_privacy,
            "guarantee": self.guarantee,
            "not_covered": list(self.not_covered),
        }


MODES: dict[ReleaseMode, ModeInfo] = {
    ReleaseMode.PSEUDONYMIZED_ROWS: ModeInfo(
        mode=ReleaseMode.PSEUDONYMIZED_ROWS,
        data_classification="pseudonymized_personal_data",
        personal_data=True,
        label="Pseudonymized personal data (row level, not anonymous)",
        unit_of_privacy="one person: everything the release (and every earlier release it can be joined with) "
        "holds about them",
        guarantee="every released person's footprint (the set of their generalized quasi-identifier "
        "combinations, over all their rows, profile fields found identifying in the data counted as "
        "quasi-identifiers) is shared by at least k released people, measured together with earlier "
        "releases to the same client that share pseudonyms or can be joined on event content",
        not_covered=(
            "content: who knows one of a person's event rows (item, value, exact time) can find all their rows",
            "how many rows a person has per quasi-identifier combination (the footprint is a set)",
            "attributes inferred from a group whose members share a value (l-diversity limits this only "
            "where the policy turns it on)",
            "releases to other clients combined with each other, and data the client has from elsewhere",
        ),
    ),
    ReleaseMode.DP_SYNTHETIC: ModeInfo(
        mode=ReleaseMode.DP_SYNTHETIC,
        data_classification="dp_synthetic_data",
        personal_data=False,
        label="Synthetic data from a differentially private generator",
        unit_of_privacy="one person: one bounded row per person (their profile fields in public categories and "
        "bucketed, top-coded event counts), added or removed",
        guarantee="(epsilon, delta)-differential privacy of the generator (OpenDP's MST; OpenDP's own zCDP "
        "accounting converted at delta), charged to the purpose's budget",
        not_covered=(
            "the public domain: categories, age bands and count buckets are declared in policies/gateway.yaml",
            "the utility report: computed on the real data, rounded to 0.01, not differentially private",
            "lineage and audit: the service records who was in the input (for the people's own dashboards, "
            "export and erasure); clients never see it",
            "population-level facts the synthetic data is meant to keep (a strong correlation is a correlation)",
            "events outside the released categories and time window, and anything released by other means",
        ),
    ),
    ReleaseMode.TRAINING_INPUT: ModeInfo(
        mode=ReleaseMode.TRAINING_INPUT,
        data_classification="internal_training_input",
        personal_data=True,
        label="Pseudonymized rows read by a training job inside the service (never released)",
        unit_of_privacy="one person (the trained model's differential privacy)",
        guarantee="row classes with fewer than k people are suppressed; the model card states the model's DP",
        not_covered=("the rows themselves are personal data and never leave the service",),
    ),
}


def mode_info(mode: str | ReleaseMode) -> ModeInfo:
    """The description of a mode; raises ``ValueError`` for an unknown one."""
    return MODES[ReleaseMode(mode)]


def mode_of(spec: dict[str, Any] | None) -> ReleaseMode:
    """The mode of a stored spec (releases made before modes existed were pseudonymized rows)."""
    return ReleaseMode((spec or {}).get("mode") or ReleaseMode.PSEUDONYMIZED_ROWS)
