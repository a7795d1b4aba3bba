"""Verification speed of the audit log (offline export and database), and inclusion proof sizes.

Builds a sealed log of N entries (default 1,000,000; fixed seed, realistic entry shape) with a signed
checkpoint every 10,000 entries, then measures, each `--repeat` times (best reported, every run listed with the
load average, as the machine may be shared):
- the offline verifier over a full JSON Lines export of it (read, hash every entry, Merkle roots, signatures);
- the service verifier (`service.verify`, what `governance audit verify` and `/api/v1/audit/verify` run) over
  the same log stored in a fresh PostgreSQL database (`--database`; `--no-database` skips it): stream the rows
  through a server-side cursor, rebuild each entry's canonical bytes, hash, compare, roots, signatures;
- inclusion proof sizes (hashes and bytes) for trees of 10^3..10^9 leaves.
Prints one JSON object. `--quick` uses 50,000 entries.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import merkle, offline_verify
from governance.audit.canonical import entry_bytes, format_time
from governance.audit.checkpoint import Checkpoint, sign_checkpoint
from governance.audit.export import EXPORT_FORMAT

ORIGIN = "bench.governance/audit"
KEY_NAME = "bench-audit"
ACTIONS = ["consent.granted", "consent.withdrawn", "vault.field.read", "dsr.erasure.completed", "gateway.release.made"]
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def generate(size: int) -> Iterator[tuple[Any, ...]]:
    """(seq, time, actor_kind, actor_id, action, target_kind, target_id, request_id, policy_version, details)."""
    rng = random.Random(4)
    for seq in range(size):
        details = {"purpose": "personalization", "fields": rng.randint(1, 9), "epsilon": {"$decimal": "0.5"}}
        yield (
            seq,
            T0 + dt.timedelta(microseconds=seq * 1700 + rng.randint(0, 999)),
            rng.choice(("staff", "client", "system", "subject")),
            str(uuid.UUID(int=rng.getrandbits(128))),
            rng.choice(ACTIONS),
            "subject",
            str(uuid.UUID(int=rng.getrandbits(128))),
            f"{rng.getrandbits(64):016x}",
            "policies@4f2a9c1",
            details,
        )


def canonical(row: tuple[Any, ...]) -> bytes:
    seq, time_, ak, ai, action, tk, ti, rid, pv, details = row
    details_text = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return entry_bytes(seq, format_time(time_), ak, ai, action, tk, ti, rid, pv, details_text)


def write_export(
    path: Path, size: int, every: int, key: Ed25519PrivateKey, publish_dir: Path | None = None
) -> list[Checkpoint]:
    """The export file; with `publish_dir`, also every checkpoint as the sealer publishes it (with its leaves)."""
    from governance.audit.publish import PublishedCheckpoint, Publisher

    frontier = merkle.Frontier()
    checkpoints = []
    interval: list[bytes] = []
    entry_lines = path.with_suffix(".entries")
    with entry_lines.open("w", encoding="utf-8") as out:
        for row in generate(size):
            data = canonical(row)
            digest = merkle.leaf_hash(data)
            frontier.append(digest)
            interval.append(digest)
            out.write('{"kind":"entry","leaf_hash":"' + digest.hex() + '","entry":' + data.decode() + "}\n")
            if frontier.size % every == 0 or frontier.size == size:
                at = T0 + dt.timedelta(seconds=frontier.size)
                checkpoints.append(
                    sign_checkpoint(
                        key, key_name=KEY_NAME, origin=ORIGIN, size=frontier.size, root=frontier.root(), time=at
                    )
                )
                if publish_dir is not None:
                    start = frontier.size - len(interval)
                    published = PublishedCheckpoint(checkpoints[-1], start, frontier.copy(), b"".join(interval))
                    Publisher(publish_dir).publish(published)
                interval = []
    with path.open("w", encoding="utf-8") as out:
        header = {"kind": "header", "format": EXPORT_FORMAT, "origin": ORIGIN, "scope": "full", "tree_size": size}
        out.write(json.dumps(header) + "\n")
        for cp in checkpoints:
            out.write(json.dumps({"kind": "checkpoint", "size": cp.size, "text": cp.to_text()}) + "\n")
        with entry_lines.open(encoding="utf-8") as entries:
            for line in entries:
                out.write(line)
        out.write(json.dumps({"kind": "end", "entries": size}) + "\n")
    entry_lines.unlink()
    return checkpoints


def load_database(url: str, size: int, checkpoints: list[Checkpoint]) -> None:
    """The same log as sealed rows (COPY), with its checkpoints, in a migrated database."""
    import sqlalchemy as sa

    from governance.db import make_engine

    engine = make_engine(url, poolclass=sa.pool.NullPool)
    columns = "id, seq, leaf_hash, occurred_at, actor_kind, actor_id, action, target_kind, target_id, request_id,"
    columns += " policy_version, details"
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY audit_entries ({columns}) FROM STDIN") as copy:
            for row in generate(size):
                seq, time_, ak, ai, action, tk, ti, rid, pv, details = row
                digest = merkle.leaf_hash(canonical(row))
                copy.write_row((seq + 1, seq, digest, time_, ak, ai, action, tk, ti, rid, pv, json.dumps(details)))
        for cp in checkpoints:
            conn.execute(
                sa.text(
                    "INSERT INTO audit_checkpoints (size, root, signed_at, key_id, note) VALUES (:s, :r, :t, :k, :n)"
                ),
                {"s": cp.size, "r": cp.root, "t": cp.time, "k": cp.key_id, "n": cp.to_text()},
            )
        conn.exec_driver_sql("ANALYZE audit_entries")
    engine.dispose()


def backend_cpu(pid: int) -> float | None:
    """CPU seconds used so far by one PostgreSQL backend (local server, readable /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn: Any) -> dict[str, Any]:
    load = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"seconds": round(wall, 2), "client_cpu_seconds": round(cpu, 2), "load_average_1m": round(load, 2)}


