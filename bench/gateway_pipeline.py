"""The gateway's own share of a release, without the database: 1,000,000 already-decrypted events from 100,000
subjects through generalization, pseudonymization, k-anonymity (two passes, k = 10) and the writer.

Rows come from a seeded generator (the time to generate them alone is measured first and subtracted). Prints
seconds, peak memory and the release figures. Sizes: 100,000 subjects x 10 events (--quick: 10,000 x 10), k = 10,
seed 20261128. Usage: python bench/gateway_pipeline.py [--quick] [--format F] [--person-level]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 20261128


def records(subjects: int, per: int):
    from governance.gateway.anonymize import SubjectRecord

    rng = random.Random(SEED)
    base = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    for _ in range(subjects):
        profile = {
            "birth_date": f"{rng.randint(1950, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "country": rng.choice(["DE", "FR", "AT", "IT", "ES"]),
            "device": rng.choice(["mobile", "desktop", "tablet"]),
        }
        events = [
            (
                rng.choice(("view", "click", "purchase")),
                base + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 30)),
                f"item-{rng.randint(1, 5000)}",
                rng.random() * 100,
            )
            for _ in range(per)
        ]
        yield SubjectRecord(uuid.UUID(int=rng.getrandbits(128)), profile, events)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 subjects x 10 events (checks the script)")
    parser.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl")
    parser.add_argument(
        "--person-level", action="store_true", help="k per person (pseudonymized_rows) with the identifying check"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from governance.gateway.anonymize import PersonLevel, write_release
    from governance.gateway.generalize import Generalizer
    from governance.gateway.kanon import AnonymityRequirement
    from governance.gateway.policy import load_gateway_policy
    from governance.gateway.pseudonyms import Pseudonymizer
    from governance.gateway.writers import Column

    # --person-level: k per person (mode pseudonymized_rows), with the identifying-power check of `category`
    person_level = PersonLevel(candidates=["category"], content=["item", "value"]) if args.person_level else None
    fmt = args.format
    subjects, per = (10_000, 10) if args.quick else (100_000, 10)
    policy = load_gateway_policy(Path(__file__).resolve().parent.parent / "policies" / "gateway.yaml")
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in records(subjects, per):
        pass
    generation, generation_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu_start = time.perf_counter(), time.process_time()
        figures = write_release(
            records(subjects, per),
            profile_columns=[Column("birth_date"), Column("country"), Column("device")],
            event_columns=[Column("category"), Column("occurred_at"), Column("item"), Column("value", "number")],
            generalizer=Generalizer(policy.generalization_rules(), as_of=dt.date(2026, 11, 28)),
            requirement=AnonymityRequirement(k=10),
            pseudonymize=Pseudonymizer.for_release(),
            path=Path(tmp) / f"release.{fmt}",
            fmt=fmt,
            person_level=person_level,
        )
        total, total_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(
        json.dumps(
            {
                "figure": "gateway_pipeline",
                "subjects": subjects,
                "events": subjects * per,
                "format": fmt,
                "k": 10,
                "k_unit": figures.k_unit,
                "pipeline_seconds": round(total - generation, 2),
                "pipeline_cpu_seconds": round(total_cpu - generation_cpu, 2),
                "including_generation_seconds": round(total, 2),
                "load_average_1min": round(__import__("os").getloadavg()[0], 1),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "rows_released": figures.rows_released,
                "rows_suppressed": figures.rows_suppressed,
                "classes": figures.classes,
                "k_achieved": figures.k_achieved,
                "subjects_released": figures.subjects_released,
                "bytes": figures.bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
