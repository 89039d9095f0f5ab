"""The baseline engine: tolerance from the seed spread, comparison, atomic files, clear errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.errors import BaselineError
from harness.judge import baseline
from harness.judge.baseline import ALPHA, Reference
from harness.judge.stats import interval_factor


def metrics(accuracy: float, **extra: float) -> dict[str, float]:
    values = {name: 0.5 for name in baseline.BASELINE_METRICS}
    values.update(accuracy=accuracy, **extra)
    return values


def make(values_by_seed: dict[int, dict[str, float]]) -> baseline.Baseline:
    return baseline.from_runs("adam", "surrogate-quick", values_by_seed)


def test_tolerance_is_the_prediction_interval_for_one_more_seed():
    ref = Reference((0.70, 0.71, 0.72))
    assert ref.mean == pytest.approx(0.71)
    assert ref.spread == pytest.approx(0.01)
    factor = interval_factor(3, ALPHA)
    assert ref.tolerance == pytest.approx(factor * 0.01)
    assert (ref.low, ref.high) == (pytest.approx(0.71 - factor * 0.01), pytest.approx(0.71 + factor * 0.01))


@pytest.mark.parametrize(
    "n, t_quantile",
    [(3, 99.99), (5, 15.544), (10, 6.594), (20, 4.897)],  # Student's t at 1 − ALPHA/2
)
def test_interval_factor_is_students_t_at_alpha(n, t_quantile):
    """Few seeds, wide intervals: that is what the seed spread honestly supports."""
    assert ALPHA == 1e-4
    assert interval_factor(n, ALPHA) == pytest.approx(t_quantile * math.sqrt(1 + 1 / n), rel=1e-3)


def test_weight_statistics_are_compared_on_an_asinh_scale():
    """asinh is linear for ordinary weights and logarithmic for exploded ones (lr = 0.1)."""
    exploded = Reference((1e14, 1e18, 3e16, 1e25, 1e20), log_scale=True)
    assert exploded.center == pytest.approx(sum(math.asinh(v) for v in exploded.values) / 5)
    assert exploded.deviation(1e22) is None
    ordinary = Reference((0.40, 0.41, 0.42, 0.40, 0.41), log_scale=True)
    linear = Reference(ordinary.values)
    assert ordinary.mean == pytest.approx(linear.mean, rel=1e-3)
    assert ordinary.high == pytest.approx(linear.high, rel=0.05)


def test_an_interval_beyond_float_range_is_unbounded_and_still_stored(tmp_path):
    """Two finite exploded seeds (the third diverged) give t(1) ≈ 6366: wider than floats reach."""
    ref = Reference((-37.05, -9.09, math.nan), log_scale=True)
    assert (ref.low, ref.high) == (-math.inf, math.inf)
    assert ref.deviation(-1e30) is None
    stored = make({0: metrics(0.3, **{"fc1.std_ratio": -37.05}), 1: metrics(0.31, **{"fc1.std_ratio": -9.09})})
    baseline.write(tmp_path / "lr.json", stored)
    assert baseline.load(tmp_path / "lr.json").metrics["fc1.std_ratio"].values == (-37.05, -9.09)


def test_constant_metric_gets_the_floor_not_zero():
    ref = Reference((2.0, 2.0, 2.0))
    assert ref.tolerance == pytest.approx(baseline.ATOL + baseline.RTOL * 2.0)
    assert ref.deviation(2.0) is None


# Exercise metrics are judged by the guard (tests/test_guard.py: a moved steps_per_epoch, divergence as a
# state); Baseline.compare judges only the data baseline (_data.json), whose one stored value per moment
# is compared within the floor tolerance.


def data_baseline() -> tuple[baseline.Baseline, dict[str, float]]:
    from harness.data.dataset import CLASSES, FEATURES, Dataset
    from harness.data.prepare import moments, prepare

    rng = np.random.default_rng(0)
    X = rng.lognormal(0, 1, (500, len(FEATURES))).astype(np.float32)
    values = moments(prepare(Dataset("jets", X, np.asarray(CLASSES)[rng.integers(0, 5, 500)])))
    return baseline.from_runs(baseline.DATA, "jets-smoke", {0: values}, names=tuple(values)), values


def test_a_moment_the_data_no_longer_gives_is_a_problem():
    stored, values = data_baseline()
    assert stored.compare(values) == []
    del values["share(t)"]
    assert stored.compare(values) == ["share(t): in the baseline but not computed by this run"]


def test_a_moment_moved_beyond_the_floor_says_what_was_stored():
    stored, values = data_baseline()
    moved = {**values, "mean(j_mass_mmdt)": values["mean(j_mass_mmdt)"] * (1 + 10 * baseline.RTOL)}
    assert [p.split(":")[0] for p in stored.compare(moved)] == ["mean(j_mass_mmdt)"]
    assert "but the baseline stored" in stored.compare(moved)[0]
    within = {**values, "mean(j_mass_mmdt)": values["mean(j_mass_mmdt)"] * (1 + baseline.RTOL / 10)}
    assert stored.compare(within) == []


def test_round_trip_keeps_every_value_including_nan(tmp_path):
    stored = make({0: metrics(0.7, loss=math.nan), 1: metrics(0.71, loss=1.2)})
    path = tmp_path / "surrogate-quick" / "adam.json"
    baseline.write(path, stored)
    loaded = baseline.load(path)
    assert loaded.seeds == (0, 1)
    assert loaded.metrics["accuracy"].values == (0.7, 0.71)
    assert math.isnan(loaded.metrics["loss"].values[0])
    assert json.loads(path.read_text())["metrics"]["loss"]["values"][0] == "nan"
    assert not list(path.parent.glob(".*.tmp")), "no temp file is left behind"


def test_loss_curves_round_trip_into_a_band_of_the_seeds_own_quantiles(tmp_path):
    """The band is what the stored seeds did: a skewed epoch (one seed far above) never reaches below zero."""
    first = [0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12, 0.13, 5.0]  # a t interval here reaches -1.7
    histories = {s: {"loss": [first[s], 0.8], "val_loss": [1.0, math.nan if s == 0 else 0.9]} for s in range(10)}
    stored = baseline.from_runs("adam", "surrogate-quick", {s: metrics(0.7) for s in range(10)}, histories)
    path = tmp_path / "adam.json"
    baseline.write(path, stored)
    median, low, high = baseline.load(path).band("loss")
    assert median == pytest.approx([np.median(first), 0.8])
    assert (
        low[0] == pytest.approx(np.quantile(first, 0.05))
        and low[0] > 0
        and high[0] == pytest.approx(np.quantile(first, 0.95))
    )
    assert baseline.load(path).band("val_loss")[0][1] == pytest.approx(0.9), "a diverged epoch is left out"
    assert baseline.load(path).band("accuracy") is None


def test_missing_baseline_names_the_file(tmp_path):
    with pytest.raises(BaselineError, match=r"adam\.json: no baseline"):
        baseline.load(tmp_path / "adam.json")


HEADER = f'{{"schema": {baseline.SCHEMA}, "experiment": "adam", "label": "x", "seeds": [0], '


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"schema": 1, "metrics": {', "unreadable baseline"),
        ("[]", "malformed baseline"),
        ('{"schema": 99}', "malformed baseline"),
        ('{"schema": 2}', f"baseline format 2 predates this harness's {baseline.SCHEMA}"),
        (HEADER + '"metrics": {"accuracy": {"values": []}}}', "malformed baseline"),
        (HEADER + '"metrics": {"accuracy": {"values": ["a"]}}}', "malformed baseline"),
    ],
)
def test_corrupt_baseline_is_one_clear_error(tmp_path, text, reason):
    path = tmp_path / "adam.json"
    path.write_text(text)
    with pytest.raises(BaselineError, match=reason) as info:
        baseline.load(path)
    assert "\n" not in str(info.value)
    assert path.read_text() == text, "a bad baseline is reported, never rewritten"


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
plausible = st.fixed_dictionaries(
    {
        "schema": st.just(baseline.SCHEMA),
        "experiment": json_values,
        "label": json_values,
        "seeds": json_values,
        "metrics": json_values,
    }
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_values, plausible))
def test_loader_accepts_valid_files_or_raises_our_error_only(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("fuzz") / "x.json"
    path.write_text(json.dumps(document))
    try:
        loaded = baseline.load(path)
    except BaselineError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(ref.values for ref in loaded.metrics.values())


def test_orphaned_baselines_are_listed(tmp_path):
    (tmp_path / "surrogate-quick").mkdir()
    (tmp_path / "surrogate-quick" / "firmware").mkdir()
    for name in ("adam", "dropout", "firmware/adam", "firmware/renamed"):
        (tmp_path / "surrogate-quick" / f"{name}.json").write_text("{}")
    found = baseline.orphans(tmp_path, "surrogate-quick", ["adam", "sgd"])
    shown = [str(p.relative_to(tmp_path / "surrogate-quick")) for p in found]
    assert shown == ["dropout.json", "firmware/renamed.json"]


def test_exact_records_round_trip_and_two_machines_records_live_side_by_side(tmp_path):
    from harness.core.environment import EXACT_KEYS
    from harness.judge import exact

    env = {key: "x" for key in EXACT_KEYS}
    first = exact.Record(env, {0: ("d0", {"accuracy": 0.7, "loss": math.nan})}, "abc", "p1")
    other = exact.Record({**env, "backend_version": "y"}, {0: ("e0", {"accuracy": 0.7})}, "abc", "p1")
    stored = baseline.from_runs("adam", "surrogate-quick", {0: metrics(0.7), 1: metrics(0.71)}, exact=(first, other))
    path = tmp_path / "adam.json"
    baseline.write(path, stored)
    loaded = baseline.load(path)
    assert [(r.seeds[0][0], r.probe) for r in loaded.exact] == [("d0", "p1"), ("e0", "p1")]
    assert math.isnan(loaded.exact[0].seeds[0][1]["loss"])
    again = exact.replace(loaded.exact, exact.Record(env, {7: ("d7", {})}, "def", "p1"))
    assert [(sorted(r.seeds), r.commit) for r in again] == [([0], "abc"), ([0, 7], "def")]
    # one key, other bits: a second machine's record is added beside the first, never over it
    beside = exact.replace(again, exact.Record(env, {0: ("f0", {})}, "ghi", "p2"))
    assert sorted((r.probe, r.seeds[0][0]) for r in beside if r.environment == env) == [("p1", "d0"), ("p2", "f0")]
    assert len({r.id for r in beside}) == 3


def test_a_smeared_feature_fails_the_data_baseline():
    """10 % jet-mass resolution moves no trained metric beyond the seed spread; the data's moments catch it."""
    from harness.data.dataset import CLASSES, FEATURES, Dataset
    from harness.data.prepare import moments, prepare

    rng = np.random.default_rng(0)
    X = rng.lognormal(0, 1, (2000, len(FEATURES))).astype(np.float32)
    y = np.asarray(CLASSES)[rng.integers(0, 5, 2000)]
    values = moments(prepare(Dataset("jets", X, y)))
    stored = baseline.from_runs(baseline.DATA, "jets-smoke", {0: values}, names=tuple(values))
    assert stored.compare(moments(prepare(Dataset("jets", X.copy(), y)))) == []
    X[:, FEATURES.index("j_mass_mmdt")] *= 1 + 0.1 * rng.standard_normal(2000).astype(np.float32)
    problems = stored.compare(moments(prepare(Dataset("jets", X, y))))
    assert [p.split(":")[0] for p in problems] == ["mean(j_mass_mmdt)", "std(j_mass_mmdt)"]
    assert "but the baseline stored" in problems[1]
