"""The statistical tier of the regression guard: fresh seeds against the baseline's, by exact rank tests.

Where the exact tier (:mod:`harness.judge.exact`) cannot decide — another TensorFlow or Keras,
another processor, another backend — training is unchanged when seeds trained now are
exchangeable with the seeds the baseline stores. The rule, fixed before looking at data:

1. Draw fresh seeds: the session seed's own ``model.fit`` run, and members of
   :mod:`harness.train.side_by_side` (the baseline's own trainer) for :func:`fresh_seeds` it does not
   hold; ``k`` in all, more when the baseline's seeds often diverge or die, so that about ``k``
   fresh seeds train (:data:`TRAINED`: learning or saturated).
2. Sort every seed into a :data:`STATES` entry: ``diverged`` (its loss went non-finite),
   ``dead`` (train and validation loss at ln 5, uniform guessing over five classes: the ReLUs
   died), ``saturated`` (train and validation loss at least :data:`SATURATED_LOSS`: the softmax
   is certain and wrong on most jets, where a clipped cross-entropy has no gradient left — JAX
   and PyTorch at lr = 0.1, docs/backends.md) or ``learning``. lr = 0.1 trains to several;
   a change of the shares is a change.
3. Per exercise, :data:`TESTS` exact tests (:mod:`harness.judge.stats`), each at
   :func:`per_test_alpha` (Bonferroni: any dependence between them is allowed):

   - the state shares (Freeman–Halton);
   - every :data:`CONTINUOUS` metric over the :data:`TRAINED` seeds only (rank sum, two-sided):
     a dead or exploded seed's numbers do not blur the others';
   - the epoch at which diverged seeds diverged (rank sum with ties: a discrete metric).

4. :data:`INVARIANT` metrics that every stored seed (of a state that trains every epoch)
   agrees on exactly — steps per epoch, epochs — are not statistics: any fresh seed that
   differs is a change, with no false-alarm budget spent.

The whole suite raises a false alarm with probability at most :data:`SUITE_ALPHA` (each
exercise gets an equal share, the initial-weight check one hundredth of it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.judge import stats
from harness.measure.metrics import LAYERS

SUITE_ALPHA = 1e-3
#: Fresh seeds expected to learn per exercise. Against normal data k = 6 would do (99 % at 4σ with 40
#: stored seeds, :func:`harness.judge.stats.rank_sum_power`), but the stored seeds' tails are heavier: resampled,
#: a 4σ shift of adam's or sgd's accuracy was caught 90 % of the time only from k = 10 on
#: (``tools/power_table.py``: δ90 4.75σ at k = 6, 4.0σ at k = 8 and 3.25σ at k = 10 for sgd's accuracy).
FRESH_SEEDS = 10
#: The shift, in seed-to-seed σ, that a baseline must let the guard catch with :data:`POWER`.
SHIFT = 4.0
POWER = 0.9
STATES: tuple[str, ...] = ("diverged", "dead", "saturated", "learning")
#: The states whose seeds the metric tests compare: trained to finite numbers, not dead.
TRAINED: tuple[str, ...] = ("saturated", "learning")
#: Uniform guessing's cross-entropy over five classes: where a network with dead ReLUs sits.
DEAD_LOSS = math.log(5)
DEAD_WITHIN = 0.005
#: Keras's fuzz factor (``keras.config.epsilon()``): JAX's and PyTorch's cross-entropy clip probabilities to it.
KERAS_EPSILON = 1e-7
#: Half the clipped loss of a certain, wrong prediction (−ln ε / 2 ≈ 8.06). A network certain of one class
#: of five sits at 0.8 · 16.1 ≈ 12.9; the stored TensorFlow seeds that learn end below 1.8.
SATURATED_LOSS = -math.log(KERAS_EPSILON) / 2
CONTINUOUS: tuple[str, ...] = (
    "accuracy",
    "loss",
    "val_loss",
    "val_accuracy",
    *(f"{layer}.std_ratio" for layer in LAYERS),
)
INVARIANT: tuple[str, ...] = ("steps_per_epoch", "epochs")
#: Statistical tests per exercise: the shares, each continuous metric, the divergence epoch.
TESTS = 1 + len(CONTINUOUS) + 1
#: The share of an exercise's false-alarm budget kept for its initial-weight check.
INIT_SHARE = 0.01

Metrics = Mapping[str, float]


def exercise_alpha(n_exercises: int) -> float:
    """Each exercise's share of :data:`SUITE_ALPHA`."""
    return SUITE_ALPHA / max(1, n_exercises)


