"""DP synthetic data (release mode `dp_synthetic`): the generator, its accounting and the utility report.

Pure code, no database. The generator is OpenDP's MST (`opendp.extras.mbi.MST`, McKenna, Miklau and Sheldon
2021), which measures 1- and 2-way marginals of a person-level table with Gaussian noise, picks the 2-way
marginals with OpenDP's noisy-max, and fits a graphical model with private-pgm (`mbi`) to sample from. The privacy
loss is OpenDP's own: the measurement's zCDP rho, turned into (epsilon, delta) by `make_zCDP_to_approxDP` and
`make_fix_delta`. OpenDP, polars, jax and mbi are imported inside the functions (job code only), never in a web
worker.

The unit of privacy is one person: the input holds exactly one row per person (their generalized profile fields
and bucketed event counts), and OpenDP runs with `contributions=1` (neighbouring tables differ by one person's
row added or removed).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import version
from typing import Any

from governance.gateway.budget import epsilon_to_micro

__all__ = [
    "GENERATOR",
    "PersonColumn",
    "SyntheticResult",
    "count_bucket",
    "count_keys",
    "match_key",
    "rho_for",
    "synthesize",
    "utility_report",
]

GENERATOR = "opendp.extras.mbi.MST"
Row = tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class PersonColumn:
    """One column of the person-level table and its public categories (null is always one more)."""

    name: str
    keys: tuple[str, ...]
    source: str  # "profile:<field>" or "events:<category>"


def count_keys(cuts: Sequence[int]) -> tuple[str, ...]:
    """Bucket labels for event counts with these cut points: (1, 3, 10) -> "0", "1-2", "3-9", "10+"."""
    labels = ["0"] if cuts[0] > 0 else []
    edges = list(cuts)
    for low, high in itertools.pairwise(edges):
        labels.append(str(low) if high - low == 1 else f"{low}-{high - 1}")
    labels.append(f"{edges[-1]}+")
    return tuple(labels)


def count_bucket(count: int, cuts: Sequence[int]) -> str:
    """The bucket label of an event count (top-coded at the last cut: a person's contribution is bounded)."""
    labels = count_keys(cuts)
    for index, cut in enumerate(cuts):
        if count < cut:
            return labels[index]
    return labels[-1]


def match_key(value: Any, keys: Sequence[str]) -> str | None:
    """The declared category a value stands for: itself, its case-insensitive match, or the primary subtag of a
    language tag ("de-AT" -> "de"); None (the null category) when it is none of them."""
    if value is None:
        return None
    text = str(value).strip()
    if text in keys:
        return text
    folded = {k.casefold(): k for k in keys}
    if text.casefold() in folded:
        return folded[text.casefold()]
    primary = text.replace("_", "-").split("-")[0].casefold()
    return folded.get(primary)


# --- the generator -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SyntheticResult:
    rows: list[Row]
    epsilon: float  # OpenDP's own (epsilon, delta) for the release's measurement
    delta: float
    rho: float  # the measurement's zCDP loss (its privacy map at one person)
    accounting: dict[str, Any] = field(default_factory=dict)


def _enable() -> Any:
    # deferred: opendp (and its native library) stay out of web workers; only a synthetic-data job needs them
    import opendp.prelude as dp

    dp.enable_features("contrib")  # OpenDP marks its Python (mbi) mechanisms as contrib
    return dp


def rho_for(epsilon: float, delta: float) -> float:
    """The largest zCDP rho whose OpenDP conversion to (epsilon', delta) has epsilon' <= epsilon.

    Found with OpenDP's own search over a unit-sensitivity Gaussian mechanism (its privacy map is exactly the
    rho of the noise scale), so the conversion is OpenDP's, not ours.
    """
    dp = _enable()

    def gaussian(scale: float) -> Any:
        return dp.m.make_gaussian(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale)

    def converted(scale: float) -> Any:
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian(scale)), delta)

    scale = dp.binary_search_param(converted, d_in=1, d_out=(epsilon, delta), T=float)
    return float(gaussian(scale).map(1))


