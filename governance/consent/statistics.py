"""Consent statistics from the ledger itself, as SQL aggregates (for the console; nothing read from the audit
log, so a page's cost does not grow with it).

Definitions (also shown on the page):
- every decision is dated by when it was **collected** (the person's click), not when it was recorded;
- a **refusal** is a "no" (withdrawn) that no grant for that purpose preceded: the person declined when asked.
  It is a decision like any other, so the consent rate is "granted ÷ decided";
- **consent rate** of a purpose at the end of a week: among the people who had decided about it by then
  (decisions collected before the week's end), the share whose decision in force is a grant, "in force" as the
  ledger decides it (the last event in recording order that was not superseded: a withdrawal always wins over
  a grant it was received after); an expiry counts as not granted;
- **withdrawals** per week: withdrawals after a grant that the person made (not GPC signals or expiries);
- **GPC** per week: withdrawals recorded because the browser sent a Global Privacy Control signal;
- by notice version: grants and refusals or withdrawals recorded against each notice version.
Superseded events (a later-received, earlier-collected decision that the ordering rule overrode) are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.consent.models import ConsentEvent

STATE_DECISIONS = ("granted", "withdrawn", "expired")


@dataclass
class WeeklyStatistics:
    weeks: list[dt.date]  # Mondays
    rates: dict[str, list[float | None]]  # purpose -> percent at each week's end (None: nobody had decided)
    grants: list[int] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)
    withdrawals: list[int] = field(default_factory=list)
    gpc: list[int] = field(default_factory=list)
    by_notice: list[dict[str, Any]] = field(default_factory=list)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _latest_decisions(end: dt.datetime) -> sa.Select[Any]:
    """Per purpose and decision, how many people's latest decision collected before `end` it is."""
    c = ConsentEvent.__table__.c
    ranked = (
        sa.select(
            c.purpose,
            c.decision,
            sa.func.row_number()
            # the ledger's rule: applied in recording order, the last event that was not superseded is in force
            .over(partition_by=(c.subject_id, c.purpose), order_by=c.seq.desc())
            .label("rank"),
        )
        .where(c.collected_at < end, c.superseded.is_(False), c.decision.in_(STATE_DECISIONS))
        .subquery()
    )
    return (
        sa.select(ranked.c.purpose, ranked.c.decision, sa.func.count())
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.purpose, ranked.c.decision)
    )


def _rates(session: Session, purposes: list[str], mondays: list[dt.date]) -> dict[str, list[float | None]]:
    rates: dict[str, list[float | None]] = {p: [] for p in purposes}
    for monday in mondays:
        counts: dict[str, dict[str, int]] = {}
        for purpose, decision, count in session.execute(_latest_decisions(_midnight(monday + dt.timedelta(7)))):
            counts.setdefault(purpose, {})[decision] = int(count)
        for purpose in purposes:
            decided = sum(counts.get(purpose, {}).values())
            granted = counts.get(purpose, {}).get("granted", 0)
            rates[purpose].append(round(100 * granted / decided, 1) if decided else None)
    return rates


def _kinds() -> sa.Subquery:
    """Each decision event with its kind for the weekly counts: grant, refusal, withdrawal, gpc or other."""
    c = ConsentEvent.__table__.c
    granted_before = (
        sa.func.max(sa.case((c.decision == "granted", 1), else_=0))
        .over(
            partition_by=(c.subject_id, c.purpose),
            order_by=(c.collected_at, c.seq),
            rows=(None, -1),  # every earlier event of the same person and purpose
        )
        .label("granted_before")
    )
    events = sa.select(c.collected_at, c.decision, c.method, granted_before).where(c.superseded.is_(False)).subquery()
    kind = sa.case(
        (events.c.decision == "granted", "grant"),
        (sa.and_(events.c.decision == "withdrawn", events.c.method == "gpc"), "gpc"),
        (sa.and_(events.c.decision == "withdrawn", sa.func.coalesce(events.c.granted_before, 0) == 0), "refusal"),
        (sa.and_(events.c.decision == "withdrawn", events.c.method != "expiry"), "withdrawal"),
        else_="other",
    )
    return sa.select(events.c.collected_at, kind.label("kind")).subquery()


def _weekly_counts(session: Session, mondays: list[dt.date]) -> dict[str, list[int]]:
    kinds = _kinds()
    columns = [
        sa.func.sum(
            sa.case(
                (
                    sa.and_(
                        kinds.c.collected_at >= _midnight(monday),
                        kinds.c.collected_at < _midnight(monday + dt.timedelta(7)),
                    ),
                    1,
                ),
                else_=0,
            )
        )
        for monday in mondays
    ]
    rows = session.execute(
        sa.select(kinds.c.kind, *columns).where(kinds.c.collected_at >= _midnight(mondays[0])).group_by(kinds.c.kind)
    )
    out = {kind: [0] * len(mondays) for kind in ("grant", "refusal", "withdrawal", "gpc")}
    for kind, *counts in rows:
        if kind in out:
            out[kind] = [int(n or 0) for n in counts]
    return out


def _by_notice(session: Session) -> list[dict[str, Any]]:
    c = ConsentEvent.__table__.c
    rows = session.execute(
        sa.select(
            c.purpose,
            c.notice_version,
            sa.func.sum(sa.case((c.decision == "granted", 1), else_=0)),
            sa.func.sum(sa.case((c.decision == "withdrawn", 1), else_=0)),
        )
        .where(c.superseded.is_(False), c.decision.in_(("granted", "withdrawn")))
        .group_by(c.purpose, c.notice_version)
        .order_by(c.purpose, c.notice_version)
    )
    out = []
    for purpose, version, granted, said_no in rows:
        granted, said_no = int(granted or 0), int(said_no or 0)
        out.append(
            {
                "purpose": purpose,
                "version": version,
                "granted": granted,
                "withdrawn": said_no,
                "rate": f"{100 * granted / (granted + said_no):.1f}%",
            }
        )
    return out


def weekly_statistics(session: Session, *, purposes: list[str], today: dt.date, weeks: int = 12) -> WeeklyStatistics:
    """The console's consent statistics for the `weeks` weeks ending with the week of `today`: `weeks` + 2
    aggregate queries, whatever the size of the ledger or the audit log."""
    mondays = [week_start(today) - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    counts = _weekly_counts(session, mondays)
    return WeeklyStatistics(
        weeks=mondays,
        rates=_rates(session, purposes, mondays),
        grants=counts["grant"],
        refusals=counts["refusal"],
        withdrawals=counts["withdrawal"],
        gpc=counts["gpc"],
        by_notice=_by_notice(session),
    )
