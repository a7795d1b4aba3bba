"""The database log: record in the caller's transaction, seal without gaps, checkpoints, verify, tampering,
the PostgreSQL append-only trigger, concurrency, canary personal data, the API, the CLI and offline export."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from flask import Flask

from governance.access.principals import ActorRef, Principal
from governance.audit import offline_verify, record, service
from governance.audit.errors import AuditDetailsError
from governance.audit.models import AuditCheckpoint, AuditEntry

STAFF = ActorRef("staff", "s-1")
CANARY_EMAIL = "canary.person@example.org"
CANARY_NAME = "Zebulon Canarypants"
CANARY_PHONE = "+44 20 7946 0958"


def config(app: Flask, **overrides) -> service.AuditConfig:
    with app.app_context():
        base = service.current_config()
    values = {**base.__dict__, **overrides} if hasattr(base, "__dict__") else None
    if values is None:
        values = {name: getattr(base, name) for name in base.__slots__}
        values.update(overrides)
    return service.AuditConfig(**values)


def write(app: Flask, n: int, *, action: str = "consent.decision.recorded") -> None:
    db = app.extensions["governance.db"]
    for i in range(n):
        with db.session() as session:
            record(session, actor=STAFF, action=action, target=("subject", uuid.uuid4()), details={"i": i})
            session.commit()


def seal(app: Flask, **overrides) -> service.SealResult:
    return service.seal_all(app.extensions["governance.db"].session, config(app, **overrides))


def verify(app: Flask) -> service.VerifyReport:
    with app.extensions["governance.db"].session() as session:
        return service.verify(session, config(app))


def test_entries_are_sealed_in_order_without_gaps_and_verify(app):
    db = app.extensions["governance.db"]
    write(app, 5)
    with db.session() as session:  # a rolled-back change takes its entry with it
        record(session, actor=STAFF, action="consent.decision.recorded", target=None)
        session.rollback()
    write(app, 4)
    result = seal(app, checkpoint_every=4)
    assert (result.sealed, result.size) == (9, 9)
    with db.session() as session:
        seqs = session.scalars(sa.select(AuditEntry.seq).order_by(AuditEntry.id)).all()
        assert seqs == list(range(9))
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint)) == 1
    report = verify(app)
    assert report.ok, report.message
    assert (report.entries, report.verified_entries) == (9, 9)
    assert report.message == "verified 9 entries up to checkpoint 0"
    write(app, 2)
    seal(app, checkpoint_every=100, checkpoint_seconds=3600)
    report = verify(app)
    assert report.ok
    assert report.unanchored_entries == 2


def test_record_refuses_personal_data_and_bad_names(app):
    db = app.extensions["governance.db"]
    with db.session() as session:
        for details in ({"contact": CANARY_EMAIL}, {"phone": CANARY_PHONE}, {"note": "x" * 300}, {"Bad Key": 1}):
            with pytest.raises(AuditDetailsError):
                record(session, actor=STAFF, action="vault.profile.updated", target=None, details=details)
        with pytest.raises(AuditDetailsError):
            record(session, actor=ActorRef("staff", CANARY_EMAIL), action="vault.profile.updated", target=None)
        with pytest.raises(AuditDetailsError):
            record(session, actor=STAFF, action="Not A Name", target=None)
        record(session, actor=Principal.system("test"), action="vault.profile.updated", target=("subject", "x"),
               details={"fields": ["email", "phone"], "count": 2, "id": uuid.UUID(int=3),
                        "due_on": "2026-12-31"})  # fmt: skip
        session.commit()
    seal(app)
    assert verify(app).ok


@pytest.mark.parametrize(
    "details",
    [
        {"nested": {"contact": [1, "write to " + CANARY_EMAIL]}},
        {"numbers": ["0044 20 7946 0958"]},
        {"phone": " " + CANARY_PHONE + " "},
        {"deep": [{"x": {"y": "(020) 7946-0958"}}]},
        {"dotted": "030.1234.5678"},  # more than one point: not a decimal
        {"digits": "0301234567"},
    ],
)
def test_record_finds_personal_data_anywhere_in_details(app, details):
    with app.extensions["governance.db"].session() as session, pytest.raises(AuditDetailsError):
        record(session, actor=STAFF, action="vault.profile.updated", target=None, details=details)


def test_record_accepts_ids_dates_and_counts(app):
    # decimals as str(Decimal) writes them: a privacy budget of 0.1234567 once failed its job's submission (500)
    decimals = ("0.1234567", "1.23456789", "0.30000000000000004", "2.500000000", "1.0E-7")
    with app.extensions["governance.db"].session() as session:
        for value in ("00000000-0000-0000-0000-000000000001", "00000000000000000000000000000002", "2026-12-31", 42,
                      *decimals):  # fmt: skip
            record(session, actor=STAFF, action="vault.profile.updated", target=("subject", str(value)),
                   details={"ref": value, "n": 1.5, "ok": True, "none": None})  # fmt: skip
        session.commit()


def test_canary_personal_data_never_reaches_the_audit_log(app):
    from governance.vault import service as vault

    db = app.extensions["governance.db"]
    actor = Principal(kind="staff", id="dpo-1", roles=frozenset({"dpo"}), mfa=True)
    with app.test_request_context(), db.session() as session:
        subject = vault.create_subject(
            session,
            external_ref="canary-ref-123",
            actor=actor,
            profile={"email": CANARY_EMAIL, "name": CANARY_NAME, "phone": CANARY_PHONE},
        )
        session.commit()
        vault.read_profile(session, subject.id, actor=actor, view="clear", reason="ticket-42")
        vault.update_profile(session, subject.id, {"name": CANARY_NAME + " Jr"}, actor=actor)
        vault.shred_subject(session, subject.id, actor=actor, reason="erasure_request")
        session.commit()
    seal(app)
    with db.session() as session:
        rows = session.execute(sa.select(AuditEntry.__table__)).all()
    assert rows, "the flow wrote no audit entries"
    dumped = json.dumps([[str(v) for v in row] for row in rows])
    for canary in (CANARY_EMAIL, CANARY_NAME, CANARY_PHONE, "canary-ref-123", "Canarypants"):
        assert canary not in dumped
    assert verify(app).ok


def _tamper(app: Flask, sql: str) -> None:
    """What a database administrator can do: bypass triggers (PostgreSQL) and edit rows directly."""
    engine = app.extensions["governance.db"].engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(sql)


def write_and_seal(app: Flask, batches: int, size: int) -> None:
    for _ in range(batches):  # one checkpoint per batch
        write(app, size)
        seal(app, checkpoint_every=size)


def test_direct_database_tampering_is_found_at_its_position(app):
    write_and_seal(app, 3, 4)
    _tamper(app, "UPDATE audit_entries SET action = 'consent.forged' WHERE seq = 6")
    report = verify(app)
    assert (report.ok, report.failure.reason, report.failure.position) == (False, "leaf_hash_mismatch", 6)
    assert report.verified_entries == 4


def test_deleting_an_entry_is_found(app):
    write_and_seal(app, 3, 4)
    _tamper(app, "DELETE FROM audit_entries WHERE seq = 9")
    report = verify(app)
    assert (report.failure.reason, report.failure.position) == ("sequence_gap", 9)


@pytest.mark.postgres_only
def test_the_trigger_refuses_update_delete_and_truncate(app):
    write(app, 3)
    seal(app)
    engine = app.extensions["governance.db"].engine
    for sql in (
        "UPDATE audit_entries SET action = 'x.y' WHERE seq = 1",
        "UPDATE audit_entries SET seq = 7 WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "TRUNCATE audit_entries",
        "UPDATE audit_checkpoints SET note = 'x'",
        "DELETE FROM audit_checkpoints",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(sql)
    assert verify(app).ok


def test_api_verify_search_and_export_verify_offline(app, client, login_staff, tmp_path: Path):
    write(app, 30, action="consent.decision.recorded")
    write(app, 7, action="vault.profile.read")
    login_staff(client, "auditor")
    response = client.get("/api/v1/audit/verify")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["ok"] is True
    page = client.get("/api/v1/audit/entries?action=vault.&limit=5").get_json()
    assert [e["entry"]["action"] for e in page["entries"]] == ["vault.profile.read"] * 5
    rest = client.get(f"/api/v1/audit/entries?action=vault.&limit=5&after={page['next_after']}").get_json()
    assert len(rest["entries"]) == 2
    assert rest["next_after"] is None
    with app.app_context():
        pem = app.extensions["governance.keys"].public_key_pem(service.SIGNING_KEY)
    key = serialization.load_pem_public_key(pem.encode())
    for query, expected in (("scope=full", 37), ("scope=filtered&action=vault.", 7)):
        for fmt in ("jsonl", "csv"):
            body = client.get(f"/api/v1/audit/export?{query}&format={fmt}").get_data()
            path = tmp_path / f"export.{fmt}"
            path.write_bytes(body)
            report = offline_verify.verify_export(str(path), [(service.KEY_NAME, key)])
            assert report.ok, report.message()
            assert report.entries == report.verified_entries
            assert report.entries == expected or (query == "scope=full" and report.entries > expected)


def test_auditor_routes_are_denied_to_others(app, client, login_staff):
    assert client.get("/api/v1/audit/verify").status_code in (401, 403)
    login_staff(client, "support")
    assert client.get("/api/v1/audit/export").status_code in (403, 404)


def test_cli_verify(app, runner):
    write(app, 3)
    result = runner.invoke(args=["governance", "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "verified 3 entries" in result.output
    _tamper(app, "UPDATE audit_entries SET details = '{\"i\": 99}' WHERE seq = 1")
    result = runner.invoke(args=["governance", "audit", "verify", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["failure"]["position"] == 1


@pytest.mark.postgres_only
@pytest.mark.slow
def test_32_concurrent_writers_make_one_gapless_verified_log(app):
    db = app.extensions["governance.db"]
    writers, per_writer = 32, 200
    errors: list[BaseException] = []
    done = threading.Event()
    cfg = config(app, checkpoint_every=500)

    def writer(w: int) -> None:
        try:
            for i in range(per_writer):
                with db.session() as session:
                    record(session, actor=ActorRef("client", f"c{w}"), action="consent.decision.recorded",
                           target=("subject", uuid.UUID(int=w * 1000 + i)), details={"i": i})  # fmt: skip
                    session.commit()
        except BaseException as exc:
            errors.append(exc)

    def sealer() -> None:
        while not done.is_set():
            service.seal_all(db.session, cfg)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    sealers = [threading.Thread(target=sealer) for _ in range(2)]  # two sealers contend for the head lock
    for t in threads + sealers:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in sealers:
        t.join()
    assert not errors
    service.seal_all(db.session, cfg, force_checkpoint=True)
    with db.session() as session:
        seqs = session.scalars(sa.select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert seqs == list(range(writers * per_writer))
    report = verify(app)
    assert report.ok, report.message
    assert report.verified_entries == writers * per_writer


def test_record_is_part_of_the_callers_transaction_and_reports_database_errors_as_sqlalchemy_does(app):
    db = app.extensions["governance.db"]
    with db.session() as session:
        record(session, actor=STAFF, action="vault.profile.updated", target=None)
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 1  # visible in the transaction
        session.rollback()
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0
        if db.engine.dialect.name == "postgresql":  # an aborted transaction refuses the entry like any statement
            with pytest.raises(sa.exc.DBAPIError):
                session.execute(sa.text("SELECT 1/0"))
            with pytest.raises(sa.exc.DBAPIError, match="aborted"):
                record(session, actor=STAFF, action="vault.profile.updated", target=None)
            session.rollback()


def test_record_many_writes_every_entry_in_one_statement_in_order_and_seals_them_without_gaps(app):
    from governance.audit import Entry, record_many

    db = app.extensions["governance.db"]
    write(app, 2)
    targets = [uuid.UUID(int=i) for i in range(5)]
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany) -> None:
        statements.append(statement)

    with db.session() as session:
        session.connection()  # BEGIN outside the count
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            record_many(
                session,
                [Entry(STAFF, "consent.decision.recorded", ("subject", t), {"i": i}) for i, t in enumerate(targets)],
            )
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        session.commit()
    assert len(statements) == 1
    assert statements[0].startswith("INSERT INTO audit_entries")
    with db.session() as session:  # a refused entry refuses the whole batch: nothing is written
        with pytest.raises(AuditDetailsError):
            record_many(
                session,
                [Entry(STAFF, "consent.decision.recorded", None, {"i": 1}),
                 Entry(STAFF, "consent.decision.recorded", None, {"note": CANARY_EMAIL})],
            )  # fmt: skip
        session.commit()
        record_many(session, [])  # nothing to write is no statement and no error
        session.commit()
    write(app, 1)
    assert seal(app).size == 8
    with db.session() as session:
        rows = session.execute(sa.select(AuditEntry.seq, AuditEntry.target_id).order_by(AuditEntry.id)).all()
    assert [seq for seq, _ in rows] == list(range(8))
    assert [target for _, target in rows[2:7]] == [str(t) for t in targets]
    assert verify(app).ok
