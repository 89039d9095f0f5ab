"""The firmware's exact tier: the same float model must give the same fixed-point outputs.

A firmware record is keyed by the digest of the training run it was converted from
(:func:`harness.judge.exact.digest`), so it applies wherever the training reproduced those bits,
on any machine. It holds the digest of the firmware's outputs at one precision point, its
accuracy and agreement, and the firmware's environment: hls4ml's version, the compiler's, and every
setting left to hls4ml's defaults. When the outputs move, the failure names what moved in
the numbers and in that environment. Records live beside the training baselines, in
``baselines/<dataset>-<profile>/firmware/<exercise>.json``. Where no record of the float model
applies (another machine's training), the probe's record in ``baselines/firmware-probe.json``
guards the firmware instead: it is keyed by the probe's own numbers, the same everywhere.

Beyond the exact tier, the same file's ``seeds`` hold the firmware metrics of the training
baseline's seeds, converted once when the baseline is made (:class:`Seeds`). Fresh seeds' firmware
is then judged against them (:func:`statistical`), by the rule fixed before any of them were
looked at: per :data:`FIRMWARE_METRICS`, a two-sided exact rank-sum test of the fresh seeds that
converted against the stored ones that did, each at :func:`per_test_alpha` (the firmware step's own
false-alarm budget, :data:`harness.judge.guard.SUITE_ALPHA`, split evenly over its exercises and
metrics: Bonferroni). Whether a seed converts is its training's state, which the training guard judges.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.errors import BaselineError
from harness.core.files import read_json, write_text
from harness.experiment.vocabulary import FIRMWARE_METRICS
from harness.judge import guard, stats

if TYPE_CHECKING:  # a type only: importing the firmware stage here would import Keras before a backend is chosen
    from harness.firmware.convert import FirmwareRun

FOLDER = "firmware"
PROBE_FILE = "firmware-probe.json"
#: The training baseline's first seeds whose firmware is stored: each costs a training and ~2 s of C simulation.
SEEDS = 20


@dataclass(frozen=True)
class Record:
    run_digest: str
    seed: int
    precision: str
    digest: str
    #: ``None`` for the probe, which has no labels: its agreement is with its own float model.
    accuracy: float | None
    agreement: float
    environment: dict[str, str]

    @classmethod
    def of(cls, run_digest: str, result: FirmwareRun) -> Record:
        environment = {k: str(v) for k, v in result.environment.items()}
        accuracy = None if math.isnan(result.accuracy) else result.accuracy
        numbers = (result.digest, accuracy, result.agreement)
        return cls(run_digest, result.seed, result.precision, *numbers, environment)


def path_for(root: Path, label: str, experiment: str) -> Path:
    return Path(root) / label / FOLDER / f"{experiment}.json"


def probe_path(root: Path) -> Path:
    """The probe's records (:mod:`harness.firmware.probe`): one file for every dataset, profile and backend."""
    return Path(root) / PROBE_FILE


@dataclass(frozen=True)
class Seeds:
    """The firmware of a training baseline's seeds at one precision point, and where it was made."""

    precision: str
    #: The training baseline's trainer and backend: fresh seeds are draws of the same only where both match.
    trainer: str
    backend: str
    #: hls4ml's and the compiler's versions and the defaults left, as a firmware record holds them.
    environment: dict[str, str]
    #: Per seed, its :data:`FIRMWARE_METRICS`, or why it had nothing to convert.
    results: dict[int, dict[str, float] | str]
    #: :func:`training_digest` of the training baseline's seeds they were converted from.
    training: str

    def converted(self) -> list[dict[str, float]]:
        return [r for r in self.results.values() if not isinstance(r, str)]


