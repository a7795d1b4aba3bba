"""A console page's cost does not grow with the audit log (issue 14): every page a DPO, an auditor or an admin
can open issues a bounded number of SQL statements, the same at 2,000 and at 200,000 audit entries, and none of
them reads the entries' details, except the audit log pages themselves, at most 51 rows at a time.

The bulk of the 200,000 entries is written by a fast path of this test's own (sealed rows computed as the sealer
computes them), then checkpointed by the sealer, so the chain stays valid."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.helpers import file_overdue_request, grant, seal_audit_log, seed_service_activity, verify_audit_log

pytestmark = pytest.mark.slow

MAX_STATEMENTS = 40
MAX_DETAIL_ROWS = 51  # an audit log page (50 entries) and the one that says whether there is a next page
ROLES = ("dpo", "auditor", "admin")
_SELECT_LIST = re.compile(r"^\s*select\b(.*?)\bfrom\b", re.IGNORECASE | re.DOTALL)
# The staff session's last-seen time is written at most once a minute (access.sessions.TOUCH_INTERVAL): driven
# by the clock, not by the page, so on a slow run it lands on whichever request crosses the minute.
_SESSION_TOUCH = re.compile(r"^\s*update\s+access_staff_sessions\s+set\s+last_seen_at\b", re.IGNORECASE)


@contextmanager
def _statements(app: Flask) -> Iterator[list[tuple[str, int | None]]]:
    """Every statement this thread sent to the database meanwhile, with its LIMIT (None without one). The test
    client serves pages in this thread; a job worker's statements (the periodic verification) are not the page's,
    nor is the session's once-a-minute touch (at most one per request: checked here)."""
    engine = app.extensions["governance.db"].engine
    seen: list[tuple[str, int | None]] = []
    touches: list[str] = []
    page_thread = threading.get_ident()

    def before(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if threading.get_ident() != page_thread:
            return
        if _SESSION_TOUCH.match(statement):
            touches.append(statement)
            return
        seen.append((statement, _executed_limit(context)))

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
    assert len(touches) <= 1, touches


def _executed_limit(context: Any) -> int | None:
    """The LIMIT this execution sent. Not `compiled.statement._limit`: compiled statements are cached per engine
    by their shape, the limit being a parameter, so that is the limit of whichever statement of the same shape
    was compiled first in the session (an audit API search at its default limit of 100 in an earlier test made
    an oldest-first page read look like a LIMIT 101)."""
    compiled = getattr(context, "compiled", None)
    select = getattr(compiled, "statement", None)
    if not isinstance(select, sa.Select) or select._limit_clause is None:
        return None
    name = compiled.bind_names.get(select._limit_clause)
    if name is None:  # a literal LIMIT, rendered in the statement
        return select._limit
    return int(context.compiled_parameters[0][name])


def _reads_audit_details(statement: str) -> bool:
    found = _SELECT_LIST.search(statement)
    return bool(found) and "audit_entries" in statement and re.search(r"\bdetails\b", found.group(1)) is not None


_TARGETS = [str(uuid.uuid4()) for _ in range(997)]
_DETAILS = {"purpose": "personalized_recommendations", "client_id": "recommender", "epsilon_micro": 100_000}


def _entry(i: int, request_id: uuid.UUID) -> tuple[str, str, str, dict[str, Any]]:
    """(action, target kind, target id, details) of entry `i` of the bulk: the budget actions the console once
    parsed out of the log and others, on many targets; one in a thousand on the request the pages show."""
    if i % 1000 == 0:
        return "requests.note.added", "request", str(request_id), {}
    action = ("gateway.budget.committed", "gateway.budget.reserved", "web.cost.filler")[i % 3]
    return action, "budget_reservation" if i % 3 != 2 else "request", _TARGETS[i % 997], _DETAILS


def _append_sealed(app: Flask, total: int, request_id: uuid.UUID) -> None:
    """Test-only fast path: add sealed entries until the log holds `total`, computing their positions, leaf
    hashes and the chain head exactly as the sealer does (`record` + `seal_pending` take a minute for 200,000),
    then let the sealer sign a checkpoint over them: the chain stays valid."""
    import hashlib

    from governance.audit import service as audit_service
    from governance.audit.canonical import details_json, entry_bytes, format_time, to_typed
    from governance.audit.merkle import Frontier
    from governance.audit.models import AuditEntry, AuditHead

    db = app.extensions["governance.db"]
    now = dt.datetime.now(dt.UTC)
    with db.session() as session, session.begin():
        head = session.scalars(sa.select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
        frontier = Frontier(head.size, [bytes.fromhex(node) for node in head.frontier])
        rows = []
        time_text = format_time(now)
        for seq in range(head.size, total):
            action, target_kind, target_id, details = _entry(seq, request_id)
            typed = to_typed(details)
            data = entry_bytes(seq, time_text, "system", "cost-test", action, target_kind, target_id, None, None,
                               details_json(typed))  # fmt: skip
            leaf = hashlib.sha256(b"\x00" + data).digest()
            frontier.append(leaf)
            rows.append({"seq": seq, "leaf_hash": leaf, "occurred_at": now, "actor_kind": "system",
                         "actor_id": "cost-test", "action": action, "target_kind": target_kind,
                         "target_id": target_id, "details": typed})  # fmt: skip
        for first in range(0, len(rows), 20_000):
            session.execute(sa.insert(AuditEntry.__table__), rows[first : first + 20_000])
        head.size, head.frontier, head.root = frontier.size, [node.hex() for node in frontier.nodes], frontier.root()
    with app.test_request_context():
        audit_service.seal_all(db.session, audit_service.current_config(), force_checkpoint=True)


def _pages(app: Flask, request_id: uuid.UUID) -> list[str]:
    today = dt.datetime.now(dt.UTC).date()
    return [
        "/console",
        "/console/audit",
        "/console/audit?order=oldest",
        "/console/audit?order=oldest&after=1000",
        "/console/audit?action=web.cost",
        "/console/audit?position=1500",
        f"/console/audit?date={today}",
        "/console/audit/1000",
        "/console/requests",
        "/console/requests?status=all",
        f"/console/requests/{request_id}",
        "/console/consent",
        "/console/budgets",
        "/console/releases",
        "/console/policies",
        "/console/records",
        "/console/records/download.json",
        "/console/admin",
        "/console/admin/keys/rotation",
    ]


def _costs(app: Flask, clients: dict[str, FlaskClient], pages: list[str]) -> dict[tuple[str, str], int]:
    """Statements per (role, page); checks on the way that no page reads audit details beyond one page."""
    costs = {}
    for role, client in clients.items():
        for page in pages:
            client.get(page)  # warm: the first view of a page may fill a per-process cache
            with _statements(app) as seen:
                response = client.get(page)
            if response.status_code in (403, 404) and "/console/requests/" not in page:
                continue  # a page this role may not open
            assert response.status_code == 200, (role, page, response.status_code)
            costs[(role, page)] = len(seen)
            for statement, limit in seen:
                if not _reads_audit_details(statement):
                    continue
                assert page.startswith("/console/audit"), (role, page, statement)
                assert limit is not None, (role, page, statement)
                assert limit <= MAX_DETAIL_ROWS, (role, page, statement, limit)
    return costs


def test_console_pages_cost_the_same_at_2000_and_200000_audit_entries(app, make_subject, login_staff):
    from governance.jobs.worker import drain
    from governance.requests import service as requests

    people = [make_subject() for _ in range(3)]
    for subject_id in people:
        grant(app, subject_id, "personalized_recommendations")
    file_overdue_request(app, people[0])
    seed_service_activity(app)  # a client, a budget spend, a release (built by the job) and a processor
    drain(app)
    with app.test_request_context(), app.extensions["governance.db"].session() as session:
        request_id = requests.list_requests(session, limit=1)[0].id
    clients = {}
    for role in ROLES:
        clients[role] = app.test_client()
        login_staff(clients[role], role)
    pages = _pages(app, request_id)

    seal_audit_log(app)  # the entries of the activity above, through the real sealer
    _append_sealed(app, 2_000, request_id)
    verify_audit_log(app)  # the whole log (the periodic job's full run)
    small = _costs(app, clients, pages)
    _append_sealed(app, 200_000, request_id)  # pages show the stored report of 2,000 until the next run
    large = _costs(app, clients, pages)

    assert {page for _role, page in small} == set(pages)  # each page was seen by at least one of the roles
    assert large == small
    too_many = {key: count for key, count in large.items() if count > MAX_STATEMENTS}
    assert not too_many
