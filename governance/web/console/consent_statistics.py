"""Consent statistics: weekly consent rates and decisions per purpose, from consent's own aggregates."""

from __future__ import annotations

from governance.access.decorators import requires
from governance.consent import service as consent
from governance.consent import statistics
from governance.db import get_session, utcnow
from governance.web import charts
from governance.web.blueprint import bp
from governance.web.console.chrome import render

STATS_WEEKS = 12


@bp.get("/console/consent")
@requires("consent.read")
def console_consent() -> str:
    catalog = consent.purposes()
    keys = [p.key for p in catalog.consent_purposes()]
    titles = {p.key: p.title for p in catalog}
    stats = statistics.weekly_statistics(get_session(), purposes=keys, today=utcnow().date(), weeks=STATS_WEEKS)
    labels = [monday.strftime("%-d %b") for monday in stats.weeks]
    names = [titles[k] for k in keys]
    rate_chart = charts.line_chart(
        labels,
        [charts.Series(titles[k], stats.rates[k]) for k in keys],
        title="Consent rate per purpose, by the week decisions were collected",
        desc="Among people who decided about a purpose (refusals included), the percentage whose latest "
        "decision collected by the end of the week was consent.",
        y_max=100,
        unit="%",
    )
    decisions_chart = charts.bar_chart(
        labels,
        [
            charts.Series("Grants", stats.grants),
            charts.Series("Refusals", stats.refusals),
            charts.Series("Withdrawals", stats.withdrawals),
            charts.Series("GPC signals", stats.gpc),
        ],
        title="Decisions per week, by the week they were collected",
        desc="Consents given, refused when asked, withdrawn by people after a grant, and withdrawn because a "
        "browser sent a Global Privacy Control signal.",
        integer=True,
    )
    return render(
        "web/console/consent.html",
        "web.console_consent",
        rate_chart=rate_chart,
        rate_series=names,
        rate_rows=[{"label": label, "cells": [stats.rates[k][i] for k in keys]} for i, label in enumerate(labels)],
        by_notice=[{**row, "purpose": titles.get(str(row["purpose"]), row["purpose"])} for row in stats.by_notice],
        weekly_chart=decisions_chart,
        weekly_series=["Grants", "Refusals", "Withdrawals", "GPC signals"],
        weekly_rows=[
            {
                "label": label,
                "cells": [stats.grants[i], stats.refusals[i], stats.withdrawals[i], stats.gpc[i]],
            }
            for i, label in enumerate(labels)
        ],
    )
