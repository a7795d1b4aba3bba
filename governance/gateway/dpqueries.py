"""DP statistics queries as a service: policy check, budget reservation, the query, commit, audit; previews.

The three steps commit separately (reserve; compute; commit) so that a crash mid-query leaves the budget
reserved — counted as spent — never under-counted. No free answers: everything that can be refused is refused
before the reservation, from the query and policy alone. Once data has been read nothing is refunded: what
the data decides (no rows, one row, an exception while reading) is answered by the DP result (possibly a
noisy empty one) or, for an unexpected failure, charged in full, since the failure itself could depend on
the data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.consent import service as consent
from governance.db import transaction, utcnow
from governance.gateway.budget import delta_to_units, epsilon_to_micro
from governance.gateway.dp import (
    NEIGHBOURING,
    DPQuery,
    DPQueryError,
    DPResult,
    expected_accuracy,
    run_bounded_count,
    run_bounded_histogram,
    run_query,
)
from governance.gateway.errors import DPQueryRejectedError, SpecNotAllowedError
from governance.gateway.ledger import commit_budget, reserve_budget
from governance.gateway.models import DPQueryRecord
from governance.gateway.policy import gateway_policy
from governance.gateway.preview import Preview, preview_spend
from governance.vault import service as vault

__all__ = ["DPQueryRequest", "preview_dp_query", "run_dp_query"]

_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class DPQueryRequest:
    """A statistic over one source: an event category's value (or its events, for counts), age, or for a
    histogram ``over="occurred_at"`` the category's event times in [since, until)."""

    purpose: str
    statistic: str
    epsilon: Decimal
    event_category: str | None = None
    profile_value: str | None = None  # "age" (from birth_date)
    bounds: tuple[float, float] | None = None
    max_rows_per_subject: int = 1
    bins: int = 10
    quantiles: tuple[float, ...] = (0.5,)
    over: str = "value"  # "value" | "occurred_at"
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @property
    def over_time(self) -> bool:
        return self.over == "occurred_at"

    def parameters(self) -> dict[str, Any]:
        return {
            "source": {"event_category": self.event_category}
            if self.event_category
            else {"profile_value": self.profile_value},
            "over": self.over,
            "period": [self.since.isoformat(), self.until.isoformat()] if self.since and self.until else None,
            "bounds": list(self.bounds) if self.bounds else None,
            "max_rows_per_subject": self.max_rows_per_subject,
            "bins": self.bins if self.statistic == "histogram" else None,
            "quantiles": list(self.quantiles) if self.statistic == "quantiles" else None,
        }


def ledger_id(caller: Principal) -> str:
    """Whose account a DP query is charged to and recorded under: a client's id, or `staff:<id>` for a DPO
    (who has no share of their own: the query is charged to the purpose's budget, shared with every client)."""
    return caller.id if caller.kind == "client" else caller.owner_label


def _registered(caller: Principal, purpose: str) -> bool:
    """A client queries only for its registered purposes; a DPO (the only staff role holding `dpquery.run`)
    oversees every purpose, still within each purpose's budget."""
    return purpose in caller.purposes if caller.kind == "client" else caller.kind == "staff"


def _check(client: Principal, query: DPQueryRequest) -> None:
    policy = gateway_policy()
    problems: list[dict[str, str]] = []
    found = consent.purposes().get(query.purpose)
    if found is None:
        raise SpecNotAllowedError([{"item": "purpose", "name": query.purpose[:64], "reason": "unknown_purpose"}])
    if not _registered(client, query.purpose):
        problems.append({"item": "purpose", "name": query.purpose, "reason": "client_not_registered_for_purpose"})
    if (query.event_category is None) == (query.profile_value is None):
        raise DPQueryRejectedError("Give exactly one source: event_category or profile_value.")
    if query.event_category is not None and query.event_category not in found.event_categories:
        problems.append({"item": "event_category", "name": query.event_category, "reason": "not_allowed_for_purpose"})
    if query.profile_value is not None:
        if query.profile_value != "age":
            problems.append({"item": "profile_value", "name": query.profile_value, "reason": "unknown_value"})
        elif "birth_date" not in found.profile_fields:
            problems.append({"item": "profile_value", "name": "age", "reason": "not_allowed_for_purpose"})
    if problems:
        raise SpecNotAllowedError(problems)
    if query.epsilon > policy.dp_queries.max_epsilon_per_query:
        raise DPQueryRejectedError(
            f"epsilon above the per-query limit of {policy.dp_queries.max_epsilon_per_query}.",
            fields={"epsilon": "too large"},
        )
    if query.max_rows_per_subject > policy.dp_queries.max_rows_per_subject:
        raise DPQueryRejectedError(
            f"max_rows_per_subject above the limit of {policy.dp_queries.max_rows_per_subject}.",
            fields={"max_rows_per_subject": "too large"},
        )
    if query.over_time:
        _check_time_histogram(query)
        return
    if query.since is not None or query.until is not None:
        raise DPQueryRejectedError("since and until apply to a histogram over occurred_at only.")
    category = query.event_category
    if (
        query.statistic != "count"
        and category is not None
        and vault.categories().event_categories[category].value is None
    ):
        raise DPQueryRejectedError("This event category carries no numeric value; only count applies.")


