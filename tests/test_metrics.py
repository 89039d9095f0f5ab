"""Metrics are pure functions: checked on hand-made arrays and with hypothesis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.experiment.vocabulary import is_metric
from harness.measure.metrics import NEAR_ZERO, accuracy, relative_drift, roughness, weight_stats

finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)
kernels = arrays(np.float32, st.tuples(st.integers(1, 20), st.integers(1, 20)), elements=finite)


def test_weight_stats_are_the_notebooks_numbers():
    w = np.array([[-2.0, 0.0], [1.0, 0.0005]])
    stats = weight_stats(w)
    assert stats["min"] == -2.0 and stats["max"] == 1.0
    assert stats["mean"] == pytest.approx(w.mean())
    assert stats["std"] == pytest.approx(w.std())
    assert stats["max_abs"] == 2.0
    assert stats["near_zero"] == 0.5


@given(kernels)
def test_weight_stats_invariants(w):
    stats = weight_stats(w, initial=w)
    assert stats["min"] <= stats["mean"] + 1e-6 * abs(stats["mean"]) + 1e-9
    assert stats["mean"] <= stats["max"] + 1e-6 * abs(stats["max"]) + 1e-9
    assert stats["max_abs"] == pytest.approx(max(abs(stats["min"]), abs(stats["max"])))
    assert stats["std"] >= 0
    assert 0 <= stats["near_zero"] <= 1
    assert stats["drift"] == 0.0


#: Where scaling a float32 weight by 0.5-2 is exact to float32 precision: no subnormals, which lose
#: bits when halved (``1e-45 * 0.5`` rounds to 0, a drift of 1 instead of 0.5).
normal_weights = arrays(
    np.float32,
    st.tuples(st.integers(1, 20), st.integers(1, 20)),
    elements=st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False, width=32).filter(
        lambda x: x == 0 or abs(x) >= 1e-30
    ),
)


@given(normal_weights, st.floats(0.5, 2.0))
def test_drift_measures_relative_distance(w, factor):
    if np.linalg.norm(w.astype(np.float64)) == 0:
        return
    assert relative_drift(w, w * factor) == pytest.approx(abs(factor - 1), rel=1e-4, abs=1e-6)


def test_drift_of_a_subnormal_kernel_is_outside_the_propertys_domain():
    """The example that once failed CI: halving 1e-45 in float32 gives 0, so the drift is 1, not 0.5."""
    w = np.array([[1e-45]], dtype=np.float32)
    assert relative_drift(w, w * np.float32(0.5)) == 1.0


def test_overflowed_weights_count_as_exploded():
    stats = weight_stats(np.array([1.0, np.nan, -3.0]))
    assert stats["max_abs"] == math.inf and math.isnan(stats["std"])


def test_near_zero_threshold_is_strict():
    assert weight_stats(np.array([NEAR_ZERO, -NEAR_ZERO / 2]))["near_zero"] == 0.5


def test_roughness_is_zero_for_any_steady_descent_and_grows_with_jitter():
    epochs = np.arange(30)
    assert roughness(0.7 + 0.8 * np.exp(-epochs / 5)) == 0.0
    assert roughness(1.0 / (1 + epochs)) == 0.0
    assert roughness([1.0, 0.8, 0.9, 0.7]) == pytest.approx(0.1 / 0.5)
    assert roughness([1.0, 2.0, 1.0, 2.0, 1.0]) == pytest.approx(0.5)


@given(st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=60), st.floats(1e-2, 1e2))
def test_roughness_is_a_scale_free_share(curve, scale):
    r = roughness(curve)
    assert 0.0 <= r <= 1.0
    assert roughness(np.array(curve) * scale) == pytest.approx(r, rel=1e-6, abs=1e-9)


def test_roughness_of_a_diverged_curve_is_infinite_and_of_a_single_epoch_undefined():
    assert roughness([1.0, 0.5, math.nan, math.nan]) == math.inf
    assert math.isnan(roughness([1.0]))


def test_accuracy_counts_nan_outputs_as_wrong():
    y_true = np.eye(3)[[0, 1, 2]]
    y_pred = np.array([[0.9, 0.1, 0.0], [np.nan, np.nan, np.nan], [0.1, 0.1, 0.8]])
    assert accuracy(y_true, y_pred) == pytest.approx(2 / 3)


@pytest.mark.parametrize("name", ["accuracy", "val_loss_roughness", "fc1.std", "fc4.drift"])
def test_known_metric_names(name):
    assert is_metric(name)


@pytest.mark.parametrize("name", ["acc", "fc5.std", "fc1.median", "fc1"])
def test_unknown_metric_names(name):
    assert not is_metric(name)
