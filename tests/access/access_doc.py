"""docs/access.md read as data: the action catalogue (who holds each action) and the route table (which action
each route needs, page or API). The tests compare the policy files and the running app against it, so the page
engineers read is the one the code is held to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from governance.access.principals import Principal, Resource
from governance.settings import PROJECT_ROOT

ACCESS_MD = PROJECT_ROOT / "docs" / "access.md"
STAFF_ROLES = ("admin", "dpo", "support", "auditor")
SCOPES = (
    "subjects:write",
    "subjects:link",
    "events:write",
    "consents:write",
    "consents:read",
    "requests:write",
    "datasets:request",
    "training:submit",
    "authzen:evaluate",
    "drp:agent",
)
_SCOPE = re.compile(r"`([a-z]+:[a-z]+)`")


@dataclass(frozen=True)
class ClientRule:
    """The client column of one action: any of `scopes` (empty with `own` = "own tokens": no scope needed),
    only for a registered purpose, only on the client's own items."""

    scopes: frozenset[str]
    purpose_bound: bool
    own: bool
    granted: bool


@dataclass(frozen=True)
class ActionRule:
    action: str
    staff: frozenset[str]
    subject_own: bool
    client: ClientRule


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == header:
            rows = []
            for row in lines[index + 2 :]:
                if not row.strip().startswith("|"):
                    break
                rows.append(_cells(row))
            return rows
    raise AssertionError(f"docs/access.md has no table with the header {header!r}")


def _staff(cell: str) -> frozenset[str]:
    if cell == "—":
        return frozenset()
    if cell == "every staff":
        return frozenset(STAFF_ROLES)
    roles = frozenset(part.strip() for part in cell.split(","))
    unknown = roles - set(STAFF_ROLES)
    assert not unknown, f"unknown role(s) {unknown} in docs/access.md"
    return roles


def _client(cell: str) -> ClientRule:
    if cell == "—":
        return ClientRule(frozenset(), False, False, False)
    scopes = frozenset(_SCOPE.findall(cell))
    assert scopes <= set(SCOPES), f"unknown scope in {cell!r}"
    own = bool(re.search(r"\bown\b", cell))
    assert scopes or own, f"cannot read the client cell {cell!r}"
    return ClientRule(scopes, "purpose" in cell, own, True)


def catalogue(path: Path = ACCESS_MD) -> dict[str, ActionRule]:
    rows = _table(path.read_text(), "| action | meaning | staff | subject session | client scope |")
    out = {}
    for action, _meaning, staff, subject, client in rows:
        name = action.strip("`")
        assert subject in ("own", "—"), f"{name}: subject cell {subject!r}"
        out[name] = ActionRule(name, _staff(staff), subject == "own", _client(client))
    return out


def route_table(path: Path = ACCESS_MD) -> dict[str, tuple[str, str]]:
    """`"METHOD /rule"` -> (action or "public", "page" | "API")."""
    rows = _table(path.read_text(), "| route | action | interface |")
    return {route.strip("`"): (action.strip("`"), interface) for route, action, interface in rows}


def expected_allowed(rule: ActionRule, principal: Principal, resource: Resource, *, page: bool) -> bool:
    """Whether the table grants `principal` the action on `resource` (with the guard rails it states)."""
    if principal.kind == "staff":
        return bool(principal.roles & rule.staff)
    if principal.kind == "subject":
        return rule.subject_own and resource.owner_subject_id == principal.subject_id
    if principal.kind != "client" or page or not rule.client.granted:
        return False
    client = rule.client
    if client.scopes and not client.scopes & principal.scopes:
        return False
    if client.purpose_bound and not (
        principal.purposes and (resource.type == "System" or resource.purpose in principal.purposes)
    ):
        return False
    if client.own and not client.scopes:  # "own tokens": only on an item that is the client's
        return resource.owner_client_id == principal.id
    return not client.own or resource.type == "System" or resource.owner_client_id == principal.id
