"""Privacy budgets: each purpose's and client's epsilon spent and remaining, and the budget ledger."""

from __future__ import annotations

import datetime as dt
from typing import Any

from governance.access.decorators import requires
from governance.consent import service as consent
from governance.db import get_session, utcnow
from governance.gateway import service as gateway
from governance.web import charts, present, sources
from governance.web.blueprint import bp
from governance.web.console.chrome import render

SPENDS_SHOWN = 200


def _budget_rows(session: Any) -> list[dict[str, Any]]:
    """Each purpose's budget, then each client's share of it (the clients registered for the purpose)."""

    clients = sources.clients(session)
    budgets = []
    for purpose in consent.purposes():
        if purpose.gateway is None:
            continue
        scopes = [None] + [c["id"] for c in clients if purpose.key in c["purposes"]]
        for client_id in scopes:
            view = gateway.budget_status(session, purpose.key, client_id)
            budgets.append(
                {
                    "purpose": purpose.title,
                    "client": client_id,
                    "total": present.decimal_text(view.epsilon_total),
                    "spent": present.decimal_text(view.epsilon_spent),
                    "remaining": present.decimal_text(view.epsilon_remaining),
                    "delta_spent": present.decimal_text(view.delta_spent, 9),
                    "spent_value": float(view.epsilon_spent),
                    "remaining_value": float(view.epsilon_remaining),
                    "label": purpose.title if client_id is None else f"↳ client {client_id}",
                }
            )
    return budgets


def _spend_rows(session: Any) -> list[dict[str, Any]]:
    """The budget ledger of the last year, newest first: from the gateway's reservations (two indexed queries),
    not from the audit log."""

    since = utcnow() - dt.timedelta(days=365)
    return [
        {
            "at": entry.at,
            "purpose": entry.purpose,
            "client": entry.client_id or "—",
            "reason": entry.reason or "—",
            "ref": str(entry.reservation_id)[:8],
            "epsilon": present.decimal_text(entry.epsilon_micro / 1_000_000),
            "status": entry.status,
        }
        for entry in gateway.budget_ledger(session, since=since, limit=SPENDS_SHOWN)
    ]


@bp.get("/console/budgets")
@requires("budget.read")
def console_budgets() -> str:
    session = get_session()
    budgets = _budget_rows(session)
    chart = charts.stacked_hbar_chart(
        [b["label"] for b in budgets],
        [
            charts.Series("Spent", [b["spent_value"] for b in budgets]),
            charts.Series("Remaining", [b["remaining_value"] for b in budgets]),
        ],
        title="Privacy budget per purpose and client",
        desc="Epsilon spent and remaining for each purpose, overall and per client.",
        classes=["bar-spent", "bar-remaining"],
    )
    return render(
        "web/console/budgets.html",
        "web.console_budgets",
        chart=chart,
        budgets=budgets,
        spends=_spend_rows(session),
    )