def per_test_alpha(n_exercises: int) -> float:
    """The level of each of an exercise's :data:`TESTS` rank tests."""
    return exercise_alpha(n_exercises) * (1 - INIT_SHARE) / TESTS


def init_alpha(n_exercises: int) -> float:
    """The level of an exercise's initial-weight check."""
    return exercise_alpha(n_exercises) * INIT_SHARE


def state(metrics: Metrics) -> str:
    """One of :data:`STATES` (see the module docstring)."""
    loss, val_loss = metrics.get("loss", math.nan), metrics.get("val_loss", math.nan)
    if not (math.isfinite(loss) and math.isfinite(val_loss)):
        return "diverged"
    if abs(loss - DEAD_LOSS) < DEAD_WITHIN and abs(val_loss - DEAD_LOSS) < DEAD_WITHIN:
        return "dead"
    if loss >= SATURATED_LOSS and val_loss >= SATURATED_LOSS:
        return "saturated"
    return "learning"


def counts(seeds: Sequence[Metrics]) -> tuple[int, ...]:
    """How many of ``seeds`` are in each of :data:`STATES`."""
    found = [state(m) for m in seeds]
    return tuple(found.count(s) for s in STATES)


def trained(seeds: Sequence[Metrics]) -> int:
    """How many of ``seeds`` are in a :data:`TRAINED` state: the ones the metric tests compare."""
    return sum(state(m) in TRAINED for m in seeds)


def fresh_count(stored: Sequence[Metrics], k: int = FRESH_SEEDS) -> int:
    """How many fresh seeds to train so that about ``k`` train (:data:`TRAINED`), by the stored share (at most 4k)."""
    n_trained = trained(stored)
    if n_trained == 0:
        return k
    return min(4 * k, math.ceil(k * len(stored) / n_trained))


def fresh_seeds(stored_seeds: Sequence[int], start: int, count: int) -> list[int]:
    """The first ``count`` seeds from ``start`` on that the baseline does not hold."""
    taken, chosen, seed = set(stored_seeds), [], start
    while len(chosen) < count:
        if seed not in taken:
            chosen.append(seed)
        seed = (seed + 1) % 2**32
    return chosen


def smallest_pvalue(n_stored: int, k: int) -> float:
    """The smallest two-sided p-value a rank-sum test of ``k`` fresh against ``n_stored`` values can give:
    the fresh ones ranked all lowest or all highest, 2 / C(n + k, k) (ties only raise it)."""
    return min(1.0, 2 / math.comb(n_stored + k, k)) if k and n_stored else 1.0


#: The largest baseline the refusals below consider: seeds beyond it are hours of training.
LARGEST_BASELINE = 1000


def fresh_problem(k: int, n_stored: int | None = None, n_exercises: int = 6) -> str | None:
    """Why ``k`` fresh seeds can never flag a change, against ``n_stored`` trained stored seeds (``None``: against
    any baseline of up to :data:`LARGEST_BASELINE`), or ``None`` when they can. Asked before any fresh seed trains."""
    alpha = per_test_alpha(n_exercises)
    n = LARGEST_BASELINE if n_stored is None else n_stored
    if smallest_pvalue(n, k) <= alpha:
        return None
    least = next((j for j in range(k + 1, 4 * FRESH_SEEDS + 1) if smallest_pvalue(n, j) <= alpha), None)
    if least is None:
        return None  # the baseline holds too few trained seeds for any fresh count: weakness() says so
    against = f"{n_stored} stored seeds" if n_stored is not None else f"any baseline of up to {n} seeds"
    return (
        f"--fresh-seeds {k} can never flag a change against {against}: the smallest p-value {k} fresh seeds "
        f"can reach is {smallest_pvalue(n, k):.2g}, above the per-test level {alpha:.2g}; use at least {least}"
    )


