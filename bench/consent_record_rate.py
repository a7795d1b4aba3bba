"""Recorded decisions per second (ledger event + state row + audit entry + signed receipt, one transaction per
decision, as `record_decisions` runs under the API), with 1 writer and with several writer PROCESSES on distinct
subjects (processes, so that the client's GIL is not what is measured), as ratios to a ceiling measured in the
same run with the same processes: bare committed one-row INSERT transactions through the same engine.

    python bench/consent_record_rate.py [--postgres URL] [--subjects 600] [--writers 1,4,8] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import multiprocessing as mp
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consent_common import PURPOSE, SEED, bench_app

PROBE = "consent_bench_probe"


def _worker(config: dict[str, Any], kind: str, subjects: list[str], rounds: int, barrier: Any, queue: Any) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import sqlalchemy as sa

    from governance import create_app
    from governance.access.principals import Principal
    from governance.consent import service
    from governance.db import transaction

    app = create_app(config)
    db = app.extensions["governance.db"]
    actor = Principal(kind="client", id="bench", scopes=frozenset({"consents:write"}))
    probe = sa.table(PROBE, sa.column("id", sa.Uuid), sa.column("at", sa.DateTime(timezone=True)))
    ids = [uuid.UUID(s) for s in subjects]
    done = 0
    with app.app_context():
        if kind == "consent":  # warm-up: load the catalog and the signing key, publish the key
            with db.session() as s, transaction(s):
                service.record_decisions(s, ids[0], [{"purpose": "marketing_email", "decision": "granted"}],
                                         method="api", actor=actor, jurisdiction="EU")  # fmt: skip
        barrier.wait(timeout=600)  # every writer has started and warmed up
        began = time.time()
        for round_ in range(rounds):
            decision = "granted" if round_ % 2 == 0 else "withdrawn"
            for sid in ids:
                if kind == "consent":
                    with db.session() as s, transaction(s):
                        service.record_decisions(s, sid, [{"purpose": PURPOSE, "decision": decision}],
                                                 method="api", actor=actor, jurisdiction="EU")  # fmt: skip
                else:
                    with db.engine.begin() as conn:
                        conn.execute(probe.insert().values(id=uuid.uuid4(), at=dt.datetime.now(dt.UTC)))
                done += 1
        queue.put((done, began, time.time()))
    db.dispose()


class WaitSampler:
    """PostgreSQL only: what the benchmark's active backends wait on, sampled every 20 ms from pg_stat_activity
    (`Lock` waits would mean writers queue behind each other's row or table locks)."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.counts, self.samples = engine, collections.Counter(), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = (
            "SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, 'running') FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'"
        )
        with self.engine.connect() as conn:
            while not self._stop.wait(0.02):
                self.counts.update(conn.exec_driver_sql(query).scalars().all())
                conn.rollback()
                self.samples += 1

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict[str, Any]:
        return {"samples": self.samples, "active_backend_states": dict(self.counts.most_common(8))}


def run(config: dict[str, Any], kind: str, subjects: list[uuid.UUID], writers: int, rounds: int) -> float:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    barrier = ctx.Barrier(writers)
    shares = [[str(s) for s in subjects[i::writers]] for i in range(writers)]
    procs = [ctx.Process(target=_worker, args=(config, kind, share, rounds, barrier, queue)) for share in shares]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join()
    # Wall-clock window from the first writer's start (after the common barrier) to the last writer's end.
    elapsed = max(r[2] for r in results) - min(r[1] for r in results)
    return sum(r[0] for r in results) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--subjects", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", default="1,4,8")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.subjects, args.rounds, args.writers = 40, 2, "1,2"
    import sqlalchemy as sa

    from governance.access.principals import Principal
    from governance.vault import service as vault

    actor = Principal(kind="client", id="bench", scopes=frozenset({"consents:write"}))
    figures = []
    with bench_app(args.postgres) as app:
        db = app.extensions["governance.db"]
        config = {"ENV": "test", "INSTANCE_PATH": app.config.get("INSTANCE_PATH") or str(Path(db.url).parent),
                  "DATABASE_URL": db.url, "LOG_LEVEL": "ERROR"}  # fmt: skip
        config["INSTANCE_PATH"] = str(app.extensions["governance.settings"].instance_path)
        with app.app_context():
            session = db.session()
            subjects = [
                vault.create_subject(session, external_ref=f"bench-{i}", actor=actor).id for i in range(args.subjects)
            ]
            session.commit()
            session.close()
        sa.Table(PROBE, sa.MetaData(), sa.Column("id", sa.Uuid, primary_key=True),
                 sa.Column("at", sa.DateTime(timezone=True))).create(db.engine)  # fmt: skip
        for writers in (int(w) for w in args.writers.split(",")):
            waits: dict[str, Any] = {}
            if args.postgres:
                with WaitSampler(db.engine) as sampler:
                    consent_rate = run(config, "consent", subjects, writers, args.rounds)
                waits = sampler.report()
            else:
                consent_rate = run(config, "consent", subjects, writers, args.rounds)
            bare_rate = run(config, "bare", subjects, writers, args.rounds)
            figures.append(
                {
                    "writers": writers,
                    "decisions": args.subjects * args.rounds,
                    "decisions_per_s": round(consent_rate, 1),
                    "reference_bare_insert_tx_per_s": round(bare_rate, 1),
                    "ratio_to_bare_insert": round(consent_rate / bare_rate, 3),
                    **({"postgres_waits_during_consent_run": waits} if waits else {}),
                }
            )
    single = figures[0]["decisions_per_s"]
    print(
        json.dumps(
            {
                "figure": "consent_record_rate",
                "database": "postgresql" if args.postgres else "sqlite",
                "subjects": args.subjects,
                "rounds": args.rounds,
                "seed": SEED,
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "runs": figures,
                "scaling_vs_one_writer": {str(f["writers"]): round(f["decisions_per_s"] / single, 2) for f in figures},
            }
        )
    )


if __name__ == "__main__":
    main()
