"""The statistical tier on fresh seeds when nothing changed: how often does it cry wolf?

``python tools/false_alarms.py FRESH_DIR ...`` takes folders written by
``python -m harness seeds train EXERCISE --seeds … --out FRESH_DIR --shard`` (seeds the
committed baselines do not hold, trained by the same code) and judges them against the
committed baselines the way ``--tier statistical`` does: consecutive groups of as many seeds as
the tier trains. It prints, with 95 % Clopper–Pearson intervals:

- the share of judged groups with any alarm at the tier's own level (the suite-level figure);
- the share of the individual tests with p ≤ 0.05 and p ≤ 0.01 (an exact test's p-values
  are at most uniform under the null: these shares should not exceed 0.05 and 0.01);
- **the exchangeability check** (docs/guard.md, rule fixed before its seeds were trained): per
  exercise, all its fresh seeds at once against the stored ones, by the tier's own tests; the
  fresh and stored seeds are called not exchangeable where any of these p-values, over every
  exercise and test of the run, is at most 0.01 divided by their number (Bonferroni, family
  level 0.01). The groups' p-values share the stored seeds, so they are not independent draws;
  this check is the one with a stated level.

Not a test module.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments import registry
from harness.judge import baseline, guard


def clopper_pearson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import beta

    tail = (1 - level) / 2
    low = 0.0 if hits == 0 else float(beta.ppf(tail, hits, n - hits + 1))
    high = 1.0 if hits == n else float(beta.ppf(1 - tail, hits + 1, n - hits))
    return low, high


def main(folders: list[str]) -> None:
    alpha = guard.per_test_alpha(len(registry()))
    groups = alarms = 0
    pvalues: list[float] = []
    pooled: list[tuple[str, str, float]] = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*/*.json")):
            if path.stem == baseline.DATA:
                continue
            fresh = baseline.load(path)
            backend = fresh.environment.get("backend", "tensorflow")  # judged against its own backend's baseline
            stored = baseline.load(baseline.resolve(Path("baselines"), fresh.label, fresh.experiment, backend))
            assert not set(fresh.seeds) & set(stored.seeds), "fresh seeds must not be baseline seeds"
            per_seed, size = fresh.per_seed(), guard.fresh_count(stored.per_seed())
            for start in range(0, len(per_seed) - size + 1, size):
                chosen = per_seed[start : start + size]
                verdict = guard.judge(stored.per_seed(), chosen, fresh.seeds[start : start + size], alpha)
                groups += 1
                alarms += not verdict.passed
                pvalues += [t.pvalue for t in verdict.tests if t.n_fresh and t.n_stored]
                flagged = "; ".join(verdict.problems) or "no alarm"
                print(f"{fresh.experiment} seeds {baseline.seed_span(verdict.seeds)}: {flagged}")
            everything = guard.judge(stored.per_seed(), per_seed, fresh.seeds, alpha)
            pooled += [(fresh.experiment, t.name, t.pvalue) for t in everything.tests if t.n_fresh and t.n_stored]
    print(f"\nsuite-level: {_share(alarms, groups)} of judged groups raised an alarm at α = {alpha:.3g} per test")
    for level in (0.05, 0.01):
        hits = sum(p <= level for p in pvalues)
        print(f"tests with p ≤ {level}: {_share(hits, len(pvalues))}")
    family = 0.01 / len(pooled)
    exercise, metric, lowest = min(pooled, key=lambda row: row[2])
    verdict = "NOT exchangeable" if lowest <= family else "exchangeable"
    print(
        f"exchangeability, all fresh seeds of each exercise at once: {len(pooled)} tests, smallest p = {lowest:.3g}"
        f" ({exercise} {metric}) against 0.01/{len(pooled)} = {family:.2g}: {verdict} at family level 0.01"
    )


def _share(hits: int, n: int) -> str:
    low, high = clopper_pearson(hits, n)
    return f"{hits}/{n} = {hits / n:.3f} (95 % CI {low:.3f}–{high:.3f})"


if __name__ == "__main__":
    main(sys.argv[1:])
