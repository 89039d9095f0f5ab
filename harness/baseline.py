"""Stored baselines: one compare/update engine for every metric of every exercise.

A baseline file holds, per metric, the values measured over several seeds, their mean
and standard deviation σ, and the tolerance derived from them::

    tolerance = max(K_SIGMA · σ, ATOL + RTOL · |mean|)

``K_SIGMA`` is fixed here, not tuned per failure: a run is "the same training" when every
metric lies within ``K_SIGMA`` seed-to-seed standard deviations of the stored mean. The
floor only matters for metrics that do not vary with the seed at all.
Files live at ``baselines/<dataset>-<profile>/<exercise>.json`` (the test id's parameter).
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BaselineError
from .files import atomic, first_line, read_json
from .metrics import LAYERS

SCHEMA = 1
K_SIGMA = 4.0
ATOL = 1e-6
RTOL = 1e-4
#: What a baseline pins: accuracy, final losses, and the weight statistics the notebook prints.
BASELINE_METRICS: tuple[str, ...] = (
    "accuracy",
    "loss",
    "val_loss",
    "val_accuracy",
    *(f"{layer}.{stat}" for layer in LAYERS for stat in ("min", "max", "mean", "std")),
)


@dataclass(frozen=True)
class Reference:
    """One metric's stored spread over the baseline seeds (NaN = that seed diverged)."""

    values: tuple[float, ...]

    @property
    def finite(self) -> list[float]:
        return [v for v in self.values if math.isfinite(v)]

    @property
    def mean(self) -> float:
        finite = self.finite
        return sum(finite) / len(finite) if finite else math.nan

    @property
    def std(self) -> float:
        finite = self.finite
        if len(finite) < 2:
            return 0.0
        mean = self.mean
        return math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))

    @property
    def tolerance(self) -> float:
        return max(K_SIGMA * self.std, ATOL + RTOL * abs(self.mean)) if self.finite else 0.0

    def deviation(self, observed: float) -> str | None:
        """``None`` if ``observed`` is consistent with the stored seeds, else why not."""
        if not math.isfinite(observed):
            if len(self.finite) < len(self.values):
                return None
            return f"observed {observed}, but every baseline seed stayed finite (mean {self.mean:.6g})"
        if not self.finite:
            return f"observed {observed:.6g}, but every baseline seed diverged"
        if abs(observed - self.mean) <= self.tolerance:
            return None
        return (
            f"observed {observed:.6g}, expected {self.mean:.6g} ± {self.tolerance:.3g} "
            f"({K_SIGMA:g}σ, σ={self.std:.3g} over {len(self.finite)} seeds)"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "mean": _num(self.mean),
            "std": _num(self.std),
            "tolerance": _num(self.tolerance),
            "values": [_num(v) for v in self.values],
        }


#: Loss curves kept per seed, so a report can draw a run over the baseline's band.
CURVES: tuple[str, ...] = ("loss", "val_loss")


@dataclass(frozen=True)
class Baseline:
    experiment: str
    label: str
    seeds: tuple[int, ...]
    metrics: dict[str, Reference]
    environment: dict[str, str]
    curves: dict[str, tuple[tuple[float, ...], ...]] = field(default_factory=dict)

    def band(self, curve: str) -> tuple[list[float], list[float], list[float]] | None:
        """Per epoch: mean and the ``mean ± K_SIGMA·σ`` band of a loss curve over the seeds."""
        runs = self.curves.get(curve)
        if not runs:
            return None
        epochs = min(len(r) for r in runs)
        references = [Reference(tuple(r[i] for r in runs)) for i in range(epochs)]
        mean = [ref.mean for ref in references]
        return (
            mean,
            [m - ref.tolerance for m, ref in zip(mean, references, strict=True)],
            [m + ref.tolerance for m, ref in zip(mean, references, strict=True)],
        )

    def compare(self, observed: Mapping[str, float]) -> list[str]:
        """One line per metric outside its tolerance (empty list: training unchanged)."""
        problems = []
        for name, reference in self.metrics.items():
            if name not in observed:
                problems.append(f"{name}: in the baseline but not computed by this run")
                continue
            why = reference.deviation(observed[name])
            if why:
                problems.append(f"{name}: {why}")
        return problems

    def to_json(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "experiment": self.experiment,
            "label": self.label,
            "seeds": list(self.seeds),
            "k_sigma": K_SIGMA,
            "environment": self.environment,
            "metrics": {name: ref.to_json() for name, ref in self.metrics.items()},
            "curves": {name: [[_num(v) for v in run] for run in runs] for name, runs in self.curves.items()},
        }


