"""The gateway's policy (`policies/gateway.yaml`), validated with pydantic; loaded once at start-up.

Per-purpose budgets, k and the stable-pseudonym switch live in each purpose's `gateway` block of
`policies/purposes.yaml` (owned by consent); this file adds generalization rules, l-diversity, per-client
budget shares and stable-pseudonym grants, the accounting method and query limits.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from governance.core.runtime import Slot, runtime
from governance.gateway.generalize import RULE_KINDS, RULE_OPTIONS, GeneralizationRule
from governance.policyfiles import load_yaml

__all__ = [
    "ClientGrant",
    "GatewayPolicyFile",
    "QuasiIdentifierRule",
    "SyntheticField",
    "SyntheticPolicy",
    "gateway_policy",
    "load_gateway_policy",
]

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuasiIdentifierRule(_Frozen):
    model_config = ConfigDict(frozen=True, extra="allow")

    rule: Literal[RULE_KINDS]  # type: ignore[valid-type]

    def to_rule(self, column: str) -> GeneralizationRule:
        options: dict[str, Any] = dict(self.model_extra or {})
        unknown = sorted(set(options) - RULE_OPTIONS[self.rule])
        if unknown:
            raise ValueError(f"unknown options for {self.rule}: {', '.join(unknown)}")
        rule = GeneralizationRule(column, self.rule, options)
        rule.bind(as_of=dt.date(2000, 1, 1))  # raises on bad option values early
        return rule


class BudgetShare(_Frozen):
    epsilon: Decimal = Field(gt=0, le=100)
    delta: Decimal = Field(ge=0, lt=1)


class ClientGrant(_Frozen):
    stable_pseudonyms: bool = False
    budget: BudgetShare | None = None
    # may receive row-level pseudonymized personal data for this purpose (where the purpose says `granted`)
    pseudonymized_personal_data: bool = False


class LDiversity(_Frozen):
    attribute: Name
    l: int = Field(ge=2, le=100)  # noqa: E741 - the literature's letter


BudgetWindow = Literal["none", "day", "week", "month"]


class PurposeAdditions(_Frozen):
    l_diversity: LDiversity | None = None
    # the purpose's budget (and its clients' shares) starts afresh each window; the loss over T windows is the
    # sum of the per-window losses (docs/gateway.md)
    budget_window: BudgetWindow = "none"
    # Which clients may receive row-level pseudonymized personal data (mode pseudonymized_rows) for this
    # purpose: none (the default), every client registered for the purpose, or only clients granted it below.
    pseudonymized_personal_data: Literal["none", "registered_clients", "granted_clients"] = "none"


class Accounting(_Frozen):
    method: Literal["basic", "zcdp"] = "zcdp"
    conversion_delta_fraction: Decimal = Field(default=Decimal("0.1"), gt=0, lt=1)


class DPQueryLimits(_Frozen):
    max_epsilon_per_query: Decimal = Field(default=Decimal("2.0"), gt=0, le=10)
    max_rows_per_subject: int = Field(default=100, ge=1, le=1000)


class IdentifyingPower(_Frozen):
    """When a released field that is not a declared quasi-identifier is counted as one (rows mode): measured on
    the release's population, per person, against the declared quasi-identifiers."""

    max_newly_singled_out_fraction: float = Field(default=0.0, ge=0, le=1)
    max_conditional_entropy_bits: float = Field(default=1.0, ge=0, le=64)
    action: Literal["count_as_quasi_identifier", "refuse"] = "count_as_quasi_identifier"


class SyntheticField(_Frozen):
    """The public domain of one profile field in a DP synthetic release: its categories, declared here and never
    read from the data (values outside them become null)."""

    keys: tuple[Annotated[str, StringConstraints(min_length=1, max_length=64)], ...] = Field(
        min_length=1, max_length=300
    )

    @model_validator(mode="after")
    def _distinct(self) -> SyntheticField:
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("keys must be distinct")
        return self


class SyntheticPolicy(_Frozen):
    """DP synthetic releases (governance.gateway.synthetic): limits and the public domain of each column."""

    max_epsilon: Decimal = Field(default=Decimal("4.0"), gt=0, le=10)
    default_delta: Decimal = Field(default=Decimal("1e-7"), gt=0, le=Decimal("0.0001"))
    event_count_cuts: tuple[int, ...] = (1, 3, 10, 30)
    profile_fields: dict[Name, SyntheticField] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cuts_increase(self) -> SyntheticPolicy:
        cuts = self.event_count_cuts
        if not cuts or cuts[0] < 1 or any(b <= a for a, b in itertools.pairwise(cuts)):
            raise ValueError("event_count_cuts must be increasing integers from 1")
        return self


class GatewayPolicyFile(_Frozen):
    """The shape of `policies/gateway.yaml`."""

    schema_version: Literal[1]
    default_k: int = Field(default=10, ge=2, le=10_000)
    quasi_identifiers: dict[Name, QuasiIdentifierRule]
    released_event_context: tuple[Name, ...] = ()
    identifying_power: IdentifyingPower = IdentifyingPower()
    accounting: Accounting = Accounting()
    dp_queries: DPQueryLimits = DPQueryLimits()
    purposes: dict[Name, PurposeAdditions] = Field(default_factory=dict)
    clients: dict[ClientId, dict[Name, ClientGrant]] = Field(default_factory=dict)
    release_download_ttl_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    release_file_retention_days: int = Field(default=7, ge=1, le=366)
    synthetic: SyntheticPolicy = SyntheticPolicy()

    @model_validator(mode="after")
    def _rules_bind(self) -> GatewayPolicyFile:
        for column, rule in self.quasi_identifiers.items():
            try:
                rule.to_rule(column)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"quasi_identifiers.{column}: invalid options ({exc})") from exc
        return self

    def generalization_rules(self) -> tuple[GeneralizationRule, ...]:
        return tuple(rule.to_rule(column) for column, rule in self.quasi_identifiers.items())

    def budget_window(self, purpose: str) -> BudgetWindow:
        additions = self.purposes.get(purpose)
        return additions.budget_window if additions is not None else "none"

    def client_grant(self, client_id: str, purpose: str) -> ClientGrant | None:
        return self.clients.get(client_id, {}).get(purpose)

    def permits_pseudonymized_data(self, client_id: str, purpose: str) -> bool:
        """Whether `client_id` may receive row-level pseudonymized personal data for `purpose`."""
        additions = self.purposes.get(purpose)
        allowed = additions.pseudonymized_personal_data if additions else "none"
        if allowed == "registered_clients":
            return True
        grant = self.client_grant(client_id, purpose)
        return allowed == "granted_clients" and grant is not None and grant.pseudonymized_personal_data


def load_gateway_policy(path: Path) -> GatewayPolicyFile:
    """Load and validate; raises `governance.policyfiles.PolicyFileError` naming file and line."""
    return load_yaml(path, GatewayPolicyFile)


# where the app's loaded policies/gateway.yaml lives (filled by the gateway's start-up, read by gateway_policy())
GATEWAY_POLICY = Slot("gateway.policy", GatewayPolicyFile)


def gateway_policy() -> GatewayPolicyFile:
    """The app's `policies/gateway.yaml` (from its configured policies folder); raises outside an app."""
    return runtime().get(GATEWAY_POLICY)
