"""Stored baselines: per exercise, the pinned metrics of many seeds and each environment's exact record.

A baseline file (``baselines/<dataset>-<profile>/<exercise>.json``) holds, per pinned metric,
the value every baseline seed trained to, and its loss curves. Two tiers judge a new run:

- the exact tier (:mod:`harness.judge.exact`): where an :attr:`Baseline.exact` record matches the
  environment, the session seed's run must reproduce it bit for bit;
- the statistical tier (:mod:`harness.judge.guard`): everywhere else, fresh seeds (never baseline
  seeds) against the stored ones by exact rank tests.

The prediction interval of :class:`Reference` (Student's t over the seeds, ``asinh`` scale for
weight statistics) is kept for what is shown, not judged: the report's bands, and the data
baseline, whose moments no seed moves (any change beyond float rounding is a change).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.core.environment import differences, fingerprint
from harness.core.errors import BaselineError
from harness.core.files import first_line, json_number, read_json, write_text
from harness.judge import exact as exact_tier
from harness.judge import stats
from harness.measure.metrics import LAYERS

#: The repository's baselines folder: the default of ``--baselines-dir`` everywhere.
DEFAULT_BASELINES = Path(__file__).resolve().parents[2] / "baselines"
#: Beside the exercises' label folders: pytest-benchmark results (``bench compare`` reads them), not baselines.
BENCHMARKS = "benchmarks"

#: 4: weight stds pinned relative to their initial value, means no longer; exact records.
SCHEMA = 4
#: The quantiles of the stored seeds' loss at each epoch that the report's band spans.
BAND = (0.05, 0.95)
#: The data baseline's name (``baselines/<label>/_data.json``): the prepared training data's moments.
DATA = "_data"
ALPHA = 1e-4
ATOL = 1e-6
RTOL = 1e-4
#: What a baseline pins: accuracy, final losses, how much data was fitted for how many epochs,
#: and each layer's std relative to its initial std. Not pinned: the kernels' means (a
#: seed-to-seed CV of 30–3,000 %; fc4's never moves under plain SGD), their raw stds (mostly
#: the initialisation's draw: std_ratio carries 3–5× less seed noise), min and max (heavy-tailed).
BASELINE_METRICS: tuple[str, ...] = (
    "accuracy",
    "loss",
    "val_loss",
    "val_accuracy",
    "steps_per_epoch",
    "epochs",
    *(f"{layer}.std_ratio" for layer in LAYERS),
)


@dataclass(frozen=True)
class Reference:
    """One metric's stored values over the baseline seeds (NaN = that seed diverged)."""

    values: tuple[float, ...]
    log_scale: bool = False

    def _scale(self, value: float) -> float:
        return math.asinh(value) if self.log_scale else value

    def _unscale(self, value: float) -> float:
        if not self.log_scale:
            return value
        try:
            return math.sinh(value)
        except OverflowError:  # an interval wider than floats reach: unbounded on that side
            return math.copysign(math.inf, value)

    @property
    def finite(self) -> list[float]:
        """The finite values, on the comparison scale."""
        return [self._scale(v) for v in self.values if math.isfinite(v)]

    @property
    def center(self) -> float:
        finite = self.finite
        return sum(finite) / len(finite) if finite else math.nan

    @property
    def spread(self) -> float:
        """Sample standard deviation σ on the comparison scale."""
        finite = self.finite
        if len(finite) < 2:
            return 0.0
        center = self.center
        return math.sqrt(sum((v - center) ** 2 for v in finite) / (len(finite) - 1))

    @property
    def seed_invariant(self) -> bool:
        """Every baseline seed gave the same value (steps per epoch, epochs): no seed can move it."""
        return len(self.finite) > 1 and self.spread == 0

    @property
    def tolerance(self) -> float:
        """Half-width of the prediction interval, on the comparison scale."""
        if not self.finite:
            return 0.0
        return max(stats.interval_factor(len(self.finite), ALPHA) * self.spread, ATOL + RTOL * abs(self.center))

    @property
    def mean(self) -> float:
        return self._unscale(self.center)

    @property
    def low(self) -> float:
        return self._unscale(self.center - self.tolerance)

    @property
    def high(self) -> float:
        return self._unscale(self.center + self.tolerance)

    def deviation(self, observed: float) -> str | None:
        """``None`` if ``observed`` is what one more seed could give, else why not."""
        if not math.isfinite(observed):
            if len(self.finite) < len(self.values):
                return None
            return f"observed {observed}, but every baseline seed stayed finite (mean {self.mean:.6g})"
        if not self.finite:
            return f"observed {observed:.6g}, but every baseline seed diverged"
        if abs(self._scale(observed) - self.center) <= self.tolerance:
            return None
        if self.spread == 0:
            stored = "every baseline seed gave" if len(self.finite) > 1 else "the baseline stored"
            return f"observed {observed:.6g}, but {stored} {self.mean:.6g}"
        return (
            f"observed {observed:.6g}, expected {self.mean:.6g} in [{self.low:.6g}, {self.high:.6g}] "
            f"(prediction interval over {len(self.finite)} seeds{', asinh scale' if self.log_scale else ''})"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "mean": json_number(self.mean),
            "low": json_number(self.low),
            "high": json_number(self.high),
            "scale": "asinh" if self.log_scale else "linear",
            "values": [json_number(v) for v in self.values],
        }


