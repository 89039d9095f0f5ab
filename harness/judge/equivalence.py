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

from harness.judge import stats
from harness.judge.baseline import Baseline
from harness.judge.guard import state

ALPHA = 0.05
PERMUTATIONS = 20_000


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
    rejected = stats.holm([t.p for t in tests], alpha)
    return [Test(**{**t.__dict__, "rejected": r}) for t, r in zip(tests, rejected, strict=True)]


def _metric(exercise: str, name: str, a: Sequence[float], b: Sequence[float]) -> Test:
    x, y = stats.finite(a), stats.finite(b)
    n = (len(x), len(y))
    if min(n) < 2:  # too few numbers to test; how many seeds diverged is the Fisher test's
        return Test(exercise, name, "fewer than 2 finite values a side", n, 1.0)
    if np.ptp(np.concatenate([x, y])) == 0:
        return Test(exercise, name, "the same for every seed", n, 1.0, 0.0)
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return Test(exercise, name, "seed-invariant, differs", n, 0.0, math.inf)
    return Test(exercise, name, "Mann-Whitney U", n, stats.mann_whitney(x, y), stats.smd(x, y))


def _diverged(a: Baseline, b: Baseline) -> Test:
    states = [[state(m) for m in base.per_seed()] for base in (a, b)]  # the guard's own "diverged"
    diverged = [s.count("diverged") for s in states]
    table = [[diverged[0], len(states[0]) - diverged[0]], [diverged[1], len(states[1]) - diverged[1]]]
    p = 1.0 if diverged[0] == diverged[1] == 0 else stats.fisher(table)
    share = f"diverged {diverged[0]}/{len(states[0])} vs {diverged[1]}/{len(states[1])}"
    return Test(a.experiment, share, "Fisher exact", (len(states[0]), len(states[1])), p)


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
    observed, p = stats.max_t_permutation(data, labels, permutations, rng)
    return Test(exercise, f"{name} curve", f"max-|t| permutation ({epochs} epochs)", n, p, observed)
