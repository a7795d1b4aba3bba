"""`policies/requests.yaml`: its schema, its loading, and the deadline rules built from it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from governance.core.runtime import Slot
from governance.policyfiles import load_yaml
from governance.requests.deadlines import BusinessCalendar, DeadlineRule, Period

__all__ = ["RequestsPolicy", "RetentionException", "load_policy"]

#: reasons the service itself uses (the others are for staff to choose)
REQUIRED_REASONS = frozenset({"identity_not_verified", "subject_erased"})
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PeriodSpec(_Strict):
    """Exactly one of months, days or business_days."""

    months: int | None = Field(default=None, ge=0, le=24)
    days: int | None = Field(default=None, ge=0, le=730)
    business_days: int | None = Field(default=None, ge=0, le=500)

    @model_validator(mode="after")
    def _one_unit(self) -> PeriodSpec:
        if sum(v is not None for v in (self.months, self.days, self.business_days)) != 1:
            raise ValueError("give exactly one of months, days, business_days")
        return self

    def to_period(self) -> Period:
        if self.months is not None:
            return Period(self.months, "months")
        if self.days is not None:
            return Period(self.days, "days")
        return Period(self.business_days or 0, "business_days")


class ExtensionSpec(_Strict):
    max_total: PeriodSpec
    max_times: int | None = Field(default=None, ge=1)


class CalendarSpec(_Strict):
    weekend: list[Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]] = [
        "saturday",
        "sunday",
    ]
    holidays: list[date] = []

    @field_validator("weekend")
    @classmethod
    def _not_all_week(cls, value: list[str]) -> list[str]:
        if len(set(value)) >= 7:
            raise ValueError("a week needs at least one business day")
        return value

    def to_calendar(self) -> BusinessCalendar:
        return BusinessCalendar(
            weekend=frozenset(_WEEKDAYS.index(day) for day in self.weekend), holidays=frozenset(self.holidays)
        )


class JurisdictionSpec(_Strict):
    title: str
    applies_to: list[str] = Field(min_length=1)
    timezone: str = "UTC"
    respond_within: PeriodSpec
    confirm_within: PeriodSpec | None = None
    extension: ExtensionSpec | None = None
    business_calendar: CalendarSpec = CalendarSpec()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _units_agree(self) -> JurisdictionSpec:
        respond = self.respond_within.to_period()
        if respond.unit == "business_days":
            raise ValueError("respond_within must be in months or days")
        if self.extension and self.extension.max_total.to_period().unit != respond.unit:
            raise ValueError("extension.max_total must use the same unit as respond_within")
        return self


class RetainFor(_Strict):
    years: int = Field(ge=0, le=100)


class RetentionException(_Strict):
    category: str = Field(min_length=1)
    basis: Literal["legal_obligation", "legal_claims", "public_interest", "freedom_of_expression"]
    reason: str = Field(min_length=10)
    retain_for: RetainFor
    jurisdictions: list[str] = Field(min_length=1)


class ExportSpec(_Strict):
    bundle_retention_days: int = Field(ge=1, le=30)
    download_link_minutes: int = Field(ge=1, le=24 * 60)


class ErasureSpec(_Strict):
    processor_wait_hours: int = Field(ge=0, le=24 * 30)


class RequestsPolicy(_Strict):
    """The validated content of `policies/requests.yaml`."""

    version: Literal[1]
    default_jurisdiction: str
    jurisdictions: dict[str, JurisdictionSpec] = Field(min_length=1)
    retention_exceptions: list[RetentionException] = []
    rejection_reasons: dict[str, str] = Field(min_length=1)
    export: ExportSpec
    erasure: ErasureSpec
    _rules: dict[str, DeadlineRule] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> RequestsPolicy:
        if self.default_jurisdiction not in self.jurisdictions:
            raise ValueError(f"default_jurisdiction {self.default_jurisdiction!r} is not a listed jurisdiction")
        seen: dict[str, str] = {}
        for name, spec in self.jurisdictions.items():
            for region in spec.applies_to:
                if region in seen:
                    raise ValueError(f"region {region!r} is claimed by both {seen[region]} and {name}")
                seen[region] = name
        missing = REQUIRED_REASONS - set(self.rejection_reasons)
        if missing:
            raise ValueError(f"rejection_reasons must include {sorted(missing)}")
        for exception in self.retention_exceptions:
            unknown = set(exception.jurisdictions) - set(self.jurisdictions)
            if unknown:
                raise ValueError(f"retention exception for {exception.category!r} names unknown {sorted(unknown)}")
        return self

    # --- what the service asks ------------------------------------------------------------------------------

    def jurisdiction_for(self, region: str | None) -> str:
        """The rule name for a subject's region (the vault's `jurisdiction`), or the default."""
        for name, spec in self.jurisdictions.items():
            if region in spec.applies_to:
                return name
        return self.default_jurisdiction

    def rule(self, jurisdiction: str) -> DeadlineRule:
        """The deadline rule of a jurisdiction (KeyError when unknown)."""
        if jurisdiction not in self._rules:
            self._rules[jurisdiction] = _rule(self.jurisdictions[jurisdiction], jurisdiction)
        return self._rules[jurisdiction]

    def retention_for(self, jurisdiction: str) -> list[RetentionException]:
        """The retention exceptions that apply to subjects of this jurisdiction."""
        return [e for e in self.retention_exceptions if jurisdiction in e.jurisdictions]


def _rule(spec: JurisdictionSpec, jurisdiction: str) -> DeadlineRule:
    return DeadlineRule(
        jurisdiction=jurisdiction,
        respond_within=spec.respond_within.to_period(),
        confirm_within=spec.confirm_within.to_period() if spec.confirm_within else None,
        extension_max=spec.extension.max_total.to_period() if spec.extension else None,
        extension_max_times=spec.extension.max_times if spec.extension else None,
        business_calendar=spec.business_calendar.to_calendar(),
        timezone=spec.timezone,
    )


def load_policy(policies_dir: Path) -> RequestsPolicy:
    """Load and validate `<policies_dir>/requests.yaml`; raises `PolicyFileError` naming the file and line."""
    return load_yaml(policies_dir / "requests.yaml", RequestsPolicy)


# the app's policies/requests.yaml (filled at start-up from the configured policies folder)
REQUESTS_POLICY = Slot("requests.policy", RequestsPolicy)
