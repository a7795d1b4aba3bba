"""Consent statistics for the console, folded from consent decision events (pure; no database).

Definitions (also shown on the page):
- consent rate of a purpose at the end of a week: among the people who had made a decision about the purpose
  by then, the share whose decision in force was "granted";
- by notice version: decisions recorded against each notice version, and the share that were grants;
- withdrawals per week: withdrawals the person made (not those caused by a GPC signal or an expiry);
- GPC per week: withdrawals recorded because the browser sent a Global Privacy Control signal.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    at: dt.datetime
    subject: str
    purpose: str
    decision: str  # granted, withdrawn, expired, objected, objection_lifted
    method: str
    notice_version: int | None
    superseded: bool = False


@dataclass
class ConsentStats:
    weeks: list[dt.date]  # Mondays
    rates: dict[str, list[float | None]]  # purpose -> percent per week (None: nobody had decided yet)
    by_notice: list[dict[str, Any]] = field(default_factory=list)
    withdrawals: list[int] = field(default_factory=list)
    gpc: list[int] = field(default_factory=list)


CONSENT_DECISIONS = {"granted", "withdrawn", "expired"}


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def fold(events: Iterable[DecisionEvent], *, purposes: list[str], today: dt.date, weeks: int = 12) -> ConsentStats:
    """Weekly series over the `weeks` weeks ending with the week of `today` (events in any order)."""
    mondays = [week_start(today) - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    first = mondays[0]
    ordered = sorted(
        (e for e in events if not e.superseded and e.decision in CONSENT_DECISIONS),
        key=lambda e: e.at,
    )
    state: dict[tuple[str, str], str] = {}
    rates: dict[str, list[float | None]] = {p: [] for p in purposes}
    withdrawals, gpc = [0] * weeks, [0] * weeks
    notice: dict[tuple[str, int | None], list[int]] = defaultdict(lambda: [0, 0])
    index = 0
    for week, monday in enumerate(mondays):
        end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), dt.UTC)
        while index < len(ordered) and ordered[index].at < end:
            event = ordered[index]
            index += 1
            state[(event.subject, event.purpose)] = event.decision
            if event.at.date() < first:
                continue
            if event.decision == "withdrawn":
                if event.method == "gpc":
                    gpc[week] += 1
                elif event.method != "expiry":
                    withdrawals[week] += 1
        for purpose in purposes:
            decided = [d for (_, p), d in state.items() if p == purpose]
            rates[purpose].append(round(100 * decided.count("granted") / len(decided), 1) if decided else None)
    for event in ordered:
        if event.decision in ("granted", "withdrawn"):
            notice[(event.purpose, event.notice_version)][0 if event.decision == "granted" else 1] += 1
    by_notice = [
        {
            "purpose": purpose,
            "version": version,
            "granted": counts[0],
            "withdrawn": counts[1],
            "rate": f"{100 * counts[0] / (counts[0] + counts[1]):.1f}%",
        }
        for (purpose, version), counts in sorted(notice.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    ]
    return ConsentStats(weeks=mondays, rates=rates, by_notice=by_notice, withdrawals=withdrawals, gpc=gpc)