def from_runs(
    experiment: str,
    label: str,
    per_seed: Mapping[int, Mapping[str, float]],
    histories: Mapping[int, Mapping[str, Sequence[float]]] | None = None,
) -> Baseline:
    """Summarize the metrics (and loss curves) of several seeds into a baseline."""
    seeds = tuple(sorted(per_seed))
    metrics = {name: Reference(tuple(float(per_seed[s][name]) for s in seeds)) for name in BASELINE_METRICS}
    curves = {}
    if histories:
        for name in CURVES:
            curves[name] = tuple(tuple(float(v) for v in histories[s].get(name, ())) for s in seeds)
    return Baseline(experiment, label, seeds, metrics, environment(), curves)


def path_for(root: Path, label: str, experiment: str) -> Path:
    return Path(root) / label / f"{experiment}.json"


def load(path: Path) -> Baseline:
    """Read and check a baseline file; any problem is a one-line :class:`BaselineError`."""
    raw = read_json(path, BaselineError, "baseline")
    try:
        return _parse(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BaselineError(f"{path}: malformed baseline ({type(exc).__name__}: {first_line(exc)})") from None


def _parse(raw: object) -> Baseline:
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise ValueError(f"expected a JSON object with schema {SCHEMA}")
    metrics = {}
    for name, entry in raw["metrics"].items():
        values = tuple(_from_num(v) for v in entry["values"])
        if not values:
            raise ValueError(f"metric {name!r} has no values")
        metrics[str(name)] = Reference(values)
    seeds = tuple(int(s) for s in raw["seeds"])
    environment = {str(k): str(v) for k, v in dict(raw.get("environment", {})).items()}
    curves = {
        str(name): tuple(tuple(_from_num(v) for v in run) for run in runs)
        for name, runs in dict(raw.get("curves", {})).items()
    }
    return Baseline(str(raw["experiment"]), str(raw["label"]), seeds, metrics, environment, curves)


def write(path: Path, baseline: Baseline) -> None:
    """Write atomically: an interrupted update leaves the old file intact."""
    with atomic(path) as tmp:
        tmp.write_text(json.dumps(baseline.to_json(), indent=2, allow_nan=False) + "\n", encoding="utf-8")


def orphans(root: Path, label: str, experiments: Iterable[str]) -> list[Path]:
    """Baseline files of ``label`` whose exercise no longer exists."""
    known = set(experiments)
    folder = Path(root) / label
    return sorted(p for p in folder.glob("*.json") if p.stem not in known) if folder.is_dir() else []


def environment() -> dict[str, str]:
    """Versions and commit a baseline was measured with: a drift report starts here.

    Versions come from package metadata, so recording them never imports TensorFlow.
    """
    keras = sys.modules.get("keras")
    backend = keras.backend.backend() if keras else os.environ.get("KERAS_BACKEND", "tensorflow")
    env = {"python": platform.python_version(), "backend": backend}
    for package in ("keras", backend, "numpy", "scikit-learn"):
        try:
            env[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    env["machine"] = f"{platform.system()} {platform.machine()}"
    env["commit"] = _commit()
    return env


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _num(value: float) -> float | str:
    """JSON has no NaN: non-finite values are stored as the strings ``"nan"``, ``"inf"``, ``"-inf"``."""
    return value if math.isfinite(value) else str(value)


def _from_num(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"expected a number, got {value!r}")
    if isinstance(value, str) and value not in {"nan", "inf", "-inf"}:
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)
