"""Proofs for auditors: consistency from a checkpoint saved earlier (any tree size) to a newly signed one, and
inclusion of one entry; built by the service (API and CLI), checked by the offline verifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask

from governance.audit import merkle, offline_verify, service
from governance.audit.checkpoint import sign_checkpoint
from governance.db import utcnow
from tests.audit.test_service import config, seal, write


def _public_key(app: Flask) -> list:
    with app.app_context():
        pem = app.extensions["governance.keys"].public_key_pem(service.SIGNING_KEY)
    return [(service.KEY_NAME, serialization.load_pem_public_key(pem.encode()))]


def _check(app: Flask, tmp_path: Path, proof: dict, saved: list[str] = ()) -> offline_verify.ProofReport:
    path = tmp_path / f"proof-{proof['kind']}.json"
    path.write_text(json.dumps(proof))
    return offline_verify.verify_proof(str(path), _public_key(app), saved_checkpoints=list(saved))


def test_consistency_from_a_saved_checkpoint_to_the_current_one_verifies_offline(app, client, login_staff, tmp_path):
    write(app, 10)
    seal(app, checkpoint_every=10)
    login_staff(client, "auditor")
    saved = client.get("/api/v1/audit/checkpoints").get_json()["checkpoints"][-1]  # what the auditor keeps
    assert saved.split("\n")[1] == "10"
    write(app, 27)

    response = client.get("/api/v1/audit/proofs/consistency?old_size=10")
    assert response.status_code == 200, response.get_json()
    proof = response.get_json()
    assert proof["old_size"] == 10
    assert proof["new_size"] >= 37  # sealed and signed for the request (sign-ins are audited too)
    report = _check(app, tmp_path, proof, [saved])
    assert report.ok, report.message()
    assert "extends the tree of size 10 from your saved checkpoint" in report.message()

    # the command-line auditor procedure on the same files
    (tmp_path / "saved.txt").write_text(saved)
    (tmp_path / "key.pem").write_text(client.get("/api/v1/audit/checkpoints").get_json()["public_key_pem"])
    args = ["--proof", str(tmp_path / "proof-consistency.json"), "--public-key", str(tmp_path / "key.pem")]
    assert offline_verify.main([*args, "--checkpoint", str(tmp_path / "saved.txt")]) == 0

    # a proof altered in transit, or a saved checkpoint of another (forked) history, does not verify
    broken = dict(proof, path=[("00" * 32), *proof["path"][1:]])
    assert _check(app, tmp_path, broken, [saved]).failure["reason"] == "consistency_proof_invalid"
    with app.app_context():
        key = app.extensions["governance.keys"].signing_key(service.SIGNING_KEY)
    forked = sign_checkpoint(
        key, key_name=service.KEY_NAME, origin=proof["origin"], size=10, root=b"\x07" * 32, time=utcnow()
    ).to_text()
    assert _check(app, tmp_path, proof, [forked]).failure["reason"] == "consistency_proof_invalid"


def test_consistency_proofs_hold_for_every_earlier_tree_size(app):
    write(app, 23)
    seal(app, checkpoint_every=23)
    db = app.extensions["governance.db"]
    with db.session() as session:
        cps = service.checkpoints(session)
        leaves = [row.leaf_hash for row in service._sealed_rows(session)]
        for old_size in range(1, 24):
            proof = service.consistency_proof(session, config(app), old_size)
            path = [bytes.fromhex(h) for h in proof["path"]]
            old_root = merkle.root_from_leaf_hashes(leaves[:old_size])
            assert merkle.verify_consistency(old_size, 23, old_root, cps[-1].root, path), old_size
            assert not merkle.verify_consistency(old_size, 23, b"\x01" * 32, cps[-1].root, path)


def test_inclusion_proof_of_one_entry_verifies_offline(app, client, login_staff, runner, tmp_path):
    write(app, 19)
    login_staff(client, "auditor")
    response = client.get("/api/v1/audit/proofs/inclusion?seq=11")
    assert response.status_code == 200, response.get_json()
    proof = response.get_json()
    assert (proof["seq"], proof["entry"]["seq"]) == (11, 11)
    assert proof["tree_size"] >= 19
    assert len(proof["path"]) <= (proof["tree_size"] - 1).bit_length()
    report = _check(app, tmp_path, proof)
    assert report.ok, report.message()

    forged = json.loads(json.dumps(proof))
    forged["entry"]["action"] = "consent.forged"
    assert _check(app, tmp_path, forged).failure["reason"] == "leaf_hash_mismatch"
    moved = dict(proof, seq=12, entry=dict(proof["entry"], seq=12))
    assert _check(app, tmp_path, moved).failure["reason"] in ("leaf_hash_mismatch", "inclusion_proof_invalid")

    out = tmp_path / "cli-proof.json"
    result = runner.invoke(args=["governance", "audit", "prove-inclusion", "--seq", "3", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert offline_verify.verify_proof(str(out), _public_key(app)).ok
    size = str(proof["tree_size"])
    result = runner.invoke(args=["governance", "audit", "prove-consistency", "--old-size", "5", "--new-size", size])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["old_size"] == 5


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("consistency?old_size=0", 422, None),
        ("consistency?old_size=999", 422, "invalid_proof_request"),
        ("consistency?old_size=2&new_size=7", 404, "checkpoint_not_found"),
        ("inclusion?seq=8&tree_size=8", 422, "invalid_proof_request"),
        ("inclusion?seq=1&tree_size=3", 404, "checkpoint_not_found"),
    ],
)
def test_proof_requests_outside_the_signed_log_are_refused(app, client, login_staff, query, status, code):
    write(app, 8)
    seal(app, checkpoint_every=8)
    login_staff(client, "auditor")
    response = client.get(f"/api/v1/audit/proofs/{query}")
    assert response.status_code == status, response.get_json()
    if code:
        assert response.get_json()["error"] == code


def test_proofs_are_for_auditors_only(app, client, login_staff):
    assert client.get("/api/v1/audit/proofs/inclusion?seq=0").status_code in (401, 403)
    login_staff(client, "support")
    assert client.get("/api/v1/audit/proofs/consistency?old_size=1").status_code in (403, 404)
