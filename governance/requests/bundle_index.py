"""index.html of the export ZIP: an overview a person opens in any web browser, offline.

Self-contained (no scripts, no links out, styles inline in one <style> block), every value escaped. It shows the
profile, counts and the consent decisions, requests, dataset releases and trainings of the export; the events
themselves are in events.csv and event_details.csv (there may be tens of thousands).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import Any

_STYLE = (
    "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1f24}"
    "table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}th,td{text-align:left;padding:.35rem .5rem;"
    "border-bottom:1px solid #c9d0d8;vertical-align:top;overflow-wrap:anywhere}caption{text-align:left;"
    "font-weight:600;padding:.35rem 0}code{font-size:.9em}"
)


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape(str(value))


def _table(caption: str, columns: Iterable[tuple[str, str]], rows: Iterable[Mapping[str, Any]]) -> str:
    columns = list(columns)
    rows = list(rows)
    if not rows:
        return f"<h2>{escape(caption)}</h2><p>None.</p>"
    head = "".join(f'<th scope="col">{escape(label)}</th>' for _key, label in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(row.get(key))}</td>" for key, _label in columns) + "</tr>" for row in rows
    )
    title = escape(caption)
    return (
        f"<h2>{title}</h2><table><caption>{title}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def render(
    when: datetime, profile: Mapping[str, Any], sections: Mapping[str, list[dict[str, Any]]], events: int
) -> str:
    """The overview page (UTF-8 HTML text)."""
    profile_rows = "".join(
        f'<tr><th scope="row">{escape(str(name))}</th><td>{_text(value)}</td></tr>' for name, value in profile.items()
    )
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Your data export</title><style>{_STYLE}</style></head><body><main>",
        "<h1>Your data export</h1>",
        f"<p>Prepared on {escape(when.strftime('%-d %B %Y, %H:%M UTC'))}. This page is an overview; the files",
        " beside it hold everything: <code>export.json</code> for programs, and CSV files that open in a",
        " spreadsheet.</p>",
        "<h2>Your profile</h2>",
        f"<table><caption>Your profile</caption><tbody>{profile_rows}</tbody></table>"
        if profile_rows
        else "<p>None.</p>",
        f"<h2>Your activity</h2><p>{events} recorded event{'' if events == 1 else 's'}: see <code>events.csv</code>",
        " and <code>event_details.csv</code>.</p>",
        _table(
            "Your consent decisions",
            [("purpose", "Purpose"), ("decision", "Decision"), ("occurred_at", "When"), ("method", "How")],
            sections.get("consent_decisions", []),
        ),
        _table(
            "Your requests",
            [("kind", "Request"), ("status", "Status"), ("received_at", "Received"), ("closed_at", "Closed")],
            sections.get("requests", []),
        ),
        _table(
            "Datasets that included your data",
            [("purpose", "Purpose"), ("recipient", "Recipient"), ("released_at", "When")],
            sections.get("dataset_releases", []),
        ),
        _table(
            "Models trained with your data",
            [
                ("purpose", "Purpose"),
                ("trained_at", "When"),
                ("status", "Status"),
                ("flagged", "Marked for retraining"),
            ],
            sections.get("training_jobs", []),
        ),
        "<h2>Files in this export</h2><ul>",
        "<li><code>export.json</code>: everything, for programs</li>",
        "<li><code>profile.csv</code>, <code>consent_decisions.csv</code>, <code>consent_receipts.csv</code>,",
        " <code>consent_receipt_details.csv</code>, <code>events.csv</code>, <code>event_details.csv</code>,",
        " <code>requests.csv</code>, <code>dataset_releases.csv</code>, <code>training_jobs.csv</code></li>",
        "<li><code>README.txt</code>: what each file holds</li></ul>",
        "</main></body></html>",
    ]
    return "".join(parts)
