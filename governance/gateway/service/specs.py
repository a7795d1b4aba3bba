"""What a client may ask for: the dataset spec, the policy check and minimization (`check_spec`), what a build
returns (`DatasetBuild`) and the builders of modes other than pseudonymized rows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from governance.consent import service as consent
from governance.gateway.errors import SpecNotAllowedError
from governance.gateway.modes import ReleaseMode
from governance.gateway.policy import GatewayPolicyFile, gateway_policy
from governance.vault import service as vault

if TYPE_CHECKING:
    from governance.consent.policy import Purpose
    from governance.vault.catalog import CategoryCatalog

EVENT_BASE_FIELDS = ("category", "occurred_at", "item", "value")
FORMATS = ("jsonl", "csv", "parquet")
PSEUDONYM_MODES = ("per_release", "stable")


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """What a client asks for. Event fields: category, occurred_at, item, value and released context keys."""

    purpose: str
    profile_fields: tuple[str, ...] = ()
    event_categories: tuple[str, ...] = ()
    event_fields: tuple[str, ...] = ("category", "occurred_at")
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    format: str = "jsonl"
    pseudonyms: str = "per_release"
    mode: str = ReleaseMode.PSEUDONYMIZED_ROWS.value

    @classmethod
    def of(cls, value: DatasetSpec | Mapping[str, Any]) -> DatasetSpec:
        if isinstance(value, DatasetSpec):
            return value
        data = dict(value)
        for key in ("profile_fields", "event_categories", "event_fields"):
            if key in data and data[key] is not None:
                data[key] = tuple(dict.fromkeys(data[key]))
        return cls(**{k: v for k, v in data.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "profile_fields": list(self.profile_fields),
            "event_categories": list(self.event_categories),
            "event_fields": list(self.event_fields) if self.event_categories else [],
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "format": self.format,
            "pseudonyms": self.pseudonyms,
            "mode": self.mode,
        }


@dataclass(slots=True)
class DatasetBuild:
    """A built dataset: the file, its manifest, and the lineage (ids of subjects with a row in it)."""

    path: Path
    format: str
    columns: list[str]
    manifest: dict[str, Any]
    subject_ids: list[uuid.UUID] = field(default_factory=list)
    consent_snapshot_at: dt.datetime | None = None
    pseudonym_mode: str = "per_release"
    footprints: dict[uuid.UUID, bytes] = field(default_factory=dict)  # released people's footprint digests

    @property
    def rows(self) -> int:
        return int(self.manifest["counts"]["rows_released"])


# Builders of modes other than pseudonymized rows (and training input), by mode value; a mode module registers
# itself here (see `register_mode_builder`).
_MODE_BUILDERS: dict[str, Callable[..., DatasetBuild]] = {}


def register_mode_builder(mode: ReleaseMode, builder: Callable[..., DatasetBuild]) -> None:
    """Register how releases of `mode` are built (same keyword arguments as `build_dataset`)."""
    _MODE_BUILDERS[mode.value] = builder


def mode_builder(mode: str) -> Callable[..., DatasetBuild] | None:
    """The registered builder of `mode`, or None (pseudonymized rows and training input are built here)."""
    return _MODE_BUILDERS.get(mode)


class _ClientLike(Protocol):
    # read-only members, so a frozen `Principal` matches
    @property
    def id(self) -> str: ...
    @property
    def purposes(self) -> frozenset[str]: ...


Problems = list[dict[str, str]]


def not_allowed(item: str, name: str, reason: str) -> dict[str, str]:
    """One entry of `SpecNotAllowedError`'s list."""
    return {"item": item, "name": name, "reason": reason}


def check_spec(purpose: str, client: _ClientLike, spec: DatasetSpec | Mapping[str, Any]) -> None:
    """Policy check and minimization. Raises `SpecNotAllowedError` listing everything not allowed."""
    spec = DatasetSpec.of(spec)
    policy = gateway_policy()
    problems: Problems = []
    found = consent.purposes().get(purpose)
    # A name the catalog does not know is the client's text: it is named by position, never echoed.
    if spec.purpose != purpose:
        problems.append(not_allowed("purpose", "purpose", "spec_for_another_purpose"))
    if found is None:
        raise SpecNotAllowedError([not_allowed("purpose", "purpose", "unknown_purpose")])
    if purpose not in client.purposes:
        problems.append(not_allowed("purpose", purpose, "client_not_registered_for_purpose"))
    if found.gateway is None:
        problems.append(not_allowed("purpose", purpose, "purpose_allows_no_releases"))
    catalog = vault.categories()
    problems.extend(_profile_problems(spec, found, catalog, policy))
    problems.extend(_event_problems(spec, found, catalog, policy))
    problems.extend(_format_problems(spec, client, purpose, found, policy))
    problems.extend(_mode_problems(spec, client, purpose, policy))
    if not spec.profile_fields and not spec.event_categories:
        problems.append(not_allowed("spec", "empty", "nothing_requested"))
    if spec.since and spec.until and spec.since >= spec.until:
        problems.append(not_allowed("window", "since/until", "empty_time_window"))
    if problems:
        raise SpecNotAllowedError(problems)