def synthesize(
    rows: Sequence[Row],
    columns: Sequence[PersonColumn],
    *,
    epsilon: float,
    delta: float,
    seed: int | None = None,
) -> SyntheticResult:
    """A DP synthetic table of `rows` (one per person) with OpenDP's MST at (epsilon, delta).

    Every column's categories are public (`PersonColumn.keys`), so no delta is spent on discovering keys: the
    measurement is rho-zCDP, and (epsilon, delta) is OpenDP's conversion of that rho at `delta`.
    """
    # deferred: numpy and polars stay out of web workers; only a synthetic-data job needs them
    import numpy as np
    import polars as pl

    dp = _enable()
    if len(columns) < 2:
        raise ValueError("a synthetic table needs at least two columns")
    names = [c.name for c in columns]
    frame = pl.DataFrame(
        {name: [row[i] for row in rows] for i, name in enumerate(names)},
        schema=dict.fromkeys(names, pl.String),
    )
    rho = rho_for(epsilon, delta)
    context = dp.Context.compositor(
        data=frame.lazy(),
        privacy_unit=dp.unit_of(contributions=1),  # one row per person: the unit of privacy is one person
        privacy_loss=dp.loss_of(rho=rho),
        split_evenly_over=1,
    )
    query = context.query().contingency_table(keys={c.name: list(c.keys) for c in columns}, algorithm=dp.mbi.MST())
    zcdp = query.resolve()
    measurement = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(zcdp), delta)
    spent_epsilon, spent_delta = measurement.map(1)
    if spent_epsilon > epsilon * (1 + 1e-9) or spent_delta > delta:
        raise RuntimeError("the generator's accounting exceeds the requested privacy loss")
    if seed is not None:
        np.random.seed(seed)  # mbi's sampling (post-processing) draws from numpy's global generator
    table = measurement(frame.lazy())
    synthetic = table.synthesize()
    out = [tuple(None if v is None else str(v) for v in row) for row in synthetic.select(names).iter_rows()]
    return SyntheticResult(
        rows=out,
        epsilon=float(spent_epsilon),
        delta=float(spent_delta),
        rho=float(zcdp.map(1)),
        accounting={
            "generator": GENERATOR,
            "opendp_version": _version("opendp"),
            "mbi_version": _version("mbi"),
            "measure": "zero-concentrated DP (rho), converted by OpenDP make_zCDP_to_approxDP at delta",
            "rho": repr(float(rho)),
            "epsilon": repr(float(spent_epsilon)),
            "delta": repr(float(spent_delta)),
            "contributions_per_person": 1,
            "budget_split": "MST: 10% selecting 2-way marginals (noisy max), 90% measuring them (Gaussian); "
            "1-way marginals measured first",
        },
    )


def _version(package: str) -> str:
    return version(package)


# --- utility ---------------------------------------------------------------------------------------------------


def _distribution(rows: Sequence[Row], indexes: Sequence[int]) -> Counter[tuple[str | None, ...]]:
    return Counter(tuple(row[i] for i in indexes) for row in rows)


def total_variation(real: Sequence[Row], synthetic: Sequence[Row], indexes: Sequence[int]) -> float:
    """Total variation distance between the two tables' marginals over `indexes` (0 = equal, 1 = disjoint)."""
    if not real or not synthetic:
        return 1.0
    p, q = _distribution(real, indexes), _distribution(synthetic, indexes)
    n, m = len(real), len(synthetic)
    return 0.5 * sum(abs(p[k] / n - q[k] / m) for k in set(p) | set(q))


def _one_hot(rows: Sequence[Row], columns: Sequence[PersonColumn], features: Sequence[int]) -> Any:
    # deferred: numpy stay out of web workers; only a synthetic-data job needs them
    import numpy as np

    width = sum(len(columns[i].keys) + 1 for i in features)
    matrix = np.zeros((len(rows), width))
    offset = 0
    for i in features:
        position = {k: j for j, k in enumerate(columns[i].keys)}
        null = len(columns[i].keys)
        for r, row in enumerate(rows):
            matrix[r, offset + position.get(row[i], null)] = 1.0  # type: ignore[arg-type]
        offset += null + 1
    return matrix


def _accuracy(train: Sequence[Row], test: Sequence[Row], columns: Sequence[PersonColumn], target: int) -> float:
    # deferred: numpy and scikit-learn stay out of web workers; only a synthetic-data job needs them
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    features = [i for i in range(len(columns)) if i != target]
    labels = np.array([str(row[target]) for row in train])
    truth = np.array([str(row[target]) for row in test])
    if len(set(labels)) < 2:  # one class only: the model predicts it
        return float(np.mean(truth == labels[0])) if len(labels) else 0.0
    model = LogisticRegression(max_iter=1000)
    model.fit(_one_hot(train, columns, features), labels)
    return float(np.mean(model.predict(_one_hot(test, columns, features)) == truth))


