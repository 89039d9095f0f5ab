"""The regression guard's statistics: exact tests checked against brute force, tiers against broken rules."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core import environment
from harness.core.environment import EXACT_KEYS
from harness.judge import exact, guard, initial, stats

small = st.lists(st.integers(0, 4).map(float), min_size=1, max_size=5)  # few distinct values: many ties


def brute_rank_sum(fresh: list[float], stored: list[float]) -> float:
    """The definition: the share of all splits whose rank sum is at least as far from its mean.

    Mid-ranks from scipy, not from :mod:`harness.judge.stats`: a mid-rank bug there must not pass both sides.
    """
    from scipy.stats import rankdata

    pooled = rankdata([*fresh, *stored], method="average")
    k, n_all = len(fresh), len(pooled)
    center = k * (n_all + 1) / 2
    observed = abs(pooled[:k].sum() - center)
    splits = list(itertools.combinations(range(n_all), k))
    return sum(abs(pooled[list(s)].sum() - center) >= observed - 1e-9 for s in splits) / len(splits)


@settings(max_examples=150, deadline=None)
@given(small, small)
def test_rank_sum_pvalue_is_the_exact_permutation_pvalue_ties_included(fresh, stored):
    assert stats.rank_sum_pvalue(fresh, stored) == pytest.approx(brute_rank_sum(fresh, stored), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6).map(float), min_size=4, max_size=9), st.sampled_from([0.05, 0.1, 0.2]))
def test_the_false_alarm_rate_never_exceeds_the_level(pooled, alpha):
    """Over every split of one pooled sample into fresh and stored (the null), p ≤ α at most a share α of the time."""
    k = len(pooled) // 3
    splits = list(itertools.combinations(range(len(pooled)), k))
    alarms = 0
    for chosen in splits:
        fresh = [pooled[i] for i in chosen]
        stored = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        alarms += stats.rank_sum_pvalue(fresh, stored) <= alpha
    assert alarms / len(splits) <= alpha + 1e-12


def test_rank_sum_pvalue_agrees_with_scipy_without_ties():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(3)
    for _ in range(5):
        fresh, stored = rng.normal(size=6), rng.normal(size=30) + 0.7
        expected = mannwhitneyu(fresh, stored, method="exact").pvalue
        assert stats.rank_sum_pvalue(fresh, stored) == pytest.approx(expected, rel=1e-9)


def test_a_missing_number_ranks_beyond_infinity_and_is_never_typical():
    assert list(stats.midranks([math.nan, 1.0, math.inf, 1.0])) == [4.0, 1.5, 3.0, 1.5]
    assert stats.rank_sum_pvalue([math.nan] * 6, list(range(40))) < 1e-6


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 5), st.integers(0, 5), st.integers(0, 8), st.integers(0, 8))
def test_two_category_shares_are_fishers_exact_test(a, b, c, d):
    from scipy.stats import fisher_exact

    expected = fisher_exact([[a, b], [c, d]]).pvalue
    assert stats.shares_pvalue([a, b], [c, d]) == pytest.approx(min(1.0, expected), rel=1e-9, abs=1e-12)


def test_three_category_shares_by_brute_force():
    """Freeman–Halton: sum over every way to draw the fresh seeds of the draws no likelier than the observed."""
    fresh, stored = [3, 0, 1], [2, 3, 5]
    labels = [c for c, n in enumerate(np.add(fresh, stored)) for _ in range(n)]
    draws = [tuple(np.bincount([labels[i] for i in s], minlength=3)) for s in itertools.combinations(range(14), 4)]
    frequency = {d: draws.count(d) / len(draws) for d in set(draws)}
    expected = sum(p for p in frequency.values() if p <= frequency[tuple(fresh)] * (1 + 1e-9))
    assert stats.shares_pvalue(fresh, stored) == pytest.approx(expected)


def test_uniform_initial_weights_pass_and_glorot_normal_fails():
    keras = pytest.importorskip("keras")
    shapes = {"fc1": (16, 64), "fc2": (64, 32), "fc3": (32, 32), "fc4": (32, 5)}

    def kernels(initializer) -> dict[str, np.ndarray]:
        return {name: np.asarray(initializer(seed=i)(shape)) for i, (name, shape) in enumerate(shapes.items())}

    alpha = guard.init_alpha(6)
    assert initial.check(kernels(keras.initializers.GlorotUniform), alpha).problems == []
    normal = initial.check(kernels(keras.initializers.GlorotNormal), alpha)
    assert any("beyond the Glorot-uniform bound" in p for p in normal.problems)
    assert any("not U(−1, 1)" in p for p in normal.problems) and normal.kurtosis > -0.9
    wide = {k: v * 1.05 for k, v in kernels(keras.initializers.GlorotUniform).items()}
    assert initial.check(wide, alpha).problems, "a 5 % wider uniform breaks the bound"


def test_a_run_whose_dense_biases_start_off_zero_fails_the_initial_weight_check(monkeypatch):
    """The user's model built with another bias initializer (a Keras default changed): its run fails; the
    default passes. Kernels alone could not tell: they are drawn as before."""
    keras = pytest.importorskip("keras")
    from experiments import registry
    from harness.train.training import biases_of, build_model, kernels_of

    variant = registry()["sgd"].variant

    def check() -> initial.InitVerdict:
        model = build_model(variant)
        return initial.check(kernels_of(model), guard.init_alpha(6), biases_of(model))

    assert check().problems == [] and check().biased == dict.fromkeys(("fc1", "fc2", "fc3", "fc4"), 0)
    real = keras.layers.Dense.__init__
    monkeypatch.setattr(
        keras.layers.Dense, "__init__", lambda self, *a, **kw: real(self, *a, **{**kw, "bias_initializer": "ones"})
    )
    changed = check()
    assert changed.problems[0] == "fc1: 64 initial biases are not 0 (Dense's default bias initializer is zeros)"
    assert len(changed.problems) == 4, changed.problems


def learning(accuracy: float, **extra: float) -> dict[str, float]:
    values = dict.fromkeys(guard.CONTINUOUS, 1.0)
    values.update({"accuracy": accuracy, "loss": 1.0, "val_loss": 1.0, "steps_per_epoch": 59.0, "epochs": 60.0})
    values.update(extra)
    return values


def test_states_are_diverged_dead_saturated_or_learning():
    assert guard.state(learning(0.5, loss=math.nan)) == "diverged"
    assert guard.state(learning(0.2, loss=math.log(5) + 1e-4, val_loss=math.log(5) - 1e-4)) == "dead"
    assert guard.state(learning(0.2, loss=12.885, val_loss=12.914)) == "saturated"  # JAX's lr_0.1, seed 0
    assert guard.state(learning(0.2, loss=12.885, val_loss=1.9)) == "learning"
    assert guard.state(learning(0.3, loss=1.76, val_loss=1.70)) == "learning"


def saturated(**extra: float) -> dict[str, float]:
    return learning(0.2, loss=12.9, val_loss=12.9, **extra)


def test_a_backend_that_stops_saturating_is_caught_by_the_state_shares():
    """JAX's own lr = 0.1 baseline (19 saturated, 1 dead of 20): fresh seeds that learn as on TensorFlow."""
    stored = [saturated(**{"fc1.std_ratio": 1.0 + 0.01 * i}) for i in range(19)]
    stored.append(learning(0.2, loss=math.log(5), val_loss=math.log(5)))
    assert guard.trained(stored) == 19 and guard.fresh_count(stored) == 11
    fresh = [learning(0.35, loss=1.3, val_loss=1.3, **{"fc1.std_ratio": 5.0})] * 11
    verdict = guard.judge(stored, fresh, range(20, 31), guard.per_test_alpha(6))
    flagged = [t.name for t in verdict.tests if t.rejected]
    assert flagged[0] == "diverged/dead/saturated/learning"
    assert "fc1.std_ratio (learning and saturated seeds)" in flagged
    same = guard.judge(stored, [saturated(**{"fc1.std_ratio": 1.05})] * 11, range(20, 31), guard.per_test_alpha(6))
    assert same.passed and same.tests[1].name == "accuracy (saturated seeds)"