def uses_log_scale(metric: str) -> bool:
    """Weight statistics (``fc1.min`` …) can explode by orders of magnitude; the rest cannot."""
    return "." in metric


#: ``trainer`` of the older baselines, which the statistical tier refuses: seeds of the stacked stand-in that
#: never called ``model.fit``, or one ``model.fit`` each (a file without the field). Seeds trained today say
#: :data:`harness.train.side_by_side.TRAINER`.
SIDE_BY_SIDE = "side-by-side"
MODEL_FIT = "model.fit"

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
    #: How the seeds were trained (:data:`harness.train.side_by_side.TRAINER`), or ``None`` (the data baseline).
    trainer: str | None = None
    #: One exact record per environment it was recorded in (:mod:`harness.judge.exact`).
    exact: tuple[exact_tier.Record, ...] = ()

    def per_seed(self) -> list[dict[str, float]]:
        """Each stored seed's pinned metrics, in :attr:`seeds` order: what the statistical tier compares."""
        return [{name: ref.values[i] for name, ref in self.metrics.items()} for i in range(len(self.seeds))]

    def band(self, curve: str) -> tuple[list[float], list[float], list[float]] | None:
        """Per epoch: the median and the :data:`BAND` quantiles of a loss curve over the stored seeds.

        Quantiles of what the seeds did, not a symmetric interval: a loss that no seed took below
        zero is never drawn there (a mean ± t·s band was, at ``adam``'s skewed first epoch).
        Non-finite epochs (a diverged seed) are left out of that epoch's quantiles.
        """
        runs = self.curves.get(curve)
        if not runs:
            return None
        epochs = min(len(r) for r in runs)
        per_epoch = [np.array([r[i] for r in runs], dtype=float) for i in range(epochs)]
        per_epoch = [v[np.isfinite(v)] for v in per_epoch]
        q = [np.quantile(v, (0.5, *BAND)) if v.size else (math.nan,) * 3 for v in per_epoch]
        return [float(x[0]) for x in q], [float(x[1]) for x in q], [float(x[2]) for x in q]

    def deviations(self, observed: Mapping[str, float]) -> dict[str, str]:
        """Why each metric outside its interval is (empty: this seed is like the baseline's)."""
        found = {}
        for name, reference in self.metrics.items():
            if name not in observed:
                found[name] = "in the baseline but not computed by this run"
            elif why := reference.deviation(observed[name]):
                found[name] = why
        return found

    def compare(self, observed: Mapping[str, float]) -> list[str]:
        """One line per metric outside its tolerance (empty list: training unchanged)."""
        return [f"{name}: {why}" for name, why in self.deviations(observed).items()]

    def to_json(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "experiment": self.experiment,
            "label": self.label,
            "seeds": list(self.seeds),
            **({"trainer": self.trainer} if self.trainer else {}),
            "environment": self.environment,
            "metrics": {name: ref.to_json() for name, ref in self.metrics.items()},
            "curves": {name: [[json_number(v) for v in run] for run in runs] for name, runs in self.curves.items()},
            "exact": [record.to_json() for record in self.exact],
        }


