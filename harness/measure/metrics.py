"""Metrics: plain numbers computed from a training run, by pure functions.

What each name means is :mod:`harness.experiment.vocabulary`'s table: the exercises name them,
this module computes them.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from harness.experiment.vocabulary import LAYERS

#: |w| below this counts as "near zero": an order of magnitude under SGD's L1 step (lr·λ = 1e-4)
#: would be too strict for float32 noise, and Glorot init puts only ~0.4 % of fc1 there.
NEAR_ZERO = 1e-3


class RunLike(Protocol):
    history: dict[str, list[float]]
    kernels: dict[str, np.ndarray]
    initial_kernels: dict[str, np.ndarray]
    y_test: np.ndarray
    y_pred: np.ndarray
    steps_per_epoch: int | None


def weight_stats(w: np.ndarray, initial: np.ndarray | None = None) -> dict[str, float]:
    """The notebook's ``min max mean std`` of a kernel, plus the measures the exercises need."""
    w = np.asarray(w, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # an overflowed kernel's mean and std are NaN
        mean, std = float(w.mean()), float(w.std())
    stats = {
        "min": float(w.min()),
        "max": float(w.max()),
        "mean": mean,
        "std": std,
        # Non-finite weights come from overflow: the explosion went all the way.
        "max_abs": float(np.abs(w).max()) if np.all(np.isfinite(w)) else math.inf,
        "near_zero": float(np.mean(np.abs(w) < NEAR_ZERO)),
    }
    if initial is not None:
        stats["drift"] = relative_drift(initial, w)
        stats["std_ratio"] = std_ratio(initial, w)
    return stats


def std_ratio(initial: np.ndarray, final: np.ndarray) -> float:
    """``std(final) / std(initial)``: 1 = training left the spread as initialised."""
    with np.errstate(invalid="ignore", over="ignore"):  # an overflowed kernel's std is NaN, said below
        start = float(np.std(np.asarray(initial, dtype=np.float64)))
        end = float(np.std(np.asarray(final, dtype=np.float64)))
    if start == 0:
        return math.nan if end == 0 else math.inf
    return end / start


def relative_drift(initial: np.ndarray, final: np.ndarray) -> float:
    """``‖final − initial‖ / ‖initial‖``: how far training moved the weights (0 = not at all)."""
    initial = np.asarray(initial, dtype=np.float64)
    norm = np.linalg.norm(initial)
    if norm == 0:
        return math.inf if np.any(final != initial) else 0.0
    return float(np.linalg.norm(np.asarray(final, dtype=np.float64) - initial) / norm)


def roughness(curve: list[float] | np.ndarray) -> float:
    """Share of a loss curve's epoch-to-epoch travel that goes back up: ``Σ max(0, Δc) / Σ |Δc|``.

    0 means every epoch improved on the last (a smooth descent, whatever its speed); 0.5
    means the curve climbed as much as it fell. This reads the notebook's "jagged" curves
    directly and is scale-free. It would also count a smooth rise from overfitting, which
    this small network on this much data does not show. A curve that went non-finite
    (diverged) is infinitely rough; fewer than two epochs have no roughness.
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.size < 2:
        return math.nan
    if not np.all(np.isfinite(c)):
        return math.inf
    steps = np.diff(c)
    travel = np.abs(steps).sum()
    return float(np.clip(steps, 0, None).sum() / travel) if travel > 0 else 0.0


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of jets whose most probable class is the true one (NaN outputs count as wrong)."""
    pred = np.nan_to_num(np.asarray(y_pred, dtype=np.float64), nan=-np.inf)
    return float(np.mean(np.argmax(pred, axis=1) == np.argmax(y_true, axis=1)))


def compute(run: RunLike) -> dict[str, float]:
    """All metrics of one run, as a flat ``{name: value}`` dict (the vocabulary above)."""
    history = run.history
    values = {
        "accuracy": accuracy(run.y_test, run.y_pred),
        "loss": _last(history.get("loss")),
        "val_loss": _last(history.get("val_loss")),
        "val_accuracy": _last(history.get("val_accuracy")),
        "loss_roughness": roughness(history.get("loss", [])),
        "val_loss_roughness": roughness(history.get("val_loss", [])),
        "steps_per_epoch": math.nan if run.steps_per_epoch is None else float(run.steps_per_epoch),
        "epochs": float(len(history.get("loss", []))),
    }
    for layer in LAYERS:
        for stat, value in weight_stats(run.kernels[layer], run.initial_kernels.get(layer)).items():
            values[f"{layer}.{stat}"] = value
    return values


def _last(curve: list[float] | None) -> float:
    return float(curve[-1]) if curve else math.nan
