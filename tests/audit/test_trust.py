"""Trust that does not rest on the database (issue 19, findings 5 and 6).

The attacker is a database superuser (on PostgreSQL with the append-only triggers disabled): they rewrite an
entry, recompute every stored leaf hash and the chain head so the database is self-consistent, and delete the
checkpoints above the change. The published checkpoint directory (outside the database) and the witness (a
separate process with its own key and state) must still catch it: verify fails and names the position, the
sealer refuses to sign the forged tree and raises an alarm, the witness refuses to cosign it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from flask import Flask

from governance.audit import anchors, merkle, offline_verify, record, service
from governance.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from governance.audit.publish import Publisher
from tests.audit.test_service import STAFF, config, verify, write

EVERY = 4


def write_and_seal(app: Flask, batches: int, *, cfg: service.AuditConfig | None = None) -> None:
    cfg = cfg or config(app, checkpoint_every=EVERY)
    for _ in range(batches):
        write(app, EVERY)
        service.seal_all(app.extensions["governance.db"].session, cfg)


def _superuser(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":  # a superuser switches the append-only triggers off
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def recompute_tree(conn: sa.Connection, *, keep_checkpoints_upto: int) -> None:
    """Renumber the entries by provisional id, recompute every stored leaf hash and the head from the rows as
    they now are, and delete the checkpoints the forged tree no longer matches."""
    table = AuditEntry.__table__
    rows = conn.execute(sa.select(table).where(table.c.seq.is_not(None)).order_by(table.c.seq)).all()
    frontier = merkle.Frontier()
    conn.execute(table.update().where(table.c.seq.is_not(None)).values(seq=-table.c.seq - 1))  # free the seqs
    for seq, row in enumerate(rows):
        leaf = merkle.leaf_hash(service._row_bytes(seq, row))
        frontier.append(leaf)
        conn.execute(table.update().where(table.c.id == row.id).values(seq=seq, leaf_hash=leaf))
    conn.execute(sa.delete(AuditCheckpoint.__table__).where(AuditCheckpoint.size > keep_checkpoints_upto))
    conn.execute(
        AuditHead.__table__.update().values(
            size=frontier.size,
            frontier=[node.hex() for node in frontier.nodes],
            root=frontier.root(),
            checkpoint_size=keep_checkpoints_upto,
        )
    )


def rewrite_history(app: Flask, sql: str, *, keep_checkpoints_upto: int) -> None:
    """The attack of finding 5: change rows, then make the database agree with itself again."""
    with app.extensions["governance.db"].engine.begin() as conn:
        _superuser(conn)
        conn.exec_driver_sql(sql)
        recompute_tree(conn, keep_checkpoints_upto=keep_checkpoints_upto)


def published_sizes(app: Flask) -> list[int]:
    return Publisher(config(app).publish_dir).sizes()


def alarms(app: Flask, action: str = "audit.checkpoint.refused") -> list[dict]:
    with app.extensions["governance.db"].session() as session:
        return [
            row.details
            for row in session.execute(sa.select(AuditEntry.__table__).where(AuditEntry.action == action)).all()
        ]


def test_every_signed_checkpoint_is_published_outside_the_database_once(app):
    write_and_seal(app, 3)
    assert published_sizes(app) == [4, 8, 12]
    publisher = Publisher(config(app).publish_dir)
    published = publisher.read(8)
    assert (published.start, len(published.leaves)) == (4, 4 * 32)
    with app.extensions["governance.db"].session() as session:
        leaves = session.scalars(sa.select(AuditEntry.leaf_hash).where(AuditEntry.seq < 8).order_by(AuditEntry.seq))
        assert published.checkpoint.root == merkle.root_from_leaf_hashes(leaves)
        notes = session.scalars(sa.select(AuditCheckpoint.note).order_by(AuditCheckpoint.size)).all()
    assert [publisher.read(size).checkpoint.to_text() for size in (4, 8, 12)] == notes
    # never overwritten: the same name with another body is refused, the same body is a no-op
    before = publisher.path_for(8).read_bytes()
    assert publisher.publish(published) is False
    from governance.audit.publish import PublishConflictError, PublishedCheckpoint

    forged = PublishedCheckpoint(publisher.read(12).checkpoint, 4, published.frontier, published.leaves)
    with pytest.raises(PublishConflictError):
        publisher.publish(PublishedCheckpoint(forged.checkpoint, 8, publisher.read(12).frontier, b"\0" * 128))
    assert publisher.path_for(8).read_bytes() == before
    assert not [name for name in os.listdir(publisher.directory) if name.startswith(".tmp-")]
    report = verify(app)
    assert report.ok, report.message
    assert (report.extra["published_checkpoints"], report.extra["published_size"]) == (3, 12)


def test_a_recomputed_rewrite_with_deleted_checkpoints_fails_verify_and_the_sealer_refuses(app, client, runner,
                                                                                        login_staff):  # fmt: skip
    """Finding 5: before, verify said OK and the sealer signed the forged tree."""
    write_and_seal(app, 3)
    rewrite_history(app, "UPDATE audit_entries SET action = 'consent.forged' WHERE seq = 5", keep_checkpoints_upto=4)
    report = verify(app)
    assert not report.ok, report.message
    assert (report.failure.reason, report.failure.position) == ("published_leaf_mismatch", 5)
    assert report.unanchored_entries >= 0
    result = runner.invoke(args=["governance", "audit", "verify", "--json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.output)["failure"]["position"] == 5
    login_staff(client, "auditor")
    body = client.get("/api/v1/audit/verify").get_json()
    assert (body["ok"], body["failure"]["reason"], body["failure"]["position"]) == (False, "published_leaf_mismatch", 5)

    # the sealer refuses to sign the forged tree (and says so once, without personal data)
    write(app, 3)
    result = service.seal_all(app.extensions["governance.db"].session, config(app, checkpoint_every=EVERY),
                              force_checkpoint=True)  # fmt: skip
    assert result.checkpoint is None
    assert result.refused == anchors.DATABASE_ROOT_DIFFERS
    assert published_sizes(app) == [4, 8, 12]
    with app.extensions["governance.db"].session() as session:
        assert session.scalars(sa.select(AuditCheckpoint.size)).all() == [4]
    assert alarms(app) == [{"reason": anchors.DATABASE_ROOT_DIFFERS, "published_size": 12}]


@pytest.mark.parametrize("op", ["insert", "delete", "swap"])
def test_recomputed_inserts_deletes_and_swaps_are_named_at_their_position(app, op):
    write_and_seal(app, 3)
    with app.extensions["governance.db"].session() as session:
        ids = session.scalars(sa.select(AuditEntry.id).order_by(AuditEntry.seq)).all()
    sql = {
        "delete": f"DELETE FROM audit_entries WHERE id = {ids[6]}",
        # an entry moved: entry 6 takes entry 9's provisional place in the order
        "swap": f"UPDATE audit_entries SET id = -1 WHERE id = {ids[6]}",
        "insert": "INSERT INTO audit_entries (id, seq, occurred_at, actor_kind, actor_id, action, details)"
        f" SELECT -1, 1000, occurred_at, actor_kind, actor_id, 'consent.forged', details FROM audit_entries"
        f" WHERE id = {ids[6]}",
    }[op]
    with app.extensions["governance.db"].engine.begin() as conn:
        _superuser(conn)
        conn.exec_driver_sql(sql)
        if op != "delete":  # order the rows the attacker wants: by provisional id, the forged one at 6
            table = AuditEntry.__table__
            conn.execute(table.update().where(table.c.id == -1).values(seq=5500 if op == "insert" else 7500))
        _renumber_by_seq(conn)
        recompute_tree(conn, keep_checkpoints_upto=4)
    report = verify(app)
    assert not report.ok
    assert (report.failure.reason, report.failure.position) == ("published_leaf_mismatch", 6), report.message
    assert report.unanchored_entries == report.entries - report.verified_entries >= 0


def _renumber_by_seq(conn: sa.Connection) -> None:
    """Spread seqs out (x1000) keeping their order, so a row given seq 6500 sorts between 6 and 7."""
    table = AuditEntry.__table__
    conn.execute(table.update().where(table.c.seq < 1000, table.c.id != -1).values(seq=table.c.seq * 1000))


def test_a_rollback_below_the_published_size_is_found_and_refused(app):
    write_and_seal(app, 3)
    rewrite_history(app, "DELETE FROM audit_entries WHERE seq >= 6", keep_checkpoints_upto=4)
    report = verify(app)
    assert (report.ok, report.failure.reason, report.failure.position) == (False, "log_truncated", 6)
    write(app, 1)
    result = service.seal_all(app.extensions["governance.db"].session, config(app), force_checkpoint=True)
    assert (result.checkpoint, result.refused) == (None, anchors.DATABASE_SHORTER)
    assert alarms(app) == [{"reason": anchors.DATABASE_SHORTER, "published_size": 12}]


def test_unanchored_entries_are_never_negative_after_recomputed_tampering(app):
    """Finding 6: the report used to subtract the verified prefix from an entry count left at 0."""
    write_and_seal(app, 3)
    with app.extensions["governance.db"].engine.begin() as conn:
        _superuser(conn)
        conn.exec_driver_sql("UPDATE audit_entries SET action = 'consent.forged' WHERE seq = 5")
        recompute_tree(conn, keep_checkpoints_upto=12)  # the database keeps its own checkpoints
    shutil_rmtree(config(app).publish_dir)  # and nothing outside the database names the entry
    report = verify(app)
    assert not report.ok
    assert report.failure.reason == "checkpoint_root_mismatch"
    assert (report.failure.position, report.failure.range_end) == (4, 8)
    assert report.entries == 8
    assert report.unanchored_entries == report.entries - report.verified_entries == 4


def shutil_rmtree(path: Path | None) -> None:
    import shutil

    assert path is not None
    shutil.rmtree(path, ignore_errors=True)


def _export(client, tmp_path: Path, query: str, fmt: str) -> Path:
    response = client.get(f"/api/v1/audit/export?{query}&format={fmt}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    path = tmp_path / f"export-{abs(hash(query))}.{fmt}"
    path.write_bytes(response.get_data())
    return path


def _key(app: Flask):
    with app.app_context():
        pem = app.extensions["governance.keys"].public_key_pem(service.SIGNING_KEY)
    return [(service.KEY_NAME, serialization.load_pem_public_key(pem.encode()))]


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_export_after_a_deleted_entry_or_a_cut_tail_exports_what_is_there_and_reports_the_break(
    app, client, login_staff, tmp_path, damage
):
    """Finding 6: the export answered 500 (IndexError in the consistency proof)."""
    login_staff(client, "auditor")  # its own audit entries are sealed before the damage
    write_and_seal(app, 3)
    with app.extensions["governance.db"].session() as session:
        size = session.scalar(sa.select(sa.func.max(AuditCheckpoint.size)))
    sql = "DELETE FROM audit_entries WHERE " + ("seq = 5" if damage == "delete" else "seq >= 9")
    with app.extensions["governance.db"].engine.begin() as conn:
        _superuser(conn)
        conn.exec_driver_sql(sql)
    expected = {"delete": ("sequence_gap", 5), "truncate": ("log_truncated", 9)}[damage]
    for fmt in ("jsonl", "csv"):
        path = _export(client, tmp_path, "scope=full", fmt)
        report = offline_verify.verify_export(str(path), _key(app))
        assert not report.ok
        assert (report.failure["reason"], report.failure["position"]) == expected, report.message()
        if fmt == "jsonl":
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            assert next(r for r in lines if r["kind"] == "break")["position"] == expected[1]
            assert sum(r["kind"] == "entry" for r in lines) == (size - 1 if damage == "delete" else 9)
        filtered = offline_verify.verify_export(str(_export(client, tmp_path, "scope=filtered&action=consent.", fmt)),
                                                _key(app))  # fmt: skip
        assert not filtered.ok
        assert filtered.failure["reason"] in ("proof_missing", *expected[:1])


def test_offline_verifier_names_a_recomputed_swap_exactly_with_the_published_leaves(app, client, login_staff,
                                                                                   tmp_path):  # fmt: skip
    """Finding 6: the offline verifier named inserted or swapped entries only by checkpoint interval."""
    write_and_seal(app, 3)
    with app.extensions["governance.db"].engine.begin() as conn:
        _superuser(conn)
        table = AuditEntry.__table__
        conn.execute(table.update().where(table.c.seq.is_not(None)).values(seq=table.c.seq * 1000))
        conn.execute(table.update().where(table.c.seq == 5000).values(seq=7500))  # 5 moves behind 7
        recompute_tree(conn, keep_checkpoints_upto=12)
    login_staff(client, "auditor")
    for fmt in ("jsonl", "csv"):
        path = _export(client, tmp_path, "scope=full", fmt)
        report = offline_verify.verify_export(str(path), _key(app))
        failure = report.failure
        assert (report.ok, failure["reason"], failure["position"]) == (False, "published_leaf_mismatch", 5)
    # the same from the operator's copy of the directory, without the export's published records
    lines = [line for line in path.read_text().splitlines(keepends=True) if not line.startswith("published,")]
    bare = tmp_path / "bare.csv"
    bare.write_text("".join(lines))
    alone = offline_verify.verify_export(str(bare), _key(app))
    assert alone.failure["reason"] == "checkpoint_root_mismatch"  # the database's own checkpoints: an interval
    copied = offline_verify.verify_export(str(bare), _key(app), published_dir=str(config(app).publish_dir))
    assert (copied.failure["reason"], copied.failure["position"]) == ("published_leaf_mismatch", 5)


# --- the witness: a separate process with its own key and state ----------------------------------------------


@pytest.fixture
def witness_process(app, tmp_path) -> Iterator[dict]:
    pem = tmp_path / "log.pub.pem"
    with app.app_context():
        pem.write_text(app.extensions["governance.keys"].public_key_pem(service.SIGNING_KEY))
    state = tmp_path / "witness" / "state.json"
    command = [sys.executable, "-m", "governance.audit.witness", "--key-file", str(tmp_path / "witness" / "key.pem"),
               "--state-file", str(state), "--log-public-key", str(pem), "--listen", "127.0.0.1:0"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})  # fmt: skip
    try:
        first = process.stdout.readline()  # blocks until the witness is listening (or has exited)
        assert first.startswith("listening http://127.0.0.1:"), process.stderr.read()
        url, vkey = first.split()[-1], process.stdout.readline().split()[-1]
        yield {"url": url, "vkey": vkey, "state": state, "process": process}
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_the_witness_cosigns_consistent_checkpoints_and_refuses_the_rewritten_tree(app, make_app, witness_process,
                                                                                  tmp_path):  # fmt: skip
    witnessed_app = make_app(AUDIT_WITNESS_URL=witness_process["url"], AUDIT_WITNESS_KEY=witness_process["vkey"])
    cfg = config(witnessed_app, checkpoint_every=EVERY)
    write_and_seal(witnessed_app, 3, cfg=cfg)
    publisher = Publisher(cfg.publish_dir)
    assert [size for size, _, _ in publisher.witnessed()] == [4, 8, 12]
    state = json.loads(witness_process["state"].read_text())
    assert state[cfg.origin]["size"] == 12
    with witnessed_app.extensions["governance.db"].session() as session:
        report = service.verify(session, cfg)
    assert report.ok, report.message
    assert report.extra["witnessed_size"] == 12
    witness_key = offline_verify.parse_vkey(witness_process["vkey"])
    note = publisher.witnessed()[-1][2].read_text()
    assert offline_verify.verify_cosignature(note, witness_key) is not None
    forged_note = note.replace("\n12\n", "\n13\n", 1)
    with pytest.raises(offline_verify.VerificationFailed):
        offline_verify.verify_cosignature(forged_note, witness_key)

    # the attacker rewrites the database, and the published directory is lost as well: the sealer starts over
    # from what the database says, but the witness remembers the tree it cosigned and refuses
    rewrite_history(witnessed_app, "UPDATE audit_entries SET action = 'consent.forged' WHERE seq = 5",
                    keep_checkpoints_upto=4)  # fmt: skip
    shutil_rmtree(cfg.publish_dir)
    write(witnessed_app, 2)
    result = service.seal_all(witnessed_app.extensions["governance.db"].session, cfg, force_checkpoint=True)
    assert result.checkpoint is not None
    assert result.checkpoint.size == 14  # signed from the database alone ...
    assert not Publisher(cfg.publish_dir).witnessed()  # ... but never cosigned
    assert json.loads(witness_process["state"].read_text()) == state
    assert alarms(witnessed_app, "audit.checkpoint.witness_refused") == [{"status": 422, "size": 14}]
    assert witness_process["process"].poll() is None


def test_witness_protocol_answers(app, tmp_path):
    """The tlog-witness answers, on the callable form: 409 with the size, 403, 422, 400."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from governance.audit.checkpoint import sign_checkpoint
    from governance.audit.witness import Witness, request_body

    log_key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    witness = Witness(Ed25519PrivateKey.generate(), "w.example/1", tmp_path / "state.json", origin="o/log",
                      log_keys=[("log", log_key.public_key())])  # fmt: skip
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(10)]
    tree = merkle.InMemoryTree(leaves)

    def note(size, key=log_key, root=None):
        return sign_checkpoint(key, key_name="log", origin="o/log", size=size, root=root or tree.root(size),
                               time=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).to_text()  # fmt: skip

    status, _, line = witness.add_checkpoint(request_body(0, [], note(4)))
    assert status == 200
    assert line.startswith("\u2014 w.example/1 ")
    assert offline_verify.verify_cosignature(note(4) + line, offline_verify.parse_vkey(witness.vkey)) is not None
    assert witness.add_checkpoint(request_body(0, [], note(7)))[:2] == (409, "text/x.tlog.size")
    assert witness.add_checkpoint(request_body(0, [], note(7)))[2] == "4\n"
    assert witness.add_checkpoint(request_body(4, merkle.consistency_proof(tree, 4, 7), note(7, other)))[0] == 403
    forged = merkle.InMemoryTree([b"\0" * 32, *leaves[1:]])
    bad = request_body(4, merkle.consistency_proof(forged, 4, 7), note(7, root=forged.root(7)))
    assert witness.add_checkpoint(bad)[0] == 422
    assert witness.add_checkpoint(b"nonsense")[0] == 400
    assert witness.add_checkpoint(request_body(4, merkle.consistency_proof(tree, 4, 7), note(7)))[0] == 200
    assert witness.state()["size"] == 7
    # the same size with another root (a fork) is refused too
    assert witness.add_checkpoint(request_body(7, [], note(7, root=forged.root(7))))[0] == 422


