"""The surrogate keeps the physics the exercises depend on: shapes, classes, determinism, scales."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data import surrogate

N = 20_000


@pytest.fixture(scope="module")
def jets():
    X, y = surrogate.generate(N)
    return X, y


def column(X, name):
    return X[:, surrogate.FEATURES.index(name)]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2**32 - 1))
def test_shape_classes_and_determinism_per_seed(n, seed):
    X, y = surrogate.generate(n, seed=seed)
    assert X.shape == (n, 16) and X.dtype == np.float32 and y.shape == (n,)
    assert np.isfinite(X).all() and set(y) <= set(surrogate.CLASSES)
    X2, y2 = surrogate.generate(n, seed=seed)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_other_seed_other_jets():
    assert not np.array_equal(surrogate.generate(100, seed=1)[0], surrogate.generate(100, seed=2)[0])


def test_classes_are_balanced(jets):
    _, y = jets
    counts = [np.sum(y == c) for c in surrogate.CLASSES]
    assert max(counts) - min(counts) <= 1


@pytest.mark.parametrize("cls, low, high", [("w", 70, 90), ("z", 80, 100), ("t", 150, 195)])
def test_mass_peaks_at_the_boson_and_top_masses(jets, cls, low, high):
    X, y = jets
    mass = column(X, "j_mass_mmdt")[y == cls]
    hist, edges = np.histogram(mass, bins=np.arange(0, 300, 5))
    peak = edges[np.argmax(hist)] + 2.5
    assert low <= peak <= high


def test_gluons_have_more_constituents_than_quarks(jets):
    X, y = jets
    mult = column(X, "j_multiplicity")
    assert np.median(mult[y == "g"]) > np.median(mult[y == "q"]) + 4


def test_two_prong_jets_have_low_d2_and_n2(jets):
    X, y = jets
    for feature in ("j_d2_b1_mmdt", "j_n2_b1_mmdt", "j_c2_b1_mmdt"):
        values = column(X, feature)
        two_prong = np.median(values[np.isin(y, ["w", "z"])])
        assert two_prong < np.median(values[y == "t"]) < np.median(values[np.isin(y, ["q", "g"])])


def test_feature_scales_span_the_real_datasets_range(jets):
    """The scaling exercise depends on this spread: mass ~100, multiplicity ~40, C1(β=2) ~1e-4."""
    X, _ = jets
    medians = dict(zip(surrogate.FEATURES, np.median(np.abs(X), axis=0), strict=True))
    assert 30 < medians["j_mass_mmdt"] < 150
    assert 20 < medians["j_multiplicity"] < 80
    assert medians["j_c1_b2_mmdt"] < 1e-3
    assert 0.5 < medians["j_d2_b1_mmdt"] < 5
    assert np.all(column(X, "j_zlogz") < 0)
    assert medians["j_mass_mmdt"] / medians["j_c1_b2_mmdt"] > 1e5


@pytest.mark.parametrize("kwargs, message", [({"n_jets": 0}, "n_jets"), ({"overlap": 0}, "overlap")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        surrogate.generate(**kwargs)
