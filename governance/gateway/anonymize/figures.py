"""What the manifest reports about one written release."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ReleaseFigures:
    """What the manifest reports about one written release."""

    format: str
    columns: list[str]
    rows_in: int = 0
    rows_released: int = 0
    rows_suppressed: int = 0
    subjects_in: int = 0
    subjects_released: int = 0
    k_required: int = 0
    k_achieved: int | None = None
    l_required: int | None = None
    l_achieved: int | None = None
    sensitive_attribute: str | None = None
    classes: int = 0
    classes_released: int = 0
    quasi_identifiers: list[str] = field(default_factory=list)
    generalization: dict[str, dict[str, Any]] = field(default_factory=dict)
    checksum_sha256: str = ""
    bytes: int = 0
    k_unit: str = "row_class"
    row_class_k_achieved: int | None = None
    quasi_identifiers_found: list[str] = field(default_factory=list)
    identifying_power: dict[str, Any] | None = None
    footprints: int | None = None
    footprints_released: int | None = None
    joint_prior_subjects: int = 0

    def as_manifest(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "columns": self.columns,
            "counts": {
                "rows_in": self.rows_in,
                "rows_released": self.rows_released,
                "rows_suppressed": self.rows_suppressed,
                "subjects_in": self.subjects_in,
                "subjects_released": self.subjects_released,
                "classes": self.classes,
                "classes_released": self.classes_released,
            },
            "k_anonymity": self._k_manifest(),
            "identifying_power": self.identifying_power,
            "l_diversity": None
            if self.l_required is None
            else {
                "attribute": self.sensitive_attribute,
                "l_required": self.l_required,
                "l_achieved": self.l_achieved,
            },
            "generalization": self.generalization,
            "checksum_sha256": self.checksum_sha256,
            "bytes": self.bytes,
        }

    def _k_manifest(self) -> dict[str, Any]:
        if self.k_unit != "person":
            return {
                "k_required": self.k_required,
                "k_achieved": self.k_achieved,
                "unit": "distinct subjects per quasi-identifier combination",
                "quasi_identifiers": self.quasi_identifiers,
            }
        return {
            "k_required": self.k_required,
            "k_achieved": self.k_achieved,
            "unit": "person",
            "footprint": "the set of a person's generalized quasi-identifier combinations over all their released "
            "rows (profile and event quasi-identifiers together), joined with their footprints in earlier "
            "releases this one can be joined with",
            "quasi_identifiers": self.quasi_identifiers,
            "quasi_identifiers_found_in_data": self.quasi_identifiers_found,
            "footprints": self.footprints,
            "footprints_released": self.footprints_released,
            "people_suppressed": self.subjects_in - self.subjects_released,
            "row_class_k_achieved": self.row_class_k_achieved,
            "people_in_earlier_joinable_releases": self.joint_prior_subjects,
        }
