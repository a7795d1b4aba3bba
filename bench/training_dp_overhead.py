"""DP training time against the same model trained without privacy on the same data, and peak memory.

Each variant runs in its own process (same data, same seed) so that peak RSS is measured per variant, and
repeats its training ``--repeat`` times (the fastest loop counts: the machine may be shared). Target: DP training
loop at most 3x the non-private one; noise calibration and privacy accounting are reported apart (they do not
grow with the data). Prints one JSON object.

    python bench/training_dp_overhead.py            # N = 20,000 rows, 20 features, 5 epochs
    python bench/training_dp_overhead.py --quick    # N = 4,000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_data(n: int, d: int, seed: int):  # type: ignore[no-untyped-def]
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, d)).astype(np.float32)
    weights = np.zeros(d)
    weights[:3] = [4.0, -3.0, 2.0]
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-3.0 * (x - 0.5) @ weights))).astype(np.int64)
    return x, y


def run_plain(args: argparse.Namespace) -> dict:
    import torch
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from governance.training.ml.classifier import build_classifier_module, classification_metrics

    x, y = make_data(args.n, args.d, args.seed)
    n_train = int(len(y) * 0.8)
    torch.set_num_threads(1)  # as the DP trainer does (DPSGDConfig.threads)
    runs = []
    for repeat in range(args.repeat):
        torch.manual_seed(args.seed + repeat)
        model = build_classifier_module(n_features=args.d, n_classes=2, hidden_units=args.hidden)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
        loader = DataLoader(
            TensorDataset(torch.from_numpy(x[:n_train]), torch.from_numpy(y[:n_train])),
            batch_size=args.batch_size,
            shuffle=True,
        )
        started = time.perf_counter()
        for _ in range(args.epochs):
            for xb, yb in loader:
                optimizer.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                optimizer.step()
        runs.append(time.perf_counter() - started)
    with torch.no_grad():
        probabilities = torch.softmax(model(torch.from_numpy(x[n_train:])), dim=1).numpy()
    return {
        "training_seconds": min(runs),
        "training_seconds_runs": runs,
        "metrics": classification_metrics(y[n_train:], probabilities, n_classes=2),
    }


def run_dp(args: argparse.Namespace) -> dict:
    from governance.training.ml.classifier import train_classifier
    from governance.training.ml.dpsgd import DPSGDConfig, TrainingHooks

    x, y = make_data(args.n, args.d, args.seed)
    runs = []
    for repeat in range(args.repeat):
        config = DPSGDConfig(
            target_epsilon=3.0,
            target_delta=1.0 / (20 * args.n),
            epochs=args.epochs,
            batch_size=args.batch_size,
            max_grad_norm=1.0,
            learning_rate=0.02,
            max_physical_batch_size=args.batch_size,
            seed=args.seed + repeat,
        )
        started = time.perf_counter()
        model = train_classifier(
            x, y, n_classes=2, config=config, hidden_units=args.hidden, hooks=TrainingHooks(progress=lambda p: None)
        )
        runs.append((time.perf_counter() - started, model))
    total, best = min(runs, key=lambda run: run[1].timings["training_seconds"])
    return {
        "total_seconds": total,
        **best.timings,
        "training_seconds_runs": [m.timings["training_seconds"] for _, m in runs],
        "epsilon": best.privacy["epsilon"],
        "epsilon_rdp": best.privacy["epsilon_rdp"],
        "noise_multiplier": best.privacy["noise_multiplier"],
        "sample_rate": best.privacy["sample_rate"],
        "steps": best.privacy["steps"],
        "metrics": best.metrics,
    }


def child(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    import opacus  # noqa: F401  - imports are timed apart: a worker pays them once, not per job
    import sklearn.metrics
    import sklearn.model_selection  # noqa: F401
    import torch  # noqa: F401

    imported = time.perf_counter()
    result = run_dp(args) if args.variant == "dp" else run_plain(args)
    result["import_seconds"] = imported - started
    # ru_maxrss is in KiB on Linux: the process's peak resident memory, torch included
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--variant", choices=["dp", "plain"])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant; the fastest loop counts")
    args = parser.parse_args()
    if args.quick:
        args.n = 4_000
    if args.variant:
        child(args)
        return
    forwarded = ["--n", str(args.n), "--d", str(args.d), "--hidden", str(args.hidden), "--epochs", str(args.epochs)]
    forwarded += ["--batch-size", str(args.batch_size), "--seed", str(args.seed), "--repeat", str(args.repeat)]
    results = {}
    for variant in ("plain", "dp"):
        out = subprocess.run(
            [sys.executable, __file__, "--variant", variant, *forwarded], capture_output=True, text=True, check=True
        )
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    plain, dp = results["plain"], results["dp"]
    print(
        json.dumps(
            {
                "figure": "training_dp_overhead",
                "rows": args.n,
                "features": args.d,
                "hidden_units": args.hidden,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "dp_training_loop_ratio": dp["training_seconds"] / plain["training_seconds"],
                "dp_total_ratio": dp["total_seconds"] / plain["training_seconds"],
                "target_ratio": 3.0,
                "plain": plain,
                "dp": dp,
            },
            indent=None,
        )
    )


if __name__ == "__main__":
    main()
