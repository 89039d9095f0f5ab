"""Do two sets of seeds train the same distribution? Two-sample tests over two baselines.

Used to show that seeds trained side by side are draws from what ``model.fit`` trains (and,
in general, to compare any two baselines of one exercise: two machines, two backends). The
rule is fixed here, before any data is looked at:

- every pinned metric that is not the same for every seed of both: a two-sided Mann–Whitney
  U test on its finite values (rank-based: the heavy tails of unscaled SGD do not dominate);
- a metric every seed of both baselines agrees on exactly (steps per epoch): equal or not;
- the share of seeds whose loss is not finite (diverged): Fisher's exact test;
- each loss curve (``loss``, ``val_loss``, over the runs that trained every epoch): a
  permutation test of the largest per-epoch Welch t over the epochs, :data:`PERMUTATIONS`
  relabelings;
- the whole family (every test of every exercise compared) at family-wise level
  :data:`ALPHA` by Holm's step-down procedure. The two sets differ if any test rejects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.judge.baseline import Baseline

ALPHA = 0.05
PERMUTATIONS = 20_000
POWER = 0.9
#: Asymptotic relative efficiency of Mann–Whitney against the t test under normal data (3/π).
MWU_EFFICIENCY = 3 / math.pi


@dataclass(frozen=True)
class Test:
    """One two-sample test: what, the sample sizes (finite values), its p-value and its effect: the standardized
    mean difference for a metric, the largest per-epoch |t| for a curve."""

    exercise: str
    quantity: str
    kind: str
    n: tuple[int, int]
    p: float
    smd: float = math.nan
    rejected: bool = False


def compare(a: Baseline, b: Baseline, permutations: int = PERMUTATIONS, seed: int = 0) -> list[Test]:
    """Every test of the rule above between two baselines of one exercise (not yet Holm-adjusted)."""
    tests = [
        _metric(a.experiment, name, a.metrics[name].values, b.metrics[name].values)
        for name in a.metrics
        if name in b.metrics
    ]
    tests.append(_diverged(a, b))
    rng = np.random.default_rng(seed)
    for curve in ("loss", "val_loss"):
        if a.curves.get(curve) and b.curves.get(curve):
            tests.append(_curve(a.experiment, curve, a.curves[curve], b.curves[curve], permutations, rng))
    return tests


def holm(tests: Sequence[Test], alpha: float = ALPHA) -> list[Test]:
    """Holm's step-down rejections at family-wise level ``alpha`` over all ``tests``."""
    order = sorted(range(len(tests)), key=lambda i: tests[i].p)
    rejected = [False] * len(tests)
    for rank, i in enumerate(order):
        if tests[i].p > alpha / (len(tests) - rank):
            break
        rejected[i] = True
    return [Test(**{**t.__dict__, "rejected": r}) for t, r in zip(tests, rejected, strict=True)]


def detectable_shift(n_a: int, n_b: int, alpha: float, power: float = POWER) -> float:
    """Smallest location shift, in σ, a two-sided Mann–Whitney test at ``alpha`` finds with ``power`` (normal data)."""
    from scipy.stats import norm  # scipy: seconds to import, only where its statistic is computed

    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return float(z * math.sqrt(1 / n_a + 1 / n_b) / math.sqrt(MWU_EFFICIENCY))


def _finite(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]


def _smd(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or len(y) < 2:
        return math.nan
    pooled = math.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    return float((x.mean() - y.mean()) / pooled) if pooled > 0 else 0.0


def _metric(exercise: str, name: str, a: Sequence[float], b: Sequence[float]) -> Test:
    from scipy.stats import mannwhitneyu  # scipy: seconds to import, only where its statistic is computed

    x, y = _finite(a), _finite(b)
    n = (len(x), len(y))
    if min(n) < 2:  # too few numbers to test; how many seeds diverged is the Fisher test's
        return Test(exercise, name, "fewer than 2 finite values a side", n, 1.0)
    if np.ptp(np.concatenate([x, y])) == 0:
        return Test(exercise, name, "the same for every seed", n, 1.0, 0.0)
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return Test(exercise, name, "seed-invariant, differs", n, 0.0, math.inf)
    p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    return Test(exercise, name, "Mann-Whitney U", n, p, _smd(x, y))


def _diverged(a: Baseline, b: Baseline) -> Test:
    from scipy.stats import fisher_exact  # scipy: seconds to import, only where its statistic is computed

    x, y = (np.asarray(base.metrics["loss"].values, dtype=np.float64) for base in (a, b))
    table = [
        [int(np.sum(~np.isfinite(x))), int(np.sum(np.isfinite(x)))],
        [int(np.sum(~np.isfinite(y))), int(np.sum(np.isfinite(y)))],
    ]
    p = 1.0 if table[0][0] == table[1][0] == 0 else float(fisher_exact(table).pvalue)
    share = f"diverged {table[0][0]}/{len(x)} vs {table[1][0]}/{len(y)}"
    return Test(a.experiment, share, "Fisher exact", (len(x), len(y)), p)


def _curve(exercise: str, name: str, a, b, permutations: int, rng: np.random.Generator) -> Test:
    epochs = max(len(run) for run in (*a, *b))
    keep = [np.asarray(run, np.float64) for run in (*a, *b) if len(run) == epochs and np.all(np.isfinite(run))]
    n_a = sum(1 for run in a if len(run) == epochs and np.all(np.isfinite(run)))
    n = (n_a, len(keep) - n_a)
    if min(n) < 2:
        return Test(exercise, f"{name} curve", "too few full curves", n, 1.0)
    data = np.stack(keep)
    labels = np.zeros(len(keep), bool)
    labels[:n_a] = True
    observed = _max_t(data, labels)
    shuffled = np.array([_max_t(data, rng.permutation(labels)) for _ in range(permutations)])
    p = float((1 + np.sum(shuffled >= observed)) / (1 + permutations))
    return Test(exercise, f"{name} curve", f"max-|t| permutation ({epochs} epochs)", n, p, observed)


def _max_t(data: np.ndarray, labels: np.ndarray) -> float:
    x, y = data[labels], data[~labels]
    se = np.sqrt(x.var(axis=0, ddof=1) / len(x) + y.var(axis=0, ddof=1) / len(y))
    diff = np.abs(x.mean(axis=0) - y.mean(axis=0))
    t = np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)
    return float(t.max())