def required_seeds(k: int = FRESH_SEEDS, n_exercises: int = 6) -> int:
    """The fewest stored trained seeds with which :data:`SHIFT` σ is caught with :data:`POWER` (normal data)."""
    alpha = per_test_alpha(n_exercises)
    largest = LARGEST_BASELINE  # asked once, not per n: a hopeless k would otherwise simulate every n up to it
    if smallest_pvalue(largest, k) > alpha or stats.rank_sum_power(largest, k, alpha, SHIFT) < POWER:
        raise ValueError(_unreachable(k))
    n = 2
    while smallest_pvalue(n, k) > alpha or stats.rank_sum_power(n, k, alpha, SHIFT) < POWER:
        n += 1
        if n > LARGEST_BASELINE:
            raise ValueError(_unreachable(k))
    return n


def _unreachable(k: int) -> str:
    return f"with {k} fresh seeds no baseline of up to {LARGEST_BASELINE} seeds reaches {POWER:.0%} power"


def power(n_trained: int, k: int = FRESH_SEEDS, n_exercises: int = 6) -> float:
    """The chance the guard flags a :data:`SHIFT` σ move of one metric with ``n_trained`` stored trained seeds."""
    return stats.rank_sum_power(n_trained, k, per_test_alpha(n_exercises), SHIFT)


def weakness(stored: Sequence[Metrics], k: int = FRESH_SEEDS, n_exercises: int = 6) -> str | None:
    """A note when the baseline holds too few trained seeds for the guard's power target, else ``None``."""
    n = trained(stored)
    try:
        needed = required_seeds(k, n_exercises)
    except ValueError as exc:
        return f"weak baseline: {exc}"
    if n >= needed:
        return None
    return (
        f"weak baseline: {n} {_pool(stored)} flag a {SHIFT:g}σ shift of one metric with "
        f"{power(n, k, n_exercises):.0%} probability; {needed} reach {POWER:.0%}"
    )


def strength_problem(n_seeds: int, k: int = FRESH_SEEDS, n_exercises: int = 6) -> str | None:
    """Why a new baseline of ``n_seeds`` seeds would weaken the guard, or ``None`` if it would not."""
    try:
        needed = required_seeds(k, n_exercises)
    except ValueError as exc:
        return str(exc)
    if n_seeds >= needed:
        return None
    return (
        f"a baseline of {n_seeds} seeds flags a {SHIFT:g}σ shift with {power(n_seeds, k, n_exercises):.0%} "
        f"probability; the guard needs at least {needed} (more where seeds diverge or die: the default "
        f"is 40: 5–7 min an exercise on the quick profile and 29–33 on the full one, TensorFlow on 2 cores)"
    )


@dataclass(frozen=True)
class Comparison:
    """One exact test: what it compares, over how many seeds, its p-value and level."""

    name: str
    n_fresh: int
    n_stored: int
    pvalue: float
    alpha: float
    fresh: str
    stored: str

    @property
    def rejected(self) -> bool:
        return self.pvalue <= self.alpha

    def __str__(self) -> str:
        verdict = "differs" if self.rejected else "same"
        return (
            f"{self.name}: fresh {self.fresh} vs stored {self.stored} "
            f"(p = {self.pvalue:.2g}, flagged at ≤ {self.alpha:.2g}: {verdict})"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "n_fresh": self.n_fresh,
            "n_stored": self.n_stored,
            "pvalue": self.pvalue,
            "alpha": self.alpha,
            "fresh": self.fresh,
            "stored": self.stored,
            "rejected": self.rejected,
        }


