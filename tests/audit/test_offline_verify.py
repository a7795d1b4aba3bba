"""The standalone offline verifier: runs from its shipped zipapp with only the standard library and cryptography,
and agrees with the service's verifier on full and filtered exports, tampered or not."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from governance.audit import merkle, offline_verify, verifier
from governance.audit.export import ExportEntry, ExportHeader, csv_lines, jsonl_lines
from governance.audit.offline_verify import build
from tests.audit.logfactory import KEY_NAME, ORIGIN, make_log

LOG = make_log(150, checkpoint_every=40)
TREE = merkle.InMemoryTree([digest for _, digest in LOG.entries])


def header(scope="full"):
    return ExportHeader(ORIGIN, scope, 150, "2026-11-28T12:00:00Z", {})


def consistency():
    sizes = [cp.size for cp in LOG.checkpoints]
    return [(a, b, merkle.consistency_proof(TREE, a, b)) for a, b in itertools.pairwise(sizes)]


def full_export(path: Path, fmt="jsonl") -> Path:
    writer = jsonl_lines if fmt == "jsonl" else csv_lines
    entries = [ExportEntry(entry, digest) for entry, digest in LOG.entries]
    path.write_text("".join(writer(header(), LOG.checkpoints, consistency(), entries)), encoding="utf-8")
    return path


def filtered_export(path: Path, seqs, fmt="jsonl") -> Path:
    writer = jsonl_lines if fmt == "jsonl" else csv_lines
    last = LOG.checkpoints[-1].size
    entries = [
        ExportEntry(LOG.entries[s][0], LOG.entries[s][1], last, merkle.inclusion_proof(TREE, s, last)) for s in seqs
    ]
    path.write_text("".join(writer(header("filtered"), LOG.checkpoints, consistency(), entries)), encoding="utf-8")
    return path


@pytest.fixture
def public_key_pem(tmp_path) -> Path:
    path = tmp_path / "audit.pub.pem"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    path.write_bytes(LOG.key.public_key().public_bytes(serialization.Encoding.PEM, spki))
    return path


def run(export: Path, key: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "governance.audit.offline_verify", str(export), "--public-key", str(key),
         "--key-name", KEY_NAME, "--json", *extra],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def verify(path: Path) -> offline_verify.Report:
    return offline_verify.verify_export(str(path), [(KEY_NAME, LOG.key.public_key())])


def test_the_shipped_zipapp_runs_with_only_stdlib_and_cryptography(tmp_path, public_key_pem):
    """Built as auditors get it (one file, docs/audit.md) and run in isolated mode: no governance package, no
    Flask, and no source in it imports the service."""
    script = tmp_path / "standalone" / "offline_verify.pyz"
    build.build(script)
    export = full_export(tmp_path / "export.jsonl")
    runner = (f"import runpy, sys; sys.modules['governance'] = None; sys.argv = [{str(script)!r}, *sys.argv[1:]];"
              f" runpy.run_path({str(script)!r}, run_name='__main__')")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-I", "-c", runner, str(export), "--public-key", str(public_key_pem), "--key-name", KEY_NAME],
        capture_output=True,
        text=True,
        check=False,
        cwd=script.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: verified 150 of 150")
    direct = subprocess.run([sys.executable, "-I", str(script), "--help"], capture_output=True, text=True, check=False)
    assert direct.returncode == 0, direct.stderr
    with zipfile.ZipFile(script) as archive:
        names = archive.namelist()
        sources = [archive.read(name).decode() for name in names]
    assert "__main__.py" in names
    assert "offline_verify/build.py" not in names
    assert not any("import governance" in text or "from governance" in text for text in sources)


def test_the_zipapp_build_is_reproducible(tmp_path):
    """The operator publishes the SHA-256 the build prints; a rebuild from the same source gives the same file."""
    first, second = tmp_path / "a" / "offline_verify.pyz", tmp_path / "b" / "offline_verify.pyz"
    assert build.build(first) == build.build(second)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_full_and_filtered_exports_verify(tmp_path, public_key_pem, fmt):
    result = run(full_export(tmp_path / f"e.{fmt}", fmt), public_key_pem)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["ok"], report["entries"], report["verified_entries"]) == (True, 150, 150)
    filtered = verify(filtered_export(tmp_path / f"f.{fmt}", [3, 77, 149], fmt))
    assert filtered.ok, filtered.message()
    assert filtered.entries == 3


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def entry_line_index(lines: list[str], seq: int) -> int:
    return next(i for i, line in enumerate(lines) if f'"seq":{seq},' in line and line.startswith('{"kind":"entry"'))


@pytest.mark.parametrize("seq", [0, 39, 40, 100, 149])
def test_tampered_exports_name_the_same_position_as_the_service_verifier(tmp_path, public_key_pem, seq):
    original = lines_of(full_export(tmp_path / "e.jsonl"))
    i = entry_line_index(original, seq)
    cases = {
        "alter": ([*original[:i], original[i].replace("actor-", "actor-X"), *original[i + 1 :]], seq),
        "delete": (original[:i] + original[i + 1 :], seq),
        "swap": ([*original[:i], original[i + 1], original[i], *original[i + 2 :]], seq) if seq < 149 else None,
        "truncate": ([*original[:i], json.dumps({"kind": "end", "entries": seq}) + "\n"], seq),
    }
    for name, case in cases.items():
        if case is None:
            continue
        lines, expected = case
        if name == "delete":  # keep the end record consistent so only the log itself is at fault
            lines[-1] = json.dumps({"kind": "end", "entries": 149}) + "\n"
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(lines), encoding="utf-8")
        offline = verify(path)
        assert not offline.ok, name
        assert offline.failure["position"] == expected, (name, offline.message())
        service = verifier.verify_log(_entries_from(lines), LOG.checkpoints, LOG.public_keys)
        assert service.failure.position == expected
        assert service.failure.reason == offline.failure["reason"]
    assert run(path, public_key_pem).returncode == 1


def _entries_from(lines):
    for line in lines:
        data = json.loads(line)
        if data["kind"] == "entry":
            yield data["entry"], bytes.fromhex(data["leaf_hash"])


def test_a_tampered_entry_in_a_filtered_export_fails_its_inclusion_proof(tmp_path):
    path = filtered_export(tmp_path / "f.jsonl", [5, 60])
    lines = lines_of(path)
    i = entry_line_index(lines, 60)
    # recompute the stated leaf hash so that only the inclusion proof can tell
    data = json.loads(lines[i])
    data["entry"]["action"] = "vault.field.read"
    canonical = json.dumps(data["entry"], sort_keys=True, separators=(",", ":")).encode()
    data["leaf_hash"] = merkle.leaf_hash(canonical).hex()
    lines[i] = json.dumps(data) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    report = verify(path)
    assert (report.ok, report.failure["reason"], report.failure["position"]) == (False, "inclusion_proof_invalid", 60)


def test_missing_checkpoint_coverage_and_cut_off_files(tmp_path, public_key_pem):
    lines = lines_of(full_export(tmp_path / "e.jsonl"))
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:-1]), encoding="utf-8")
    assert run(cut, public_key_pem).returncode == 2  # no end record: unusable, not "verified"
    # an auditor's saved checkpoint the export no longer reaches: truncation is detected
    later = LOG.checkpoints[-1]
    saved = tmp_path / "saved.txt"
    saved.write_text(later.to_text(), encoding="utf-8")
    short = [line for line in lines if f'"size":{later.size},' not in line and f'"to":{later.size}}}' not in line]
    i = entry_line_index(short, 120)
    short = [*short[:i], json.dumps({"kind": "end", "entries": 120}) + "\n"]
    path = tmp_path / "short.jsonl"
    path.write_text("".join(short), encoding="utf-8")
    assert verify(path).ok  # on its own the shortened export looks fine (up to checkpoint size 120) ...
    result = run(path, public_key_pem, "--checkpoint", str(saved))
    report = json.loads(result.stdout)
    assert (result.returncode, report["failure"]["reason"], report["failure"]["position"]) == (1, "log_truncated", 120)


def test_other_keys_are_not_trusted(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    report = offline_verify.verify_export(
        str(full_export(tmp_path / "e.jsonl")), [(KEY_NAME, Ed25519PrivateKey.generate().public_key())]
    )
    assert report.failure["reason"] == "checkpoint_unknown_key"
    assert dt.datetime.now(dt.UTC)  # the report is produced, never an exception


def test_service_written_entry_lines_take_the_fast_path_and_edits_fall_back_to_the_full_check(tmp_path):
    path = full_export(tmp_path / "export.jsonl")
    items = list(offline_verify._read_jsonl(str(path)))
    assert sum(type(item) is bytes for item in items) == 150  # hashed as they are, no per-entry parse
    # the same entry with other spacing still verifies (through the full parse), a changed one does not
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith('{"kind":"entry"'))
    respaced = lines[at].replace('"entry":{', '"entry": {', 1)
    (tmp_path / "respaced.jsonl").write_text("".join([*lines[:at], respaced, *lines[at + 1 :]]))
    keys = [(KEY_NAME, LOG.key.public_key())]
    assert offline_verify.verify_export(str(tmp_path / "respaced.jsonl"), keys).ok
    changed = lines[at + 7].replace('"count":', '"count":1', 1)
    (tmp_path / "changed.jsonl").write_text("".join([*lines[: at + 7], changed, *lines[at + 8 :]]))
    report = offline_verify.verify_export(str(tmp_path / "changed.jsonl"), keys)
    assert (report.ok, report.failure["reason"], report.failure["position"]) == (False, "leaf_hash_mismatch", 7)