def from_runs(
    experiment: str,
    label: str,
    per_seed: Mapping[int, Mapping[str, float]],
    histories: Mapping[int, Mapping[str, Sequence[float]]] | None = None,
    names: Sequence[str] = BASELINE_METRICS,
    trainer: str | None = None,
    exact: Sequence[exact_tier.Record] = (),
) -> Baseline:
    """Summarize the metrics ``names`` (and loss curves) of several seeds into a baseline."""
    seeds = tuple(sorted(per_seed))
    metrics = {name: Reference(tuple(float(per_seed[s][name]) for s in seeds), uses_log_scale(name)) for name in names}
    curves = {}
    if histories:
        for name in CURVES:
            curves[name] = tuple(tuple(float(v) for v in histories[s].get(name, ())) for s in seeds)
    return Baseline(experiment, label, seeds, metrics, fingerprint(), curves, trainer, tuple(exact))


def merge(parts: Sequence[tuple[Path, Baseline]]) -> Baseline:
    """One baseline from shards of the same exercise, settings and environment, trained on disjoint seeds.

    Their exact records are kept (each describes one environment's ``model.fit`` run of a seed).

    Anything that would make the seeds different draws — another exercise, dataset or
    profile, another trainer, an environment that changes the bits, another metric set — or a
    seed in two shards is a one-line :class:`BaselineError` naming both files.
    """
    if not parts:
        raise BaselineError("nothing to merge")
    (first_path, first), *rest = parts
    owner = {seed: first_path for seed in first.seeds}
    for path, part in rest:
        clash = f"cannot merge {path} into {first_path}"
        for what in ("experiment", "label", "trainer"):
            if getattr(part, what) != getattr(first, what):
                raise BaselineError(f"{clash}: {what} {getattr(part, what)!r} vs {getattr(first, what)!r}")
        if set(part.metrics) != set(first.metrics):
            raise BaselineError(f"{clash}: they pin different metrics")
        if set(part.curves) != set(first.curves):
            raise BaselineError(f"{clash}: they keep different loss curves")
        if moved := differences(part.environment, first.environment):
            raise BaselineError(f"{clash}: trained in another environment ({'; '.join(moved)})")
        if shared := sorted(set(part.seeds) & set(owner)):
            raise BaselineError(f"{clash}: both hold seed {shared[0]} ({len(shared)} seeds overlap)")
        owner.update(dict.fromkeys(part.seeds, path))
    seeds = tuple(sorted(owner))
    per_seed = {seed: {} for seed in seeds}
    curves: dict[str, dict[int, tuple[float, ...]]] = {}
    for _, part in parts:
        for name, reference in part.metrics.items():
            for seed, value in zip(part.seeds, reference.values, strict=True):
                per_seed[seed][name] = value
        for name, runs in part.curves.items():
            curves.setdefault(name, {}).update(zip(part.seeds, runs, strict=True))
    metrics = {
        name: Reference(tuple(per_seed[s][name] for s in seeds), reference.log_scale)
        for name, reference in first.metrics.items()
    }
    merged_curves = {name: tuple(by_seed[s] for s in seeds) for name, by_seed in curves.items()}
    records: tuple[exact_tier.Record, ...] = ()
    for _, part in parts:  # an exact record describes a model.fit run, whichever shard carried it
        for record in part.exact:
            records = exact_tier.replace(records, record)
    return Baseline(
        first.experiment, first.label, seeds, metrics, first.environment, merged_curves, first.trainer, records
    )


