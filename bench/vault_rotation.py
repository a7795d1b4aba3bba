"""Master-key rotation of 100,000 data keys (re-wrap in committed batches, retire the old version), on SQLite and
PostgreSQL. Target: under 60 s. Prints one JSON object. `--quick` uses 10,000 keys.

The data keys are set up in bulk (wrapped exactly as the vault wraps them); the timed part is
`keymanagement.run_master_rotation`, the same code the rotation job runs.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from governance.access.principals import Principal
from governance.db import make_engine, utcnow
from governance.migrations_support import upgrade
from governance.vault import keymanagement
from governance.vault.crypto import BlindIndex, Envelope, new_data_key
from governance.vault.keyproviders import StaticKeyProvider
from governance.vault.models import DataKey, MasterKeyVersion, Subject
from governance.vault.runtime import DEFAULT_CATEGORIES, VaultRuntime, cached_catalog, configure

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ACTOR = Principal.system("bench")


def seed(engine: sa.Engine, envelope: Envelope, count: int) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(MasterKeyVersion), [{"version": 1, "provider": "static", "state": "active", "created_at": now}]
        )
        for start in range(0, count, 10_000):
            ids = [uuid.UUID(int=n + 1) for n in range(start, min(count, start + 10_000))]
            conn.execute(
                sa.insert(Subject),
                [
                    {
                        "id": i,
                        "jurisdiction": "EU",
                        "status": "active",
                        "key_version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                sa.insert(DataKey),
                [
                    {
                        "subject_id": i,
                        "version": 1,
                        "master_version": 1,
                        "created_at": now,
                        "wrapped": envelope.wrap(i, 1, new_data_key(), 1).wrapped,
                    }
                    for i in ids
                ],
            )


def run(url: str, count: int, batch_size: int) -> dict[str, Any]:
    upgrade(url)
    provider = StaticKeyProvider({1: os.urandom(32)})
    envelope = Envelope(provider, cache_size=10)
    configure(VaultRuntime(envelope, BlindIndex(os.urandom(32)), cached_catalog(DEFAULT_CATEGORIES)))
    engine = make_engine(url)
    seed(engine, envelope, count)
    session = sessionmaker(engine, expire_on_commit=False)()
    started = time.perf_counter()
    view = keymanagement.run_master_rotation(session, actor=ACTOR, batch_size=batch_size)
    elapsed = time.perf_counter() - started
    session.close()
    with engine.connect() as conn:
        remaining_old = conn.execute(
            sa.text("SELECT count(*) FROM vault_data_keys WHERE master_version <> :v"), {"v": view.target_version}
        ).scalar_one()
    engine.dispose()
    return {
        "data_keys": view.total,
        "remaining_under_old_version": remaining_old,
        "retired_versions": view.retired_versions,
        "seconds": round(elapsed, 2),
        "keys_per_s": round(view.total / elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=2000)
    args = parser.parse_args()
    count = 10_000 if args.quick else 100_000
    results: dict[str, Any] = {
        "figure": "vault_rotation",
        "data_keys": count,
        "batch_size": args.batch_size,
        "target_s": 60,
    }
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", count, args.batch_size)
    if args.backend in ("postgresql", "both"):
        name = f"vault_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = sa.make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)
            results["postgresql"] = run(url, count, args.batch_size)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    results["cpus"] = os.cpu_count()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