def training_digest(per_seed: Mapping[int, Mapping[str, float]]) -> str:
    """sha256 of the training baseline's seeds whose firmware is stored: a re-recorded baseline makes them stale."""
    text = json.dumps({str(s): dict(sorted(m.items())) for s, m in sorted(per_seed.items())}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _raw(path: Path) -> dict:
    raw = read_json(path, BaselineError, "firmware baseline") if path.exists() else {}
    if not isinstance(raw, dict):
        raise BaselineError(f"{path}: not a firmware baseline (a JSON object)")
    return raw


def load(path: Path) -> tuple[Record, ...]:
    """The records of one exercise's firmware file; none when there is no file yet."""
    raw = _raw(path)
    try:
        return tuple(Record(**{**r, "environment": dict(r["environment"])}) for r in raw.get("records", ()))
    except (KeyError, TypeError) as exc:
        raise BaselineError(f"{path}: not a firmware baseline ({exc})") from None


def load_seeds(path: Path) -> Seeds | None:
    """The stored seeds' firmware of one exercise's firmware file; ``None`` when it holds none."""
    raw = _raw(path).get("seeds")
    if raw is None:
        return None
    try:
        results = {int(seed): r if isinstance(r, str) else _metrics(r) for seed, r in raw["results"].items()}
        environment = dict(raw["environment"])
        return Seeds(raw["precision"], raw["trainer"], raw["backend"], environment, results, raw["training"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BaselineError(f"{path}: its seeds are not a firmware baseline ({exc})") from None


def _metrics(result: Mapping[str, float]) -> dict[str, float]:
    """One seed's :data:`FIRMWARE_METRICS`, each a number (a KeyError or ValueError names what is missing)."""
    return {name: float(result[name]) for name in FIRMWARE_METRICS}


def write(path: Path, experiment: str, records: Sequence[Record], seeds: Seeds | None = None) -> None:
    """Write one exercise's firmware file; the stored seeds are kept unless ``seeds`` replaces them."""
    kept = _raw(path).get("seeds")
    doc: dict[str, object] = {"experiment": experiment, "records": [r.__dict__ for r in records]}
    if seeds is not None:
        kept = {**seeds.__dict__, "results": {str(k): v for k, v in sorted(seeds.results.items())}}
    if kept is not None:
        doc["seeds"] = kept
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(doc, indent=2) + "\n")


def keep_records(path: Path, records: Sequence[Record]) -> None:
    """Rewrite one firmware file with only ``records``, its experiment and stored seeds as they were."""
    write(path, str(_raw(path).get("experiment", path.stem)), records)


def per_test_alpha(n_exercises: int) -> float:
    """The level of each of an exercise's firmware rank tests (see the module docstring)."""
    return guard.exercise_alpha(n_exercises) / len(FIRMWARE_METRICS)


def statistical(
    stored: Seeds, fresh: Sequence[Mapping[str, float]], seeds: Sequence[int], alpha: float
) -> guard.StatisticalVerdict:
    """The fresh seeds' firmware metrics against the stored seeds', by the rule in the module docstring."""
    kept = stored.converted()
    tests = []
    for name in FIRMWARE_METRICS:
        f, s = [m[name] for m in fresh], [m[name] for m in kept]
        p = stats.rank_sum_pvalue(f, s)
        tests.append(guard.Comparison(name, len(f), len(s), p, alpha, guard.median_text(f), guard.median_text(s)))
    notes = []
    if min(len(fresh), len(kept)) and guard.smallest_pvalue(len(kept), len(fresh)) > alpha:
        notes.append(f"{len(fresh)} fresh and {len(kept)} stored seeds converted: too few for any test to reject")
    return guard.StatisticalVerdict(tuple(seeds), tuple(tests), (), tuple(notes))


def replaced(records: Sequence[Record], new: Record) -> tuple[Record, ...]:
    """``records`` with ``new`` in place of the one for the same float model and precision."""
    kept = [r for r in records if (r.run_digest, r.precision) != (new.run_digest, new.precision)]
    return (*kept, new)


def check(records: Sequence[Record], run_digest: str, result: FirmwareRun) -> tuple[bool, str, list[str]]:
    """``(applies, why, problems)``: whether a record of this float model holds, and what moved if it does."""
    same = [r for r in records if (r.run_digest, r.precision) == (run_digest, result.precision)]
    if not same:
        return False, f"no firmware record of this float model at {result.precision}", []
    stored = same[0]
    if stored.digest == result.digest:
        return True, "bit-identical to the firmware record", []
    accuracy = "" if stored.accuracy is None else f"accuracy {stored.accuracy:.4f} -> {result.accuracy:.4f}, "
    moved = [
        f"the firmware's outputs at {result.precision} moved (digest {stored.digest} -> {result.digest}): "
        f"{accuracy}agreement with float {stored.agreement:.4f} -> {result.agreement:.4f}"
    ]
    changes = differences(stored.environment, {k: str(v) for k, v in result.environment.items()})
    moved.append(f"in its environment: {'; '.join(changes)}" if changes else "its environment is the recorded one")
    return True, "the firmware record of this float model", moved


def differences(stored: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """Each setting that differs, ``name: recorded -> now``."""
    names = sorted(set(stored) | set(now))
    return [f"{n}: {stored.get(n, 'absent')} -> {now.get(n, 'absent')}" for n in names if stored.get(n) != now.get(n)]