def seed_span(seeds: Sequence[int]) -> str:
    """``0-39`` for a contiguous run of seeds, else the seeds listed (``3, 7, 9``)."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        return "none"
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def fresh_draws(seeds: Sequence[int]) -> str:
    """The statistical tier's fresh draws in words: the session seed's own run, then the members side by side."""
    first, *members = [int(s) for s in seeds] or [None]
    if first is None:
        return "none"
    return f"{first}'s own run and {seed_span(members)}" if members else f"{first}'s own run"


def path_for(root: Path, label: str, experiment: str) -> Path:
    return Path(root) / label / f"{experiment}.json"


def own_label(label: str, backend: str) -> str:
    """``surrogate-quick-jax``: the folder of baselines a backend other than TensorFlow trained itself."""
    return label if backend == "tensorflow" else f"{label}-{backend}"


def resolve(root: Path, label: str, experiment: str, backend: str) -> Path:
    """The baseline a run on ``backend`` is judged against: its backend's own file where there is one
    (docs/backends.md: where the trained distributions differ), else the shared one TensorFlow trained."""
    own = path_for(root, own_label(label, backend), experiment)
    return own if own.exists() else path_for(root, label, experiment)


def load(path: Path) -> Baseline:
    """Read and check a baseline file; any problem is a one-line :class:`BaselineError`."""
    raw = read_json(path, BaselineError, "baseline")
    version = raw.get("schema") if isinstance(raw, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version < SCHEMA:
        raise BaselineError(f"{path}: baseline format {version} predates this harness's {SCHEMA}, pins other metrics")
    try:
        return _parse(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BaselineError(f"{path}: malformed baseline ({type(exc).__name__}: {first_line(exc)})") from None


def _parse(raw: object) -> Baseline:
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise ValueError(f"expected a JSON object with schema {SCHEMA}")
    metrics = {}
    for name, entry in raw["metrics"].items():
        values = tuple(_fromjson_number(v) for v in entry["values"])
        if not values:
            raise ValueError(f"metric {name!r} has no values")
        metrics[str(name)] = Reference(values, uses_log_scale(str(name)))
    seeds = tuple(int(s) for s in raw["seeds"])
    if len(set(seeds)) != len(seeds):
        raise ValueError("a seed is listed twice")
    for name, reference in metrics.items():
        if len(reference.values) != len(seeds):
            raise ValueError(f"metric {name!r} has {len(reference.values)} values for {len(seeds)} seeds")
    environment = {str(k): str(v) for k, v in dict(raw.get("environment", {})).items()}
    curves = {
        str(name): tuple(tuple(_fromjson_number(v) for v in run) for run in runs)
        for name, runs in dict(raw.get("curves", {})).items()
    }
    for name, runs in curves.items():
        if runs and len(runs) != len(seeds):
            raise ValueError(f"curve {name!r} has {len(runs)} runs for {len(seeds)} seeds")
    trainer = raw.get("trainer", MODEL_FIT if raw["experiment"] != DATA else None)
    trainer = None if trainer is None else str(trainer)
    records = tuple(exact_tier.Record.from_json(r) for r in raw.get("exact", []))
    return Baseline(str(raw["experiment"]), str(raw["label"]), seeds, metrics, environment, curves, trainer, records)


def exact_records(path: Path) -> tuple[exact_tier.Record, ...]:
    """The exact records of the baseline at ``path``; none where there is no readable baseline (it is
    about to be written over, so an unreadable one has nothing to keep)."""
    try:
        return load(path).exact if path.exists() else ()
    except BaselineError:
        return ()


def write(path: Path, baseline: Baseline) -> None:
    """Write atomically: an interrupted update leaves the old file intact."""
    write_text(path, json.dumps(baseline.to_json(), indent=2, allow_nan=False) + "\n")


def orphans(root: Path, label: str, experiments: Iterable[str]) -> list[Path]:
    """Baseline files of ``label`` (training and firmware) whose exercise no longer exists."""
    known = {*experiments, DATA}
    folder = Path(root) / label
    files = [*folder.glob("*.json"), *folder.glob("firmware/*.json")] if folder.is_dir() else []
    return sorted(p for p in files if p.stem not in known and p.stem != DATA)


def _fromjson_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"expected a number, got {value!r}")
    if isinstance(value, str) and value not in {"nan", "inf", "-inf"}:
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)
