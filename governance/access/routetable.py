"""The route table of docs/access.md: every route of the app with the action it declares and its interface.

`docs/access.md` is the truth for who may call what: its action catalogue says who holds each action, its route
table says which action each route needs and whether it is a page (staff and subject sessions only) or the
machine interface (`/api/`, `/oauth/`: bearer tokens too). `tests/access/test_route_matrix.py` fails when the
table and the app disagree; `python scripts/route_table.py` prints the table for the app as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from governance.access.authn import is_page
from governance.access.decorators import declaration_for_endpoint

__all__ = ["RouteRow", "render", "route_rows"]

IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})


@dataclass(frozen=True, order=True, slots=True)
class RouteRow:
    rule: str  # werkzeug rule, e.g. /api/v1/requests/<request_id>
    method: str
    endpoint: str
    action: str  # a catalogued action, or "public"
    interface: str  # "page" or "API"

    @property
    def route(self) -> str:
        return f"{self.method} {self.rule}"


def route_rows(app: Flask) -> list[RouteRow]:
    """One row per (method, rule) of the URL map; an undeclared route shows as action "undeclared"."""
    rows = []
    for rule in app.url_map.iter_rules():
        declaration = declaration_for_endpoint(app, rule.endpoint)
        if declaration is None:
            action = "undeclared"
        elif declaration.public_reason is not None:
            action = "public"
        else:
            action = declaration.action or "undeclared"
        interface = "page" if is_page(rule.rule) else "API"
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            rows.append(RouteRow(rule.rule, method, rule.endpoint, action, interface))
    return sorted(rows, key=lambda r: (r.rule, r.method))


def render(rows: list[RouteRow]) -> str:
    """The Markdown table as docs/access.md holds it."""
    lines = ["| route | action | interface |", "|---|---|---|"]
    for row in rows:
        action = "public" if row.action == "public" else f"`{row.action}`"
        lines.append(f"| `{row.route}` | {action} | {row.interface} |")
    return "\n".join(lines)