def stored_and_fresh(shift: float, seed: int = 0) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(seed)
    stored = [learning(0.5 + 0.01 * z) for z in rng.standard_normal(40)]
    fresh = [learning(0.5 + 0.01 * (z + shift)) for z in rng.standard_normal(6)]
    return stored, fresh


def test_a_four_sigma_shift_of_one_metric_is_flagged_and_no_shift_is_not():
    alpha = guard.per_test_alpha(6)
    stored, fresh = stored_and_fresh(4.0)
    shifted = guard.judge(stored, fresh, range(40, 46), alpha)
    assert [t.name for t in shifted.tests if t.rejected] == ["accuracy (learning seeds)"]
    stored, fresh = stored_and_fresh(0.0)
    assert guard.judge(stored, fresh, range(40, 46), alpha).passed


def test_an_invariant_that_moved_is_a_regression_without_statistics():
    stored, fresh = stored_and_fresh(0.0)
    fresh[0]["steps_per_epoch"] = 71.0
    verdict = guard.judge(stored, fresh, range(40, 46), guard.per_test_alpha(6))
    assert verdict.moved == ("steps_per_epoch: fresh seeds gave 71, every stored seed 59 (no seed moves it)",)


def test_lr_0_1_always_diverging_is_caught_by_the_state_shares():
    """The quick baseline's lr = 0.1 split (16 diverged, 27 dead, 37 learning of 80): 22 fresh seeds all diverge."""
    stored = [learning(0.2, loss=math.nan, epochs=1.0)] * 16 + [
        learning(0.2, loss=math.log(5), val_loss=math.log(5))
    ] * 27
    stored += [learning(0.35)] * 37
    assert guard.fresh_count(stored) == 22
    fresh = [learning(0.2, loss=math.nan, epochs=1.0)] * 22
    verdict = guard.judge(stored, fresh, range(80, 102), guard.per_test_alpha(6))
    assert [t.name for t in verdict.tests if t.rejected] == ["diverged/dead/saturated/learning"]