def test_offline_verifier_requires_and_checks_the_witness(app, make_app, witness_process, client, login_staff,
                                                         tmp_path):  # fmt: skip
    witnessed_app = make_app(AUDIT_WITNESS_URL=witness_process["url"], AUDIT_WITNESS_KEY=witness_process["vkey"])
    write_and_seal(witnessed_app, 2, cfg=config(witnessed_app, checkpoint_every=EVERY))
    login_staff(client, "auditor")
    path = _export(client, tmp_path, "scope=full", "jsonl")  # the export itself is made by the plain app
    pem = tmp_path / "log.pub.pem"
    with app.app_context():
        pem.write_text(app.extensions["governance.keys"].public_key_pem(service.SIGNING_KEY))
    args = [sys.executable, "-m", "governance.audit.offline_verify", str(path), "--public-key", str(pem), "--json",
            "--witness-key", witness_process["vkey"]]  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout
    assert report["witnessed"] == {"witness.governance.local/w1": 8}
    other = offline_verify.parse_vkey(witness_process["vkey"])
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from governance.audit.witness import make_vkey

    stranger = make_vkey(other.name, Ed25519PrivateKey.generate().public_key())
    result = subprocess.run([*args[:-1], stranger], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert json.loads(result.stdout)["failure"]["reason"] == "witness_cosignature_missing"


def test_record_alarm_and_refusal_hold_no_personal_data(app):
    write_and_seal(app, 3)
    rewrite_history(app, "UPDATE audit_entries SET actor_id = 'someone' WHERE seq = 2", keep_checkpoints_upto=0)
    with app.extensions["governance.db"].session() as session:
        record(session, actor=STAFF, action="consent.decision.recorded", target=("subject", uuid.uuid4()))
        session.commit()
    service.seal_all(app.extensions["governance.db"].session, config(app), force_checkpoint=True)
    [details] = alarms(app)
    assert set(details) == {"reason", "published_size"}


def test_the_witness_runs_copied_out_next_to_the_offline_verifier(tmp_path):
    """Like the offline verifier, the witness needs only the standard library and cryptography."""
    import shutil

    from governance.audit import witness
    from governance.audit.offline_verify import build

    shutil.copy(witness.__file__, tmp_path / "witness.py")
    build.build(tmp_path / "offline_verify.pyz")
    # the repository is installed in this virtualenv: block it, as on an auditor's machine
    runner = ("import runpy, sys; sys.modules['governance'] = None; sys.path.insert(0, '.');"
              " sys.argv = ['witness.py', '--help']; runpy.run_path('witness.py', run_name='__main__')")  # fmt: skip
    result = subprocess.run([sys.executable, "-I", "-c", runner], capture_output=True, text=True, check=False,
                            cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "--state-file" in result.stdout


def test_the_witness_client_opens_only_http_urls() -> None:
    from governance.audit.anchors import _post

    for url in ("file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/"):
        with pytest.raises(ValueError, match="http or https"):
            _post(url, b"", 1.0)
