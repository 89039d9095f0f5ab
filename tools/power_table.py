"""What shift must a metric make to be caught 90 % of the time? Old rule vs new, on the stored seeds.

``python tools/power_table.py [LABEL]`` (default ``surrogate-quick``) prints docs/guard.md's table.
No training: the stored seeds are resampled (their heavy tails kept) and shifted by δ·σ.

- old rule (until this change): two new seeds (the session's and its confirmation seed), the
  Student-t prediction interval at α = 1e-4 from the other stored seeds, asinh scale for weight
  statistics; flagged when both lie outside.
- new rule: ``k`` fresh learning seeds (:data:`harness.judge.guard.FRESH_SEEDS`) against the other
  stored learning seeds, exact two-sided rank-sum test at :func:`harness.judge.guard.per_test_alpha`.

σ is the stored learning seeds' standard deviation; δ90 is the smallest shift on a 0.25σ grid
reaching 90 % (2,000 resamples each), ">12" where none does. The robust σ is 1.4826 × the median
absolute deviation: where a few seeds sit far out (``lr_0.1``'s weights), σ is mostly those few,
and a shift in σ says little about the bulk, so δ90 is searched again on a grid of robust σ.

``--scale`` prints the scale-test decision's table instead (docs/guard.md, "A change of spread"):
how often the tier flags a 5× widening of a metric's spread around its median, and how a rank-sum
test of absolute deviations from the pooled median would do at the level the budget would give it.
Not a test module.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments import registry
from harness.judge import baseline, guard, stats

METRICS = ("accuracy", "val_loss", "fc1.std_ratio")
GRID = np.arange(0.25, 12.01, 0.25)
DRAWS = 2000


def old_rule(values: np.ndarray, shift: float, rng, log_scale: bool) -> float:
    """Share of resamples where both new seeds fall outside the old t interval."""
    hits = 0
    for _ in range(DRAWS):
        idx = rng.permutation(len(values))
        new, rest = values[idx[:2]] + shift, values[idx[2:]]
        ref = baseline.Reference(tuple(rest), log_scale)
        hits += all(ref.deviation(float(v)) is not None for v in new)
    return hits / DRAWS


def new_rule(values: np.ndarray, shift: float, rng, k: int, alpha: float) -> float:
    hits = 0
    for _ in range(DRAWS):
        idx = rng.permutation(len(values))
        fresh, rest = values[idx[:k]] + shift, values[idx[k:]]
        hits += stats.rank_sum_pvalue(fresh, rest) <= alpha
    return hits / DRAWS


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 × the median absolute deviation: σ for normal data, blind to a few far-out seeds."""
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def scale_pvalue(fresh: np.ndarray, stored: np.ndarray) -> float:
    """The candidate scale test: two-sided exact rank sum of absolute deviations from the pooled median.

    Under "nothing changed" fresh and stored seeds are exchangeable, and the pooled median is a
    symmetric function of all of them, so the deviations stay exchangeable: the p-value is exact.
    """
    center = np.median(np.concatenate([fresh, stored]))
    return stats.rank_sum_pvalue(np.abs(fresh - center), np.abs(stored - center))


def widened_power(values: np.ndarray, factor: float, k: int, alpha: float, test, rng) -> float:
    """Share of resamples where ``test`` flags ``k`` fresh seeds spread ``factor``× around the stored median."""
    hits, middle = 0, np.median(values)
    for _ in range(DRAWS):
        idx = rng.permutation(len(values))
        fresh, rest = middle + factor * (values[idx[:k]] - middle), values[idx[k:]]
        hits += test(fresh, rest) <= alpha
    return hits / DRAWS


def delta90(rule, values: np.ndarray, sigma: float) -> float:
    rng = np.random.default_rng(7)
    for delta in GRID:
        if rule(values, delta * sigma, rng) >= guard.POWER:
            return float(delta)
    return math.inf


def share_power(stored: tuple[int, ...], fresh_n: int, shares: np.ndarray, alpha: float, rng) -> float:
    hits = 0
    for _ in range(DRAWS):
        fresh = rng.multinomial(fresh_n, shares)
        hits += stats.shares_pvalue(tuple(int(c) for c in fresh), stored) <= alpha
    return hits / DRAWS


def _trained_values(label: str, name: str, metric: str) -> np.ndarray:
    stored = baseline.load(baseline.path_for(Path("baselines"), label, name))
    learning = [m for m in stored.per_seed() if guard.state(m) in guard.TRAINED]
    return np.array([m[metric] for m in learning], dtype=np.float64)