def best(runs: list[dict[str, Any]], size: int) -> dict[str, Any]:
    top = min(runs, key=lambda run: run["seconds"])
    return {
        "best_seconds": top["seconds"],
        "best_entries_per_second": round(size / top["seconds"]),
        "best_run_load_average_1m": top["load_average_1m"],
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--entries", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="a server URL; a fresh database is made there")
    parser.add_argument("--no-database", action="store_true")
    args = parser.parse_args()
    size = args.entries or (50_000 if args.quick else 1_000_000)
    every = 10_000
    key = Ed25519PrivateKey.generate()
    result: dict[str, Any] = {"figure": "audit_verify", "entries": size, "checkpoint_every": every}

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.jsonl"
        started = time.perf_counter()
        publish_dir = Path(tmp) / "published"
        checkpoints = write_export(path, size, every, key, publish_dir)
        result["build_seconds"] = round(time.perf_counter() - started, 2)
        result["export_bytes"] = os.path.getsize(path)
        result["published_bytes"] = sum(f.stat().st_size for f in publish_dir.iterdir())

        def offline(published: str | None = None) -> None:
            report = offline_verify.verify_export(str(path), [(KEY_NAME, key.public_key())], published_dir=published)
            if not (report.ok and report.verified_entries == size):
                raise SystemExit(report.message())

        result["offline"] = best([timed(offline) for _ in range(args.repeat)], size)
        # the same with every entry also compared with the leaf hash published outside the database
        result["offline_published"] = best([timed(lambda: offline(str(publish_dir))) for _ in range(args.repeat)], size)
        published_copy = Path(tempfile.mkdtemp(prefix="audit-published-"))
        shutil.copytree(publish_dir, published_copy, dirs_exist_ok=True)

    if not args.no_database:
        import sqlalchemy as sa
        from sqlalchemy.orm import Session

        from governance.audit import service
        from governance.db import make_engine
        from governance.migrations_support import upgrade
        from tests.conftest import create_postgres_database, drop_postgres_database

        url = create_postgres_database(args.database, prefix="bench_audit_verify")
        try:
            upgrade(url)
            started = time.perf_counter()
            load_database(url, size, checkpoints)
            result["database_load_seconds"] = round(time.perf_counter() - started, 2)
            config = service.AuditConfig(origin=ORIGIN, public_keys=((KEY_NAME, key.public_key()),))
            engine = make_engine(url, poolclass=sa.pool.NullPool)

            server_cpu: list[float | None] = []

            def database() -> None:
                with Session(engine) as session:
                    pid = session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
                    before = backend_cpu(pid)
                    report = service.verify(session, config)
                    after = backend_cpu(pid)
                    server_cpu.append(None if before is None or after is None else round(after - before, 2))
                if not (report.ok and report.verified_entries == size):
                    raise SystemExit(report.message)

            runs = [timed(database) for _ in range(args.repeat)]
            for run, cpu in zip(runs, server_cpu, strict=True):
                run["server_cpu_seconds"] = cpu
            result["database"] = best(runs, size)
            # and against the published directory (its leaves compared entry by entry)
            published_config = dataclasses.replace(config, publish_dir=published_copy)

            def database_published() -> None:
                with Session(engine) as session:
                    report = service.verify(session, published_config)
                if not (report.ok and report.verified_entries == size and report.extra["published_checkpoints"]):
                    raise SystemExit(report.message)

            result["database_published"] = best([timed(database_published) for _ in range(args.repeat)], size)
            result["database"]["server"] = f"PostgreSQL {'.'.join(map(str, engine.dialect.server_version_info))}"
            engine.dispose()
        finally:
            drop_postgres_database(url)
    shutil.rmtree(published_copy, ignore_errors=True)

    proof_sizes = {}
    for exponent in (3, 6, 9):
        n = 10**exponent
        hashes = (n - 1).bit_length()  # the longest audit path in a tree of n leaves
        proof_sizes[f"1e{exponent}"] = {"max_hashes": hashes, "max_bytes": hashes * 32}
    tree = merkle.InMemoryTree(merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(4096))
    measured = [len(merkle.inclusion_proof(tree, i, 4096)) for i in range(0, 4096, 97)]
    result.update(
        {
            "target": "1,000,000 entries in under 10 s",
            "inclusion_proof": {"by_tree_size": proof_sizes, "measured_hashes_at_4096": max(measured)},
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        }
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