def _check_time_histogram(query: DPQueryRequest) -> None:
    """A histogram of event times: the period is the bounds (public, the caller's), never taken from the data."""
    if query.statistic != "histogram" or query.event_category is None:
        raise DPQueryRejectedError("over occurred_at applies to a histogram of an event category only.")
    if query.bounds is not None:
        raise DPQueryRejectedError("A histogram over occurred_at takes since and until, not bounds.")
    if query.since is None or query.until is None or not query.since < query.until:
        raise DPQueryRejectedError(
            "A histogram over occurred_at needs since and until, with since before until.",
            fields={"since": "required", "until": "required"},
        )


def _age(birth_date: str, today: dt.date) -> float | None:
    try:
        born = dt.date.fromisoformat(birth_date[:10])
    except ValueError:
        return None
    return float(today.year - born.year - ((today.month, today.day) < (born.month, born.day)))


def collect_values(
    session_factory: Callable[[], Session], query: DPQueryRequest, *, now: dt.datetime
) -> Iterator[list[float]]:
    """Per permitted, non-erased subject, the values of the source (one list per subject; empty ones skipped)."""
    with session_factory() as session:
        ids = list(consent.iter_permitted_subjects(session, query.purpose, now=now))
    counting = query.statistic == "count"
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        with session_factory() as session:
            rows = list(
                vault.iter_release_rows(
                    session,
                    chunk,
                    fields=["birth_date"] if query.profile_value else [],
                    event_categories=[query.event_category] if query.event_category else [],
                    since=None,
                    until=None,
                )
            )
        for row in rows:
            if query.profile_value:
                age = _age(row.profile["birth_date"], now.date()) if "birth_date" in row.profile else None
                values = [age] if age is not None else []
            elif counting:
                values = [1.0] * len(row.events)
            else:
                values = [float(e.value) for e in row.events if e.value is not None]
            if values:
                yield values


def counts_in_clear(query: DPQueryRequest) -> bool:
    """A count of events reads only category and time, which the vault stores in clear: an SQL aggregate with
    the per-person bound in SQL answers it, nothing is decrypted."""
    return query.statistic == "count" and query.event_category is not None


def _permitted_ids(session: Session, purpose: str, now: dt.datetime) -> Any:
    """Consent's SELECT of the permitted ids, embedded in the vault's aggregate (one statement), or the ids
    themselves for a purpose consent cannot express as one SELECT."""
    ids: Any = consent.permitted_subjects_select(purpose, now=now)
    return list(consent.iter_permitted_subjects(session, purpose, now=now)) if ids is None else ids


def bounded_count(session_factory: Callable[[], Session], query: DPQueryRequest, *, now: dt.datetime) -> int:
    """The exact count of ``query`` (each permitted, non-erased subject's events of the category, at most
    ``max_rows_per_subject`` each), computed by the vault in SQL: equal to summing `collect_values`' bounded
    lists (tests/gateway/test_dp_sql_counts.py checks it on both databases)."""
    assert query.event_category is not None
    with session_factory() as session:
        return vault.bounded_event_count(
            session,
            _permitted_ids(session, query.purpose, now),
            category=query.event_category,
            max_rows_per_subject=query.max_rows_per_subject,
        )


def bounded_time_histogram(
    session_factory: Callable[[], Session], query: DPQueryRequest, *, now: dt.datetime
) -> list[int]:
    """The exact bin counts of a histogram over event times (each permitted, non-erased subject's events of the
    category in the period, at most N each), computed by the vault in SQL like `bounded_count`."""
    assert query.event_category is not None
    assert query.since is not None
    assert query.until is not None
    with session_factory() as session:
        return vault.bounded_event_histogram(
            session,
            _permitted_ids(session, query.purpose, now),
            category=query.event_category,
            since=query.since,
            until=query.until,
            bins=query.bins,
            max_rows_per_subject=query.max_rows_per_subject,
        )


def _compute(
    session_factory: Callable[[], Session], query: DPQueryRequest, dp_query: Any, random_state: int | None
) -> DPResult:
    now = utcnow()
    if counts_in_clear(query):
        return run_bounded_count(dp_query, bounded_count(session_factory, query, now=now), random_state=random_state)
    if query.over_time:
        counts = bounded_time_histogram(session_factory, query, now=now)
        return run_bounded_histogram(dp_query, counts, random_state=random_state)
    return run_query(dp_query, collect_values(session_factory, query, now=now), random_state=random_state)


