"""Recorded decisions per second (ledger event + state row + audit entry + signed receipt, one transaction per
request of one decision), single writer and concurrent writers on distinct subjects, as a ratio to bare
committed one-row INSERT transactions through the same engine in the same run.

    python bench/consent_record_rate.py [--postgres URL] [--subjects 400] [--writers 8] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
import uuid

from consent_common import PURPOSE, SEED, bench_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--subjects", type=int, default=400)
    parser.add_argument("--decisions-per-subject", type=int, default=5)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.subjects, args.decisions_per_subject, args.writers = 40, 3, 4
    import sqlalchemy as sa

    from governance.access.principals import Principal
    from governance.consent import service
    from governance.db import transaction
    from governance.vault import service as vault

    actor = Principal(kind="client", id="bench", scopes=frozenset({"consents:write"}))
    with bench_app(args.postgres) as app:
        db = app.extensions["governance.db"]
        with app.app_context():
            session = db.session()
            subjects = [
                vault.create_subject(session, external_ref=f"bench-{i}", actor=actor).id for i in range(args.subjects)
            ]
            session.commit()
            session.close()

        def write(chunk: list[uuid.UUID], counter: list[int]) -> None:
            with app.app_context():
                for round_ in range(args.decisions_per_subject):
                    decision = "granted" if round_ % 2 == 0 else "withdrawn"
                    for sid in chunk:
                        with db.session() as s, transaction(s):
                            service.record_decisions(
                                s, sid, [{"purpose": PURPOSE, "decision": decision}],
                                method="api", actor=actor, jurisdiction="EU",
                            )  # fmt: skip
                        counter[0] += 1

        half = len(subjects) // 2
        single = [0]
        t0 = time.perf_counter()
        write(subjects[:half], single)
        single_rate = single[0] / (time.perf_counter() - t0)

        counters = [[0] for _ in range(args.writers)]
        rest = subjects[half:]
        chunks = [rest[i :: args.writers] for i in range(args.writers)]
        threads = [threading.Thread(target=write, args=(c, n)) for c, n in zip(chunks, counters, strict=True)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        concurrent_rate = sum(n[0] for n in counters) / (time.perf_counter() - t0)

        probe = sa.Table("consent_bench_probe", sa.MetaData(), sa.Column("id", sa.Uuid, primary_key=True),
                         sa.Column("at", sa.DateTime(timezone=True)))  # fmt: skip
        probe.create(db.engine)
        n = single[0]
        t0 = time.perf_counter()
        for _ in range(n):
            with db.engine.begin() as conn:
                conn.execute(probe.insert().values(id=uuid.uuid4(), at=dt.datetime.now(dt.UTC)))
        raw_rate = n / (time.perf_counter() - t0)
        probe.drop(db.engine)
    print(
        json.dumps(
            {
                "figure": "consent_record_rate",
                "database": "postgresql" if args.postgres else "sqlite",
                "subjects": args.subjects,
                "decisions": single[0] + sum(c[0] for c in counters),
                "seed": SEED,
                "single_writer_decisions_per_s": round(single_rate, 1),
                "concurrent_writers": args.writers,
                "concurrent_decisions_per_s": round(concurrent_rate, 1),
                "reference_bare_insert_tx_per_s": round(raw_rate, 1),
                "ratio_single_to_bare_insert": round(single_rate / raw_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
