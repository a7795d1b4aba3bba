"""`audit.deferred`: the entries `record` adds inside the block are checked at their call and written at the end
in one INSERT, in call order, so the sealer's positions are the ones the calls would have given (issue 16: a
filed request's four entries cost one statement instead of four)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from governance.access.principals import ActorRef
from governance.audit import deferred, record
from governance.audit.errors import AuditDetailsError
from governance.audit.models import AuditEntry
from tests.audit.test_service import STAFF, seal, verify, write

CANARY_EMAIL = "canary.person@example.org"


class Statements:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.seen = engine, []

    def __enter__(self) -> list[str]:
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(statement)


def test_entries_of_a_block_are_one_insert_in_call_order_and_seal_without_gaps(app):
    db = app.extensions["governance.db"]
    write(app, 2)
    targets = [uuid.UUID(int=i + 1) for i in range(4)]
    with db.session() as session:
        session.connection()  # BEGIN outside the count
        with Statements(db.engine) as seen, deferred(session):
            for i, target in enumerate(targets):
                record(session, actor=STAFF, action="requests.request.received", target=("request", target),
                       details={"i": i})  # fmt: skip
                assert not seen  # nothing written yet
            with deferred(session):  # a nested block joins the outer one
                record(session, actor=STAFF, action="requests.request.verified", target=None)
            assert not seen
        session.commit()
    assert len(seen) == 1
    assert seen[0].startswith("INSERT INTO audit_entries")
    write(app, 1)
    assert seal(app).size == 8
    with db.session() as session:
        rows = session.execute(sa.select(AuditEntry.seq, AuditEntry.target_id).order_by(AuditEntry.id)).all()
    assert [seq for seq, _ in rows] == list(range(8))
    assert [target for _, target in rows[2:6]] == [str(t) for t in targets]
    assert rows[6][1] is None  # the nested block's entry, after the outer ones it followed
    assert verify(app).ok


def test_a_refused_entry_raises_at_its_call_and_a_failed_block_writes_nothing(app):
    db = app.extensions["governance.db"]

    def block_with_a_refused_entry(session) -> None:  # type: ignore[no-untyped-def]
        with deferred(session):
            record(session, actor=STAFF, action="requests.request.received", target=None, details={"i": 1})
            record(session, actor=STAFF, action="requests.request.received", target=None,
                   details={"note": CANARY_EMAIL})  # fmt: skip
            raise AssertionError("not reached: the refused entry raised at its call")

    with db.session() as session:
        with pytest.raises(AuditDetailsError):
            block_with_a_refused_entry(session)
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0
        assert "governance.audit.deferred" not in session.info  # the next block starts clean
        with deferred(session):
            record(session, actor=ActorRef("staff", "s-2"), action="requests.request.received", target=None)
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 1


def test_filing_an_access_request_writes_its_four_entries_in_one_insert(app):
    """The service path the block was made for: received, verified, confirmed, in progress, in that order."""
    from governance.access.principals import Principal
    from governance.requests import service as requests
    from governance.vault import service as vault

    db = app.extensions["governance.db"]
    actor = Principal.system("test")
    with app.app_context(), db.session() as session:
        with session.begin():
            subject = vault.create_subject(session, external_ref=f"p-{uuid.uuid4().hex[:8]}", actor=actor).id
        with session.begin(), Statements(db.engine) as seen:
            filed = requests.file_request(
                session, subject_id=subject, kind="access", actor=actor, source="client", verification_method="login"
            )
        actions = session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.target_id == str(filed.request.id)).order_by(AuditEntry.id)
        ).all()
    # the request first, then its job and its entries together in one statement (`write_batch`: CTEs on
    # PostgreSQL, the routed view on SQLite), never an INSERT of the entries of their own
    writes = [s for s in seen if s.startswith(("INSERT", "WITH"))]
    assert len(writes) == 2, writes
    assert writes[0].startswith("INSERT INTO requests_dsr")
    if db.engine.dialect.name == "postgresql":
        assert writes[1].startswith("WITH")
        assert "INSERT INTO jobs" in writes[1]
        assert "INSERT INTO audit_entries" in writes[1]
    else:
        assert writes[1].startswith("INSERT INTO governance_batch_rows")
    # the job is queued under a key minted by this filing: no lookup of an earlier job first (issue 16)
    assert [s for s in seen if s.startswith("SELECT") and "FROM jobs" in s] == []
    assert actions == [
        "requests.request.received",
        "requests.request.verified",
        "requests.request.confirmed",
        "requests.request.in_progress",
    ]