def main(label: str) -> None:
    experiments = registry()
    alpha = guard.per_test_alpha(len(experiments))
    k = guard.FRESH_SEEDS
    print(f"{label}: k = {k} fresh learning seeds, per-test α = {alpha:.3g}, {DRAWS} resamples per shift\n")
    print(
        "| exercise | metric | σ (stored) | robust σ | old rule: δ90 | new rule: δ90 | new rule: δ90 in robust σ "
        "| new rule, natural units |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in experiments:
        stored = baseline.load(baseline.path_for(Path("baselines"), label, name))
        for metric in METRICS:
            values = _trained_values(label, name, metric)
            sigma, robust = float(values.std(ddof=1)), robust_sigma(values)
            log_scale = baseline.uses_log_scale(metric)
            old = delta90(lambda v, s, rng, log=log_scale: old_rule(v, s, rng, log), values, sigma)
            new = delta90(lambda v, s, rng: new_rule(v, s, rng, k, alpha), values, sigma)
            new_robust = delta90(lambda v, s, rng: new_rule(v, s, rng, k, alpha), values, robust)
            print(
                f"| {name} | {metric} | {sigma:.3g} | {robust:.3g} | {_fmt(old)} | {_fmt(new)} | "
                f"{_fmt(new_robust)} | {_units(new_robust, robust)} |"
            )
        if any(guard.state(m) != "learning" for m in stored.per_seed()):
            _states(name, stored, alpha)


def scale_table(label: str, factor: float = 5.0) -> None:
    """The scale-test decision's numbers: the tier as it is, and with a scale test per metric in the budget."""
    experiments = registry()
    k, alpha = guard.FRESH_SEEDS, guard.per_test_alpha(len(experiments))
    split = guard.exercise_alpha(len(experiments)) * (1 - guard.INIT_SHARE) / (guard.TESTS + len(guard.CONTINUOUS))
    print(f"{label}: {factor:g}× spread, k = {k}; the tier's level {alpha:.3g}, with scale tests {split:.3g}\n")
    print("| exercise | metric | the tier flags it | scale test at the split level | location δ90 at the split level |")
    print("| --- | --- | --- | --- | --- |")
    for name in experiments:
        for metric in METRICS:
            values = _trained_values(label, name, metric)
            rng = np.random.default_rng(13)
            now = widened_power(values, factor, k, alpha, stats.rank_sum_pvalue, rng)
            scale = widened_power(values, factor, k, split, scale_pvalue, rng)
            location = delta90(lambda v, s, r: new_rule(v, s, r, k, split), values, float(values.std(ddof=1)))
            print(f"| {name} | {metric} | {now:.1%} | {scale:.1%} | {_fmt(location)} |")


def _states(name: str, stored: baseline.Baseline, alpha: float) -> None:
    """How far the diverged share must move (the rest keeping their ratio) to be caught 90 % of the time."""
    counts = guard.counts(stored.per_seed())
    total = sum(counts)
    fresh_n = guard.fresh_count(stored.per_seed())
    rng = np.random.default_rng(11)
    base = np.array(counts) / total
    for state_index, state in enumerate(guard.STATES[:2]):
        found = {}
        for direction in (+1, -1):
            for share in np.arange(base[state_index], 1.0001 if direction > 0 else -0.0001, 0.05 * direction):
                others = np.delete(base, state_index)
                rest = others / others.sum() * (1 - share)
                shares = np.clip(np.insert(rest, state_index, share), 0.0, 1.0)  # the grid's last step may pass 1
                shares /= shares.sum()
                if share_power(counts, fresh_n, shares, alpha, rng) >= guard.POWER:
                    found[direction] = share
                    break
        up = f"{found[1]:.0%}" if 1 in found else "never"
        down = f"{found[-1]:.0%}" if -1 in found else "never"
        print(
            f"| {name} | share {state} ({counts[state_index]}/{total} = {base[state_index]:.0%}) | | | | "
            f"caught at ≥ {up} or ≤ {down} | | {fresh_n} fresh seeds, share test |"
        )


def _fmt(delta: float) -> str:
    return f"{delta:.2f}σ" if math.isfinite(delta) else f"> {GRID[-1]:.0f}σ"


def _units(delta: float, sigma: float) -> str:
    return f"{delta * sigma:.3g}" if math.isfinite(delta) else "—"


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--scale"]
    (scale_table if "--scale" in sys.argv else main)(args[0] if args else "surrogate-quick")
