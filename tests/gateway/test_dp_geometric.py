"""The count's geometric noise without diffprivlib (`dp.two_sided_geometric`, issue 16): the same draw as
diffprivlib's `Geometric.randomise` for the same uniforms, the two-sided geometric pmf from the CSPRNG the web
worker uses, and no heavy import on the count path."""

from __future__ import annotations

import json
import math
import secrets
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from diffprivlib.mechanisms import Geometric

from governance.gateway.dp import DPQuery, run_bounded_count, run_query, two_sided_geometric


@pytest.mark.parametrize(("epsilon", "sensitivity", "value"), [(1.0, 1, 0), (0.1, 3, 42), (2.5, 10, 7), (0.01, 1, 5)])
def test_equal_uniforms_give_diffprivlibs_draw_exactly(epsilon: float, sensitivity: int, value: int) -> None:
    ours, theirs = np.random.RandomState(7), np.random.RandomState(7)
    mechanism = Geometric(epsilon=epsilon, sensitivity=sensitivity, random_state=theirs)
    for _ in range(5000):
        assert two_sided_geometric(value, epsilon, sensitivity, ours) == mechanism.randomise(value)


def test_the_csprng_draws_follow_the_two_sided_geometric_pmf() -> None:
    epsilon, sensitivity, draws = 0.7, 2, 200_000
    alpha = math.exp(-epsilon / sensitivity)
    rng = secrets.SystemRandom()
    seen = Counter(two_sided_geometric(0, epsilon, sensitivity, rng) for _ in range(draws))
    for k in range(-8, 9):
        p = (1 - alpha) / (1 + alpha) * alpha ** abs(k)
        stderr = math.sqrt(p * (1 - p) / draws)
        assert abs(seen[k] / draws - p) < 6 * stderr, (k, seen[k] / draws, p)  # 6 sigma: ~1e-9 to fail by chance
    mean = sum(k * n for k, n in seen.items()) / draws
    assert abs(mean) < 6 * math.sqrt(2 * alpha / (1 - alpha) ** 2 / draws)  # symmetric: unbiased


def test_a_seeded_sql_count_equals_diffprivlibs_count_over_the_rows() -> None:
    query = DPQuery("count", Decimal("0.5"), max_rows_per_subject=3)
    rows = [[1.0] * 3] * 5 + [[1.0]] * 3
    for seed in range(20):
        assert run_bounded_count(query, 18, random_state=seed).value == run_query(query, rows, random_state=seed).value


def test_a_count_imports_no_heavy_library() -> None:
    code = (
        "import sys, json\n"
        "from decimal import Decimal\n"
        "from governance.gateway import dpqueries\n"
        "from governance.gateway.dp import DPQuery, run_bounded_count\n"
        "run_bounded_count(DPQuery('count', Decimal('1'), max_rows_per_subject=2), 10)\n"
        "print(json.dumps(sorted(m for m in ('diffprivlib', 'scipy', 'sklearn', 'numpy') if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