def presented(query: DPQueryRequest, result: DPResult) -> dict[str, Any]:
    """The stored and answered result: a histogram over time gives its bounds and edges as RFC 3339 times, the
    edges the vault binned by."""
    out = result.as_dict()
    if query.over_time and query.since is not None and query.until is not None:
        edges = vault.time_bin_edges(query.since, query.until, query.bins)
        out["value"] = {**out["value"], "edges": [edge.astimezone(dt.UTC).isoformat() for edge in edges]}
        out["bounds"] = [out["value"]["edges"][0], out["value"]["edges"][-1]]
        out["over"] = "occurred_at"
    return out


def _dp_query(query: DPQueryRequest) -> Any:
    """The pure query, validated (raises `DPQueryRejectedError`: data-independent, nothing is spent)."""
    bounds = query.bounds
    if query.over_time and query.since is not None and query.until is not None:
        bounds = (query.since.timestamp(), query.until.timestamp())  # the bins are equal spans of seconds
    dp_query = DPQuery(
        statistic=query.statistic,  # type: ignore[arg-type]
        epsilon=query.epsilon,
        bounds=bounds,
        max_rows_per_subject=query.max_rows_per_subject,
        bins=query.bins,
        quantiles=query.quantiles,
    )
    try:
        dp_query.validate()
    except DPQueryError as exc:
        raise DPQueryRejectedError(str(exc)) from exc
    return dp_query


def preview_dp_query(
    session: Session, *, client: Principal, query: DPQueryRequest, assumed_rows: int | None = None
) -> Preview:
    """What ``query`` would charge, the budget left before and after, and its expected accuracy (from the
    query's parameters only; mean and variance at the caller's ``assumed_rows``). Reads no personal data,
    reserves nothing; audited in the caller's transaction. Raises what `run_dp_query` raises before spending
    (except `BudgetExhaustedError`: the preview says ``allowed: false`` instead)."""
    _check(client, query)
    dp_query = _dp_query(query)
    return preview_spend(
        session,
        actor=client,
        kind="dp_query",
        purpose=query.purpose,
        client_id=ledger_id(client),
        epsilon=query.epsilon,
        delta=Decimal(0),
        accuracy={"statistic": query.statistic, **expected_accuracy(dp_query, assumed_rows=assumed_rows)},
        unit_of_privacy="subject",
        neighbouring=NEIGHBOURING,
    )


def run_dp_query(
    session_factory: Callable[[], Session],
    *,
    client: Principal,
    query: DPQueryRequest,
    random_state: int | None = None,
) -> DPQueryRecord:
    """Check, reserve, compute, then commit; each step audited in its own transaction.

    Raises `SpecNotAllowedError`, `DPQueryRejectedError`, `BudgetExhaustedError` before anything is spent.
    After the reservation, the answer is always a charged DP result; an unexpected failure is charged in full
    (audited `gateway.dpquery.failed`) and re-raised.
    """
    _check(client, query)
    dp_query = _dp_query(query)
    query_id = uuid.uuid4()
    with transaction(session_factory()) as session:
        reservation_id = reserve_budget(
            session,
            purpose=query.purpose,
            client_id=ledger_id(client),
            epsilon=query.epsilon,
            delta=Decimal(0),
            reason="dp_query",
            ref=str(query_id),
            actor=client,
        )
    try:
        result = _compute(session_factory, query, dp_query, random_state)
    except BaseException:
        # never a refund once data was read: a refund would tell the caller something about the data for free
        with transaction(session_factory()) as session:
            commit_budget(session, reservation_id, epsilon_spent=query.epsilon, delta_spent=Decimal(0), actor=client)
            audit.record(
                session,
                actor=client,
                action="gateway.dpquery.failed",
                target=("dp_query", query_id),
                details={"purpose": query.purpose, "statistic": query.statistic, "charged": True},
            )
        raise
    with transaction(session_factory()) as session:
        commit_budget(session, reservation_id, epsilon_spent=result.epsilon, delta_spent=result.delta, actor=client)
        record = DPQueryRecord(
            id=query_id,
            client_id=ledger_id(client),
            purpose=query.purpose,
            statistic=query.statistic,
            parameters=query.parameters(),
            result=presented(query, result),
            epsilon_micro=epsilon_to_micro(result.epsilon),
            delta_units=delta_to_units(result.delta),
            mechanism=result.mechanism,
            reservation_id=reservation_id,
        )
        session.add(record)
        audit.record(
            session,
            actor=client,
            action="gateway.dpquery.run",
            target=("dp_query", query_id),
            details={
                "purpose": query.purpose,
                "statistic": query.statistic,
                "epsilon_micro": record.epsilon_micro,
                "delta_units": record.delta_units,
            },
        )
    return record
