"""Stored verification reports (`audit.verify`): full and incremental runs, what each catches, when a full run
is due, and the small reads pages use (`actions_on`, `latest_checkpoint`)."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Flask

from governance import audit
from governance.audit import reports, service
from tests.audit.test_service import STAFF, _tamper, config, verify, write, write_and_seal


def run(app: Flask, **options) -> reports.StoredVerification | None:
    return reports.run_verification(app.extensions["governance.db"].session, config(app), **options)


def latest(app: Flask) -> reports.StoredVerification | None:
    with app.extensions["governance.db"].session() as session:
        return audit.latest_verification(session)


def test_an_incremental_run_continues_from_the_last_verified_checkpoint_and_reports_the_whole_log(app):
    assert latest(app) is None
    write_and_seal(app, 2, 4)
    first = run(app)
    assert (first.kind, first.ok, first.entries) == ("full", True, 8)
    write_and_seal(app, 3, 4)
    second = run(app)
    assert (second.kind, second.ok, second.entries) == ("incremental", True, 20)
    assert second.report["incremental_from"] == 8
    full = verify(app).to_dict()
    for key in ("entries", "verified_entries", "checkpoints_verified", "checkpoint_index", "root", "message"):
        assert second.report[key] == full[key], key
    assert "anchor" not in second.report
    assert latest(app) == second


def test_an_incremental_run_finds_a_changed_new_entry_and_the_full_run_an_old_one(app):
    write_and_seal(app, 2, 4)
    run(app)
    write_and_seal(app, 1, 4)
    _tamper(app, "UPDATE audit_entries SET action = 'consent.forged' WHERE seq = 9")
    found = run(app)
    assert (found.kind, found.ok) == ("incremental", False)
    assert (found.report["failure"]["reason"], found.report["failure"]["position"]) == ("leaf_hash_mismatch", 9)
    assert run(app) is None  # the failure stands; the whole log is not re-read every minute
    assert run(app, full=True).ok is False  # "Verify now" always runs

    # a change to an entry an earlier run verified is only seen by the next full run
    _tamper(app, "UPDATE audit_entries SET action = 'consent.decision.recorded' WHERE seq = 9")
    assert run(app, full=True).ok
    _tamper(app, "UPDATE audit_entries SET action = 'consent.forged' WHERE seq = 1")
    write_and_seal(app, 1, 4)
    assert run(app).ok  # incremental: entries 8 on
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    due = run(app, now=later, full_every=3600)
    assert (due.kind, due.ok, due.report["failure"]["position"]) == ("full", False, 1)


def test_old_reports_are_pruned_but_the_newest_full_one_is_kept(app, monkeypatch):
    monkeypatch.setattr(reports, "KEEP_REPORTS", 3)
    write_and_seal(app, 1, 4)
    run(app)
    for _ in range(5):
        write_and_seal(app, 1, 4)
        assert run(app).kind == "incremental"
    from governance.audit.models import AuditVerification

    with app.extensions["governance.db"].session() as session:
        kinds = [row.kind for row in session.query(AuditVerification).order_by(AuditVerification.id)]
    assert kinds == ["full", "incremental", "incremental", "incremental"]


def test_verify_now_enqueues_one_audited_job_and_the_job_stores_the_report(app):
    from governance.core.principals import Principal
    from governance.jobs.worker import drain

    write(app, 3)
    db = app.extensions["governance.db"]
    dpo = Principal(kind="staff", id=str(uuid.uuid4()), roles=frozenset({"dpo"}))
    with app.test_request_context(), db.session() as session, session.begin():
        first = audit.request_verification(session, actor=dpo)
        assert audit.request_verification(session, actor=dpo) == first  # a double click: one job
    assert drain(app, kinds=["audit.verify"]) == 1
    stored = latest(app)
    assert (stored.kind, stored.ok, stored.entries) == ("full", True, 5)  # sealed first, the two requests too
    with db.session() as session:
        asked = audit.actions_on(session, "job", first)
    assert [step.action for step in asked] == ["audit.verification.requested"] * 2


def test_actions_on_and_latest_checkpoint_read_a_few_columns(app):
    request_id = uuid.uuid4()
    db = app.extensions["governance.db"]
    with db.session() as session, session.begin():
        for action in ("requests.note.added", "requests.request.assigned", "requests.note.added"):
            audit.record(session, actor=STAFF, action=action, target=("request", request_id))
        audit.record(session, actor=STAFF, action="requests.note.added", target=("request", uuid.uuid4()))
    with db.session() as session:
        assert audit.latest_checkpoint(session) is None
        assert audit.actions_on(session, "request", request_id) == []  # not sealed yet
    write_and_seal(app, 1, 4)
    with db.session() as session:
        steps = audit.actions_on(session, "request", request_id)
        assert [s.action for s in steps] == ["requests.note.added", "requests.request.assigned", "requests.note.added"]
        assert [s.seq for s in steps] == sorted(s.seq for s in steps)
        assert steps[0].at.tzinfo is not None
        only = audit.actions_on(session, "request", str(request_id), actions={"requests.request.assigned"})
        assert [s.action for s in only] == ["requests.request.assigned"]
        assert len(audit.actions_on(session, "request", request_id, limit=1)) == 1
        newest = audit.latest_checkpoint(session)
        assert newest.size == 8
        assert newest.to_text() == service.checkpoints(session)[-1].to_text()