def test_fresh_seeds_are_never_baseline_seeds():
    assert guard.fresh_seeds(range(40), 0, 3) == [40, 41, 42]
    assert guard.fresh_seeds([5, 7], 4, 3) == [4, 6, 8]


def test_the_tests_judge_runs_spend_no_more_than_the_suites_budget():
    """Count what ``judge`` really runs, at the level it really uses: a test added to it without its share of
    the budget (or a level not split between the tests) overspends, and this fails."""
    n = 6
    rng = np.random.default_rng(0)

    def seed(state: str) -> dict[str, float]:
        m = {name: float(rng.normal()) for name in guard.CONTINUOUS}
        m.update({"loss": 0.5, "val_loss": 0.5, "epochs": 60.0})
        if state == "diverged":
            m.update({"loss": math.nan, "epochs": float(rng.integers(1, 60))})
        return m

    stored = [seed("learning") for _ in range(36)] + [seed("diverged") for _ in range(4)]
    fresh = [seed("learning") for _ in range(9)] + [seed("diverged")]
    verdict = guard.judge(stored, fresh, list(range(40, 50)), guard.per_test_alpha(n))
    spent = sum(test.alpha for test in verdict.tests)
    assert len(verdict.tests) == guard.TESTS
    assert n * (spent + guard.init_alpha(n)) <= guard.SUITE_ALPHA * (1 + 1e-12)


def test_the_required_baseline_reaches_the_power_target_and_one_seed_fewer_does_not():
    n = guard.required_seeds()
    assert guard.power(n) >= guard.POWER > guard.power(n - 1)
    assert guard.strength_problem(n) is None and "needs at least" in guard.strength_problem(n - 1)


def exact_size(n: int, k: int, alpha: float) -> float:
    """P(p ≤ alpha) when nothing changed, from the rank sum's exact null distribution (untied data)."""
    sums, probs = stats._null(tuple(2 * r for r in range(1, n + k + 1)), k)
    distance = np.abs(sums - k * (n + k + 1))
    pvalues = np.array([probs[distance >= d * (1 - 1e-12)].sum() for d in distance])
    return float(probs[pvalues <= alpha].sum())


def test_a_rank_test_never_alarms_more_often_than_its_level_and_a_broken_level_would():
    """Exact, not simulated: at the guard's level, 10 fresh against 40 stored seeds alarm at most that often when
    nothing changed. Had the level not been split between the suite's tests, the size would be 60 times larger."""
    alpha = guard.per_test_alpha(6)
    assert exact_size(40, guard.FRESH_SEEDS, alpha) <= alpha
    unsplit = guard.SUITE_ALPHA  # the broken rule: every test at the whole suite's level
    assert exact_size(40, guard.FRESH_SEEDS, unsplit) > 30 * alpha


class FakeRun:
    def __init__(self, bump: float = 0.0, history_bump: float = 0.0) -> None:
        self.kernels = {"fc1": np.full((2, 2), 0.5 + bump, dtype=np.float32)}
        self.y_pred = np.full((3, 5), 0.2, dtype=np.float32)
        self.history = {"loss": [1.0, 0.9 + history_bump]}
        self.steps_per_epoch = 59


ENV = {key: "x" for key in EXACT_KEYS}


def test_the_digest_moves_with_one_ulp_of_a_weight_or_of_the_history():
    base = exact.digest(FakeRun())
    assert exact.digest(FakeRun()) == base
    ulp = float(np.spacing(np.float32(0.5)))
    assert exact.digest(FakeRun(bump=ulp)) != base
    assert exact.digest(FakeRun(history_bump=1e-16)) != base


