"""The harness's statistics, in one place: every test the guard, the seed comparisons and the report use.

Which test is applied to which quantity, at which level, is each caller's rule
(:mod:`~harness.judge.guard`, :mod:`~harness.judge.equivalence`, :mod:`~harness.judge.initial`);
the arithmetic is here.

Exact, distribution-free tests of k fresh seeds against the n seeds a baseline stores.

Under "training did not change", the fresh seeds and the stored ones are exchangeable draws:
every split of the n + k values into n stored and k fresh is equally likely, whatever the
metric's distribution (heavy tails, atoms, a mixture of states). The p-values below are
computed over exactly those splits, so a test at level α raises a false alarm with
probability at most α, with no normality and no seed study needed to show it.

- :func:`rank_sum_pvalue`: the fresh seeds' sum of mid-ranks (Wilcoxon–Mann–Whitney), its
  exact two-sided null distribution by dynamic programming, ties (discrete metrics) included.
- :func:`shares_pvalue`: counts per category (diverged / dead / learning), the exact
  conditional test of equal shares (Freeman–Halton: multivariate hypergeometric).
- :func:`uniform_pvalue`: Kolmogorov–Smirnov against U(−1, 1), for initial weights whose
  distribution is known without any baseline.
- :func:`rank_sum_power`: the chance the rank-sum test flags a shift of normal data, by a
  seeded simulation: what a baseline of n seeds can detect.

Two samples of seeds (two baselines: :mod:`~harness.judge.equivalence`): :func:`mann_whitney`,
:func:`fisher`, :func:`max_t_permutation` over whole curves, :func:`holm` over a family, and
:func:`detectable_shift`, what a comparison of that size can find. One seed against a baseline,
for reading only: :func:`interval_factor`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

#: Relative slack when comparing a split's statistic with the observed one (float sums of half ranks).
_EPS = 1e-9


def midranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks with ties averaged; NaN ranks above +inf (a missing number is never "typical")."""
    x = np.asarray(values, dtype=np.float64)
    key = np.where(np.isnan(x), np.inf, x)
    nan_last = np.isnan(x).astype(np.int8)
    order = np.lexsort((nan_last, key))
    ranks = np.empty(len(x))
    sorted_key, sorted_nan = key[order], nan_last[order]
    start = 0
    for end in range(1, len(x) + 1):
        if end == len(x) or sorted_key[end] != sorted_key[start] or sorted_nan[end] != sorted_nan[start]:
            ranks[order[start:end]] = (start + 1 + end) / 2
            start = end
    return ranks


def _subset_sums(doubled: tuple[int, ...], k: int) -> np.ndarray:
    """``counts[s]``: how many k-subsets of ``doubled`` (2 × mid-ranks, integers) sum to ``s``."""
    total = sum(sorted(doubled)[-k:]) if k else 0
    table = np.zeros((k + 1, total + 1))
    table[0, 0] = 1.0
    for r in doubled:
        if r > total:
            continue
        table[1:, r:] += table[:-1, : total + 1 - r].copy()
    return table[k]


@functools.lru_cache(maxsize=256)
def _null(doubled: tuple[int, ...], k: int) -> tuple[np.ndarray, np.ndarray]:
    counts = _subset_sums(doubled, k)
    sums = np.nonzero(counts)[0]
    return sums.astype(np.float64), counts[sums] / counts.sum()


def rank_sum_pvalue(fresh: Sequence[float], stored: Sequence[float]) -> float:
    """Two-sided exact p-value of the fresh values' rank sum among ``fresh + stored``.

    P(|W − E W| ≥ |w − E W|) over all equally likely choices of which len(fresh) of the pooled
    values are the fresh ones. 1.0 when either side is empty: no evidence of a change.
    """
    k, n = len(fresh), len(stored)
    if k == 0 or n == 0:
        return 1.0
    ranks = midranks([*fresh, *stored])
    doubled = tuple(int(d) for d in np.sort(2 * ranks).round())
    observed = float(2 * ranks[:k].sum())
    center = k * (n + k + 1)  # E[2W]
    sums, probs = _null(doubled, k)
    extreme = np.abs(sums - center) >= abs(observed - center) * (1 - _EPS) - _EPS
    return float(min(1.0, probs[extreme].sum()))


def shares_pvalue(fresh: Sequence[int], stored: Sequence[int]) -> float:
    """Exact p-value that fresh and stored seeds fall into the categories with the same shares.

    ``fresh[c]`` and ``stored[c]`` count the seeds in category c. Given the column totals,
    the fresh counts are multivariate hypergeometric; the p-value sums the probabilities of
    every table no more likely than the observed one (Freeman–Halton, Fisher's test for more
    than two categories).
    """
    if len(fresh) != len(stored):
        raise ValueError("fresh and stored need a count for every category")
    totals = [f + s for f, s in zip(fresh, stored, strict=True)]
    k, n_all = sum(fresh), sum(totals)
    if k == 0 or k == n_all:
        return 1.0
    denominator = math.comb(n_all, k)

    def probability(counts: Sequence[int]) -> float:
        return math.prod(math.comb(t, c) for t, c in zip(totals, counts, strict=True)) / denominator

    observed = probability(fresh)
    return float(min(1.0, sum(p for p in map(probability, _tables(totals, k)) if p <= observed * (1 + _EPS))))


