"""The data-category catalog (`policies/categories.yaml`): profile fields, event categories, identifiers.

Immutable once loaded. `load_catalog` raises `PolicyFileError` naming the file and line of any problem.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from governance.policyfiles import load_yaml

__all__ = ["CategoryCatalog", "EventCategory", "ProfileField", "ValueSpec", "load_catalog"]

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
FieldKind = Literal[
    "email",
    "person_name",
    "phone",
    "postal_address",
    "postal_code",
    "birth_date",
    "country",
    "language",
    "device_type",
    "text",
]
IdentifierClass = Literal["direct", "quasi", "none"]
COMMON_EVENT_CONTEXT = ("time_of_day", "device")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProfileField(_Frozen):
    """A profile field: how it is validated, how identifying it is, how support staff see it."""

    description: str = Field(min_length=3)
    kind: FieldKind
    identifier: IdentifierClass
    mask: Literal["partial", "full", "none"] = "full"
    blind_index: bool = False
    max_length: int = Field(default=200, ge=1, le=10_000)

    @model_validator(mode="after")
    def _direct_identifiers_are_masked(self) -> ProfileField:
        if self.identifier == "direct" and self.mask == "none":
            raise ValueError("a direct identifier must be masked (mask: partial or full)")
        return self


class ValueSpec(_Frozen):
    """The numeric value an event of a category carries (dwell time, amount, stars)."""

    name: Name
    min: float
    max: float
    required: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> ValueSpec:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class EventCategory(_Frozen):
    description: str = Field(min_length=3)
    item: bool = True
    value: ValueSpec | None = None
    context: tuple[Name, ...] = ()

    @property
    def context_keys(self) -> frozenset[str]:
        return frozenset(COMMON_EVENT_CONTEXT) | frozenset(self.context)


class CategoryCatalog(_Frozen):
    """Every data category the vault knows. Field and event-category names never overlap."""

    model_config = ConfigDict(frozen=True, extra="forbid", ignored_types=(cached_property,))

    schema_version: Literal[1]
    profile_fields: dict[Name, ProfileField] = Field(min_length=1)
    event_categories: dict[Name, EventCategory] = Field(min_length=1)
    other_identifiers: dict[Name, IdentifierClass] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_are_unique(self) -> CategoryCatalog:
        clash = (set(self.profile_fields) & set(self.event_categories)) | (
            set(self.other_identifiers) & (set(self.profile_fields) | set(self.event_categories))
        )
        if clash:
            raise ValueError(f"names used twice: {', '.join(sorted(clash))}")
        return self

    @cached_property
    def direct_identifiers(self) -> frozenset[str]:
        """Fields and attributes that identify a person on their own (email, name, ..., external_ref)."""
        return self._identifiers("direct")

    @cached_property
    def quasi_identifiers(self) -> frozenset[str]:
        """Fields and attributes that identify in combination (birth_date, postal_code, ..., timestamps)."""
        return self._identifiers("quasi")

    def _identifiers(self, kind: str) -> frozenset[str]:
        fields = {name for name, spec in self.profile_fields.items() if spec.identifier == kind}
        others = {name for name, cls in self.other_identifiers.items() if cls == kind}
        return frozenset(fields | others)

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(self.profile_fields)

    @property
    def event_category_names(self) -> frozenset[str]:
        return frozenset(self.event_categories)

    @property
    def blind_indexed_fields(self) -> frozenset[str]:
        return frozenset(name for name, spec in self.profile_fields.items() if spec.blind_index)


def load_catalog(path: Path) -> CategoryCatalog:
    """Load and validate the catalog; raises `governance.policyfiles.PolicyFileError` (file and line)."""
    return load_yaml(path, CategoryCatalog)
