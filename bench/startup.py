"""Web worker start-up: wall and CPU seconds to import `wsgi` (create the app) in a fresh interpreter, and the
process's RSS after it, as a gunicorn worker pays them on every (re)start.

    python bench/startup.py [--runs 5] [--root PATH]

Sizes: 5 fresh processes (median reported), a SQLite database in a temporary instance folder. `--root` points at
another checkout of the repository (to measure "before" on the same machine in the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
SEED = 0  # nothing random is drawn; kept for the common JSON shape
PROBE = """
import json, resource, time
started = time.perf_counter()
import wsgi  # noqa: F401  (builds the app, as a gunicorn worker does)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
from governance.access import credentials
rss = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:")][0]
print(json.dumps({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_mib": rss / 1024,
                  "dummy_hash_at_import": credentials._DUMMY_HASH is not None}))
"""


def one_run(root: Path, instance: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    env.update(GOVERNANCE_ENV="development", GOVERNANCE_INSTANCE_PATH=str(instance), GOVERNANCE_LOG_LEVEL="ERROR",
               PYTHONPATH=str(root))  # fmt: skip
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=root, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes (default 5)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to import (default: this one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        one_run(args.root, Path(tmp))  # the first run creates the development keys and the database file
        runs = [one_run(args.root, Path(tmp)) for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "figure": "startup",
                "root": str(args.root),
                "sizes": {"runs": args.runs},
                "seed": SEED,
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "import_wall_s_median": round(statistics.median(r["wall_s"] for r in runs), 3),
                "import_cpu_s_median": round(statistics.median(r["cpu_s"] for r in runs), 3),
                "rss_mib_median": round(statistics.median(r["rss_mib"] for r in runs), 1),
                "dummy_hash_at_import": any(r["dummy_hash_at_import"] for r in runs),
            }
        )
    )


if __name__ == "__main__":
    main()