@dataclass(frozen=True)
class StatisticalVerdict:
    """The statistical tier's answer for one exercise: the tests, and the invariants that moved."""

    seeds: tuple[int, ...]
    tests: tuple[Comparison, ...]
    moved: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> list[str]:
        """One line per rejected test or moved invariant: the regression."""
        return [*self.moved, *(str(t) for t in self.tests if t.rejected)]

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "tier": "statistical",
            "seeds": list(self.seeds),
            "passed": self.passed,
            "moved": list(self.moved),
            "notes": list(self.notes),
            "tests": [t.to_json() for t in self.tests],
        }


def judge(
    stored: Sequence[Metrics], fresh: Sequence[Metrics], seeds: Sequence[int], alpha: float
) -> StatisticalVerdict:
    """Compare fresh seeds' metrics with the stored seeds' by the rule in the module docstring."""
    tests = [_shares(stored, fresh, alpha)]
    trained_stored = [m for m in stored if state(m) in TRAINED]
    trained_fresh = [m for m in fresh if state(m) in TRAINED]
    over = _pool([*trained_stored, *trained_fresh])
    for name in CONTINUOUS:
        tests.append(_ranks(name, trained_fresh, trained_stored, alpha, over))
    diverged_stored = [m for m in stored if state(m) == "diverged"]
    diverged_fresh = [m for m in fresh if state(m) == "diverged"]
    tests.append(_ranks("epochs", diverged_fresh, diverged_stored, alpha, "diverged seeds", label="divergence epoch"))
    notes = []
    if len(trained_fresh) < FRESH_SEEDS:
        notes.append(
            f"{len(trained_fresh)} of {len(fresh)} fresh seeds count as {over}: the metric tests had less power"
        )
    return StatisticalVerdict(tuple(seeds), tuple(tests), tuple(_moved(stored, fresh)), tuple(notes))


def _pool(seeds: Sequence[Metrics]) -> str:
    """What the metric tests compare, in words: ``learning seeds``, ``saturated seeds`` or both."""
    found = [s for s in reversed(TRAINED) if any(state(m) == s for m in seeds)] or ["learning"]
    return " and ".join(found) + " seeds"


def _shares(stored: Sequence[Metrics], fresh: Sequence[Metrics], alpha: float) -> Comparison:
    f, s = counts(fresh), counts(stored)
    p = stats.shares_pvalue(f, s)
    return Comparison("/".join(STATES), len(fresh), len(stored), p, alpha, "/".join(map(str, f)), "/".join(map(str, s)))


def _ranks(
    name: str, fresh: Sequence[Metrics], stored: Sequence[Metrics], alpha: float, over: str, label: str | None = None
) -> Comparison:
    f = [m.get(name, math.nan) for m in fresh]
    s = [m.get(name, math.nan) for m in stored]
    p = stats.rank_sum_pvalue(f, s)
    return Comparison(f"{label or name} ({over})", len(f), len(s), p, alpha, median_text(f), median_text(s))


def median_text(values: Sequence[float]) -> str:
    if not values:
        return "none"
    finite = [v for v in values if math.isfinite(v)]
    text = f"median {np.median(finite):.4g}" if finite else "all non-finite"
    return text if len(finite) == len(values) else f"{text}, {len(values) - len(finite)} non-finite"


def _moved(stored: Sequence[Metrics], fresh: Sequence[Metrics]) -> list[str]:
    """Invariants (every stored seed of a state that trains every epoch agrees exactly) that a fresh seed broke."""
    moved = []
    for name in INVARIANT:
        pool = stored if name == "steps_per_epoch" else [m for m in stored if state(m) != "diverged"]
        values = {m.get(name) for m in pool}
        if len(pool) < 2 or len(values) != 1:
            continue
        (expected,) = values
        checked = fresh if name == "steps_per_epoch" else [m for m in fresh if state(m) != "diverged"]
        observed = sorted({m.get(name) for m in checked} - {expected}, key=str)
        if observed:
            shown = ", ".join(f"{v:g}" for v in observed)
            moved.append(f"{name}: fresh seeds gave {shown}, every stored seed {expected:g} (no seed moves it)")
    return moved
