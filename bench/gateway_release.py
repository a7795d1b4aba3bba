"""Release of 1,000,000 events from 100,000 subjects with generalization and k-anonymity (k = 10), JSON Lines.

Figures: seconds and peak memory of the release (consent snapshot, re-check, reading and decrypting through the
vault, generalizing, pseudonymizing, k-anonymity in two passes, writing, checksum), and the same for reading and
decrypting the same rows alone, with their ratio. Each measurement runs in its own interpreter.
Sizes: 100,000 subjects x 10 events (--quick: 10,000 x 10), k = 10, seed 20261128. The population is created on
first use (hours at full size) in the system temporary directory and reused.
Usage: python bench/gateway_release.py [--quick] [--format jsonl|csv|parquet]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_common import PURPOSE, SPEC, app_context, bench_dir, in_subprocess, peak_rss_mib, populate


def measure_read(directory: Path) -> dict[str, float]:
    from governance.consent import service as consent
    from governance.vault import service as vault

    with app_context(directory) as app:
        db = app.extensions["governance.db"]
        start, cpu = time.perf_counter(), time.process_time()
        with db.session() as session:
            ids = list(consent.iter_permitted_subjects(session, PURPOSE))
        events = subjects = 0
        for first in range(0, len(ids), 2000):
            with db.session() as session:
                for row in vault.iter_release_rows(
                    session,
                    ids[first : first + 2000],
                    fields=SPEC["profile_fields"],
                    event_categories=SPEC["event_categories"],
                    since=None,
                    until=None,
                ):
                    subjects += 1
                    events += len(row.events)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "peak_rss_mib": peak_rss_mib(), "subjects": subjects, "events": events}


def measure_release(directory: Path, fmt: str) -> dict[str, object]:
    from governance.gateway import service

    with app_context(directory) as app:
        db = app.extensions["governance.db"]
        out = directory / "out"
        start, cpu = time.perf_counter(), time.process_time()
        with db.session() as session:
            build = service.build_dataset(
                session,
                purpose=PURPOSE,
                client_id="bench",
                spec={**SPEC, "format": fmt},
                output_dir=out,
                session_factory=db.session,
            )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        build.path.unlink()
    manifest = build.manifest
    return {
        "seconds": seconds,
        "cpu": cpu,
        "peak_rss_mib": peak_rss_mib(),
        "counts": manifest["counts"],
        "k_achieved": manifest["k_anonymity"]["k_achieved"],
        "bytes": manifest["bytes"],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 subjects x 10 events (checks the script)")
    parser.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl")
    # internal: one measurement in a fresh interpreter (its own peak memory)
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "DIRECTORY"), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.measure:
        kind, directory = args.measure[0], Path(args.measure[1])
        result = measure_read(directory) if kind == "read" else measure_release(directory, kind)
        print(json.dumps(result))
        return
    fmt = args.format
    subjects, per = (10_000, 10) if args.quick else (100_000, 10)
    directory = bench_dir(subjects, per)
    setup = populate(directory, subjects, per)
    read = in_subprocess(Path(__file__), "--measure", "read", str(directory))
    release = in_subprocess(Path(__file__), "--measure", fmt, str(directory))
    print(
        json.dumps(
            {
                "figure": "gateway_release",
                "subjects": subjects,
                "events": setup["events"],
                "format": fmt,
                "k": 10,
                "backend": "sqlite",
                "release_seconds": round(release["seconds"], 2),
                "release_peak_rss_mib": round(release["peak_rss_mib"], 1),
                "read_decrypt_seconds": round(read["seconds"], 2),
                "read_decrypt_peak_rss_mib": round(read["peak_rss_mib"], 1),
                "ratio_release_to_read": round(release["seconds"] / read["seconds"], 2),
                "release_cpu_seconds": round(release["cpu"], 2),
                "read_decrypt_cpu_seconds": round(read["cpu"], 2),
                "ratio_release_to_read_cpu": round(release["cpu"] / read["cpu"], 2),
                "load_average_1min": round(__import__("os").getloadavg()[0], 1),
                "rows_released": release["counts"]["rows_released"],
                "rows_suppressed": release["counts"]["rows_suppressed"],
                "subjects_released": release["counts"]["subjects_released"],
                "k_achieved": release["k_achieved"],
                "bytes": release["bytes"],
                "target": {"seconds": 10, "peak_rss_mib": 1024},
            }
        )
    )


if __name__ == "__main__":
    main()