def _profile_problems(
    spec: DatasetSpec, found: Purpose, catalog: CategoryCatalog, policy: GatewayPolicyFile
) -> Problems:
    problems: Problems = []
    for index, name in enumerate(spec.profile_fields):
        if name in catalog.direct_identifiers:
            problems.append(not_allowed("profile_field", name, "direct_identifier"))
        elif name not in catalog.field_names:
            problems.append(not_allowed("profile_field", f"profile_fields[{index}]", "unknown_field"))
        elif name not in found.profile_fields:
            problems.append(not_allowed("profile_field", name, "not_allowed_for_purpose"))
        elif name in catalog.quasi_identifiers and name not in policy.quasi_identifiers:
            problems.append(not_allowed("profile_field", name, "quasi_identifier_without_generalization"))
    return problems


def _event_problems(spec: DatasetSpec, found: Purpose, catalog: CategoryCatalog, policy: GatewayPolicyFile) -> Problems:
    problems: Problems = []
    context_keys: set[str] = set()
    for index, name in enumerate(spec.event_categories):
        if name not in catalog.event_category_names:
            problems.append(not_allowed("event_category", f"event_categories[{index}]", "unknown_category"))
        elif name not in found.event_categories:
            problems.append(not_allowed("event_category", name, "not_allowed_for_purpose"))
        else:
            context_keys |= catalog.event_categories[name].context_keys
    releasable_context = context_keys & set(policy.released_event_context)
    for index, name in enumerate(spec.event_fields if spec.event_categories else ()):
        if name in EVENT_BASE_FIELDS:
            continue
        if name in catalog.direct_identifiers:
            problems.append(not_allowed("event_field", name, "direct_identifier"))
        elif name not in releasable_context:
            known = any(name in rule.context_keys for rule in catalog.event_categories.values())
            shown = name if known or name in catalog.field_names else f"event_fields[{index}]"
            problems.append(not_allowed("event_field", shown, "not_releasable"))
    return problems


def _format_problems(
    spec: DatasetSpec, client: _ClientLike, purpose: str, found: Purpose, policy: GatewayPolicyFile
) -> Problems:
    problems: Problems = []
    if spec.format not in FORMATS:
        problems.append(not_allowed("format", "format", "unknown_format"))
    if spec.pseudonyms not in PSEUDONYM_MODES:
        problems.append(not_allowed("pseudonyms", "pseudonyms", "unknown_mode"))
    elif spec.pseudonyms == "stable":
        grant = policy.client_grant(client.id, purpose)
        if found.gateway is None or not found.gateway.stable_pseudonyms or not (grant and grant.stable_pseudonyms):
            problems.append(not_allowed("pseudonyms", "stable", "stable_pseudonyms_not_granted"))
    return problems


def _mode_problems(spec: DatasetSpec, client: _ClientLike, purpose: str, policy: GatewayPolicyFile) -> Problems:
    """Row-level pseudonymized data goes only to purposes (and clients) whose policy permits personal data."""
    try:
        mode = ReleaseMode(spec.mode)
    except ValueError:
        return [not_allowed("mode", spec.mode, "unknown_mode")]
    if mode is ReleaseMode.PSEUDONYMIZED_ROWS and not policy.permits_pseudonymized_data(client.id, purpose):
        return [not_allowed("mode", mode.value, "pseudonymized_personal_data_not_permitted")]
    if mode is ReleaseMode.DP_SYNTHETIC and mode.value not in _MODE_BUILDERS:
        # its spec carries epsilon and delta: POST /api/v1/datasets/synthetic (governance.gateway.synthetic_release)
        return [not_allowed("mode", mode.value, "use_synthetic_endpoint")]
    return []