def _tables(totals: Sequence[int], k: int):
    """Every way to draw k seeds from categories of sizes ``totals``."""
    if len(totals) == 1:
        if k <= totals[0]:
            yield (k,)
        return
    for c in range(min(k, totals[0]) + 1):
        for rest in _tables(totals[1:], k - c):
            yield (c, *rest)


def uniform_pvalue(scaled: Sequence[float]) -> float:
    """Kolmogorov–Smirnov p-value that ``scaled`` are independent draws from U(−1, 1)."""
    from scipy.stats import kstest  # scipy: seconds to import, only where its statistic is computed

    values = np.asarray(scaled, dtype=np.float64)
    if values.size == 0:
        return 1.0
    if not np.all(np.isfinite(values)):
        return 0.0
    return float(kstest(values, "uniform", args=(-1.0, 2.0)).pvalue)


@functools.lru_cache(maxsize=128)
def rank_sum_power(n: int, k: int, alpha: float, shift: float = 4.0, draws: int = 4000) -> float:
    """Chance that :func:`rank_sum_pvalue` ≤ ``alpha`` when k fresh normal seeds sit ``shift`` σ from n stored.

    A seeded simulation (the same answer every call): what a baseline of n seeds can detect.
    Without ties the null depends only on (n, k), so the rejection region is computed once.
    """
    if n < 1 or k < 1:
        return 0.0
    sums, probs = _null(tuple(range(2, 2 * (n + k) + 1, 2)), k)
    center = k * (n + k + 1)
    deviation = np.abs(sums - center)
    pvalues = np.array([probs[deviation >= d * (1 - _EPS) - _EPS].sum() for d in deviation])
    rejected = {int(s) for s, p in zip(sums, pvalues, strict=True) if p <= alpha}
    rng = np.random.default_rng(20261126)
    pooled = np.concatenate([rng.standard_normal((draws, n)), rng.standard_normal((draws, k)) + shift], axis=1)
    ranks = pooled.argsort(axis=1).argsort(axis=1) + 1
    doubled_sums = 2 * ranks[:, n:].sum(axis=1)
    return float(np.mean([int(s) in rejected for s in doubled_sums]))


# --- two samples of seeds ---

#: Asymptotic relative efficiency of Mann–Whitney against the t test under normal data (3/π).
MWU_EFFICIENCY = 3 / math.pi


def finite(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]


def smd(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or len(y) < 2:
        return math.nan
    pooled = math.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    return float((x.mean() - y.mean()) / pooled) if pooled > 0 else 0.0


def mann_whitney(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided Mann–Whitney U p-value (scipy's; rank-based, so heavy tails do not dominate)."""
    from scipy.stats import mannwhitneyu  # scipy: seconds to import, only where its statistic is computed

    return float(mannwhitneyu(x, y, alternative="two-sided").pvalue)


def fisher(table: Sequence[Sequence[int]]) -> float:
    """Fisher's exact test of a 2×2 table of counts."""
    from scipy.stats import fisher_exact  # scipy: seconds to import, only where its statistic is computed

    return float(fisher_exact(table).pvalue)


def max_t_permutation(
    data: np.ndarray, labels: np.ndarray, permutations: int, rng: np.random.Generator
) -> tuple[float, float]:
    """The largest per-column Welch |t| between the labelled rows and the rest, and its permutation p-value."""
    observed = _max_t(data, labels)
    shuffled = np.array([_max_t(data, rng.permutation(labels)) for _ in range(permutations)])
    return observed, float((1 + np.sum(shuffled >= observed)) / (1 + permutations))


def _max_t(data: np.ndarray, labels: np.ndarray) -> float:
    x, y = data[labels], data[~labels]
    se = np.sqrt(x.var(axis=0, ddof=1) / len(x) + y.var(axis=0, ddof=1) / len(y))
    diff = np.abs(x.mean(axis=0) - y.mean(axis=0))
    t = np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)
    return float(t.max())


def holm(pvalues: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down rejections at family-wise level ``alpha``, in the order given."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - rank):
            break
        rejected[i] = True
    return rejected


def detectable_shift(n_a: int, n_b: int, alpha: float, power: float = 0.9) -> float:
    """Smallest location shift, in σ, a two-sided Mann–Whitney test at ``alpha`` finds with ``power`` (normal data)."""
    from scipy.stats import norm  # scipy: seconds to import, only where its statistic is computed

    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return float(z * math.sqrt(1 / n_a + 1 / n_b) / math.sqrt(MWU_EFFICIENCY))


@functools.cache
def interval_factor(n: int, alpha: float) -> float:
    """``t(1 − alpha/2, n − 1) · √(1 + 1/n)``: σ-multiples of a one-seed prediction interval."""
    from scipy.stats import t  # scipy: seconds to import, only where its statistic is computed

    return float(t.ppf(1 - alpha / 2, n - 1) * math.sqrt(1 + 1 / n)) if n >= 2 else 0.0