def utility_report(
    real: Sequence[Row],
    synthetic: Sequence[Row],
    columns: Sequence[PersonColumn],
    *,
    target: str,
    holdout_fraction: float = 0.3,
    seed: int = 0,
) -> dict[str, Any]:
    """How well the synthetic table stands in for the real one, measured against the real data.

    Marginals: total variation distance of every 1-way and 2-way marginal. Model: logistic regression predicting
    `target` from the other columns, trained on real rows (a random 70 %) or on the synthetic table, both tested
    on the real hold-out (the other 30 %); the majority class of the real training rows is the baseline.
    Figures are rounded to 0.01: they are computed on the real data and are not covered by the DP guarantee.
    """
    names = [c.name for c in columns]
    one_way = {name: total_variation(real, synthetic, [i]) for i, name in enumerate(names)}
    two_way = {
        f"{names[a]} x {names[b]}": total_variation(real, synthetic, [a, b])
        for a, b in itertools.combinations(range(len(names)), 2)
    }
    shuffled = list(real)
    random.Random(seed).shuffle(shuffled)  # noqa: S311 - a train/test split, not a secret
    cut = max(1, int(len(shuffled) * (1 - holdout_fraction)))
    train, test = shuffled[:cut], shuffled[cut:] or shuffled[:1]
    index = names.index(target)
    majority = Counter(row[index] for row in train).most_common(1)[0][0]
    baseline = sum(row[index] == majority for row in test) / len(test)
    on_real = _accuracy(train, test, columns, index)
    on_synthetic = _accuracy(synthetic, test, columns, index) if synthetic else 0.0

    def r(x: float) -> float:
        return round(x, 2)

    return {
        "marginals": {
            "measure": "total variation distance (0 = identical, 1 = disjoint)",
            "one_way": {k: r(v) for k, v in one_way.items()},
            "one_way_mean": r(sum(one_way.values()) / len(one_way)),
            "one_way_max": r(max(one_way.values())),
            "two_way_mean": r(sum(two_way.values()) / len(two_way)) if two_way else None,
            "two_way_max": r(max(two_way.values())) if two_way else None,
        },
        "model": {
            "kind": "logistic regression (scikit-learn), one-hot features",
            "target": target,
            "evaluated_on": f"real hold-out ({int(holdout_fraction * 100)} % of the real people, chosen at random)",
            "accuracy_trained_on_real": r(on_real),
            "accuracy_trained_on_synthetic": r(on_synthetic),
            "accuracy_majority_baseline": r(baseline),
        },
        "rounding": "0.01",
        "covered_by_dp_guarantee": False,
    }


def exact_matches(real: Iterable[Row], synthetic: Sequence[Row]) -> int:
    """How many synthetic rows equal some real person's full record (for tests and audits)."""
    records = set(real)
    return sum(row in records for row in synthetic)


def records_reproduced(real: Iterable[Row], synthetic: Sequence[Row]) -> int:
    """How many distinct real records appear among the synthetic rows (for tests and audits)."""
    return len(set(real) & set(synthetic))


def expected_records_reproduced_by_chance(real: Iterable[Row], synthetic: Sequence[Row]) -> float:
    """Expected number of distinct real records among the synthetic rows if the m rows were drawn independently,
    column by column, from the synthetic table's own marginals: the sum over distinct real records of
    1 - (1 - p)^m, p the product of the record's column shares.

    Distinct records, not rows: a generator that keeps 2-way marginals (MST) repeats the combinations it favours,
    so the number of matching rows comes in bursts that no independent-draw bound describes, while the number of
    distinct records reproduced stays well within it unless records are copied."""
    m = len(synthetic)
    if not m:
        return 0.0
    shares = [Counter(row[j] for row in synthetic) for j in range(len(synthetic[0]))]
    total = 0.0
    for record in set(real):
        p = math.prod(share[value] / m for share, value in zip(shares, record, strict=True))
        total += 1 - (1 - p) ** m
    return total


def epsilon_micro(epsilon: float | Decimal) -> int:
    """Epsilon in the ledger's micro-units, rounded up (as the ledger does)."""
    return epsilon_to_micro(Decimal(repr(float(epsilon))))