def test_the_exact_tier_says_why_it_does_not_apply_and_what_moved_when_it_does():
    record = exact.record(ENV, "p", {0: (FakeRun(), {"accuracy": 0.7})}, "abc")
    assert "holds no exact record" in exact.check([], ENV, "p", 0, FakeRun(), {}).why
    other = exact.check([record], {**ENV, "backend_version": "y"}, "p", 0, FakeRun(), {})
    assert not other.applies and "backend_version: x vs y" in other.why
    assert "holds seed 0, not 7" in exact.check([record], ENV, "p", 7, FakeRun(), {}).why
    assert exact.check([record], ENV, "p", 0, FakeRun(), {"accuracy": 0.7}).passed
    moved = exact.check([record], ENV, "p", 0, FakeRun(bump=0.1), {"accuracy": 0.71})
    assert moved.applies and moved.problems == ("accuracy: recorded 0.69999999999999996, now 0.70999999999999996",)


def test_a_machine_whose_key_matches_but_whose_probe_does_not_goes_to_the_statistical_tier():
    """Another CPU the fingerprint cannot tell apart: a changed digest there is not a regression."""
    record = exact.record(ENV, "probe-of-the-recorder", {0: (FakeRun(), {"accuracy": 0.7})}, "abc")
    elsewhere = exact.check([record], ENV, "probe-of-another-cpu", 0, FakeRun(bump=0.1), {"accuracy": 0.71})
    assert not elsewhere.applies and not elsewhere.problems
    assert "computes other bits (numerics probe probe-of-ano" in elsewhere.why
    legacy = exact.Record(record.environment, record.seeds, "abc", probe=None)
    assert "predates the numerics probe" in exact.check([legacy], ENV, "p", 0, FakeRun(), {}).why
    # the same machine with a changed training still fails: the probe does not excuse it
    here = exact.check([record], ENV, "probe-of-the-recorder", 0, FakeRun(bump=0.1), {"accuracy": 0.71})
    assert here.applies and here.problems


def test_a_cpu_model_the_xla_and_torch_kernels_see_is_another_environment_but_not_for_tensorflow():
    """XLA compiles for the host CPU and MKL dispatches by vendor: an EPYC is not a Xeon there.

    TensorFlow's oneDNN kernels gave the same bits on both (measured), so its key keeps the coarse ISA level.
    """
    epyc = {"cpu_model": "AuthenticAMD 25 17", "isa_flags": "avx2 avx512_bf16 avx512f"}
    xeon = {"cpu_model": "GenuineIntel 6 207", "isa_flags": "amx_tile avx2 avx512_bf16 avx512f"}
    for backend, separated in (("jax", True), ("torch", True), ("tensorflow", False)):
        a, b = ({**ENV, "backend": backend, **cpu} for cpu in (xeon, epyc))
        assert (exact.environment_key(a) != exact.environment_key(b)) is separated, backend
    jax = environment.differences({**ENV, "backend": "jax", **xeon}, {**ENV, "backend": "jax", **epyc})
    assert jax == ["cpu_model: GenuineIntel 6 207 vs AuthenticAMD 25 17", "isa_flags: amx_tile vs nothing only"]


@pytest.mark.parametrize("spelling", ["ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"])
def test_capping_onednns_instruction_set_is_another_environment(monkeypatch, spelling):
    """Measured: a cap at AVX2 on an AVX-512 Xeon changes seed 0's bits (either spelling oneDNN reads)."""
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(name, raising=False)
    plain = exact.environment_key({**environment.fingerprint(), "backend": "tensorflow"})
    monkeypatch.setenv(spelling, "AVX2")
    capped = exact.environment_key({**environment.fingerprint(), "backend": "tensorflow"})
    assert capped["onednn"].endswith("max_isa=AVX2") and capped != plain


def test_too_few_fresh_seeds_are_refused_before_they_train_with_the_count_that_can_reject():
    """3 fresh seeds against 40 stored ones: no rank test can reach the level, so the tier could never fail."""
    alpha = guard.per_test_alpha(6)
    assert guard.smallest_pvalue(40, 3) == pytest.approx(2 / math.comb(43, 3)) and guard.smallest_pvalue(40, 3) > alpha
    assert guard.smallest_pvalue(40, 4) <= alpha
    assert guard.fresh_problem(3, 40).endswith("use at least 4") and guard.fresh_problem(4, 40) is None
    assert guard.fresh_problem(1).startswith("--fresh-seeds 1 can never flag a change against any baseline")
    # a baseline too weak for any fresh count is the baseline's problem, said by weakness(), not a refusal
    assert guard.fresh_problem(4, 1) is None and guard.fresh_problem(3, 3) is None
    assert guard.weakness([{"loss": 0.5, "val_loss": 0.5}] * 40, 2).startswith("weak baseline: with 2 fresh seeds")
    # the bound is the rank test's own: the most extreme arrangement of 4 fresh seeds reaches it exactly
    assert stats.rank_sum_pvalue([-4.0, -3.0, -2.0, -1.0], list(range(40))) == pytest.approx(
        guard.smallest_pvalue(40, 4)
    )
