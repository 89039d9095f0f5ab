"""The exact tier of the regression guard: same environment, same seed, same bits.

Training on a CPU is deterministic: where nothing that decides the bits changed (the
environment's :func:`~harness.core.environment.exact_keys`) and the machine computes the same bits
(the :mod:`~harness.train.numerics` probe), a seed's ``model.fit`` run reproduces its final weights,
predictions and history bit for bit. A baseline keeps one :class:`Record` per environment and
probe it was recorded with, side by side: per seed, a digest of that run and its metrics, so a
difference says what moved. Any difference at all is a change of training: no seed noise, no
false alarm, no statistics.

Where no record matches the environment (another TensorFlow, another processor, another
backend, a seed never recorded), or a record's key matches but its probe does not (a machine the
fingerprint cannot tell apart, computing other bits), this tier does not apply and says why;
the statistical tier (:mod:`harness.judge.guard`) decides.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.core.environment import differences, exact_keys
from harness.core.files import json_number
from harness.measure.metrics import RunLike


def digest(run: RunLike) -> str:
    """SHA-256 of a run's final kernels, predictions, history and steps per epoch."""
    h = hashlib.sha256()
    for name in sorted(run.kernels):
        _add_array(h, name, run.kernels[name])
    _add_array(h, "y_pred", run.y_pred)
    for name in sorted(run.history):
        _add_array(h, f"history.{name}", np.asarray(run.history[name], dtype=np.float64))
    h.update(f"steps_per_epoch={run.steps_per_epoch}".encode())
    return h.hexdigest()


def _add_array(h, name: str, array: np.ndarray) -> None:
    a = np.ascontiguousarray(array)
    h.update(f"{name}:{a.dtype.str}:{a.shape}:".encode())
    h.update(a.tobytes())


def environment_key(environment: Mapping[str, str]) -> dict[str, str]:
    """The entries of a fingerprint that decide the bits."""
    return {key: str(environment.get(key, "?")) for key in exact_keys(str(environment.get("backend", "?")))}


@dataclass(frozen=True)
class Record:
    """One environment's exact record: per seed, the run's digest and its metrics.

    ``probe``: the numerics probe of the machine it was recorded on (``None`` in records made
    before the probe existed; those never apply, and say how to re-record).
    """

    environment: dict[str, str]
    seeds: dict[int, tuple[str, dict[str, float]]]
    commit: str = "unknown"
    probe: str | None = None

    @property
    def id(self) -> str:
        """Eight hex digits naming this record's environment and probe: what ``baselines prune`` takes."""
        key = environment_key(self.environment)
        text = "\n".join(f"{k}={key[k]}" for k in sorted(key)) + f"\nprobe={self.probe}"
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    def same_machine(self, other: Record) -> bool:
        """Recorded where the bits are the same: one environment key and one probe."""
        return environment_key(self.environment) == environment_key(other.environment) and self.probe == other.probe

    def to_json(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "probe": self.probe,
            "commit": self.commit,
            "seeds": {
                str(seed): {"digest": d, "metrics": {k: json_number(v) for k, v in m.items()}}
                for seed, (d, m) in sorted(self.seeds.items())
            },
        }

    @classmethod
    def from_json(cls, raw: Mapping) -> Record:
        seeds = {}
        for seed, entry in dict(raw["seeds"]).items():
            metrics = {str(k): float(v) for k, v in dict(entry["metrics"]).items()}
            seeds[int(seed)] = (str(entry["digest"]), metrics)
        environment = {str(k): str(v) for k, v in dict(raw["environment"]).items()}
        probe = raw.get("probe")
        return cls(environment, seeds, str(raw.get("commit", "unknown")), None if probe is None else str(probe))


@dataclass(frozen=True)
class ExactVerdict:
    """``applies``: a record of this environment holds this seed; then ``problems`` decides."""

    applies: bool
    why: str
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.applies and not self.problems

    def to_json(self) -> dict[str, object]:
        return {"tier": "exact", "applies": self.applies, "why": self.why, "problems": list(self.problems)}


def find(records: Sequence[Record], environment: Mapping[str, str], probe: str, seed: int) -> tuple[Record | None, str]:
    """The record for this environment, machine (``probe``) and seed, or ``None`` and why there is none."""
    key = environment_key(environment)
    matching = [r for r in records if environment_key(r.environment) == key]
    if not records:
        return None, "the baseline holds no exact record (record one with pytest --record-exact)"
    if not matching:
        nearest = min(records, key=lambda r: len(differences(r.environment, key)))
        moved = "; ".join(differences(nearest.environment, key))
        return None, f"no exact record for this environment (nearest record differs in {moved})"
    same = [r for r in matching if r.probe == probe]
    if not same:
        if all(r.probe is None for r in matching):
            return (
                None,
                "this environment's exact record predates the numerics probe (re-record it with --record-exact)",
            )
        held = ", ".join(sorted(str(r.probe)[:12] for r in matching))
        return None, (
            f"this machine matches the fingerprint of {len(matching)} exact record(s) but computes other bits "
            f"(numerics probe {probe[:12]}, recorded {held})"
        )
    record = same[0]
    if seed not in record.seeds:
        held = ", ".join(map(str, sorted(record.seeds)))
        return None, f"this environment's exact record holds seed {held}, not {seed}"
    return record, "bit-identical to the record of this environment"


def check(
    records: Sequence[Record],
    environment: Mapping[str, str],
    probe: str,
    seed: int,
    run: RunLike,
    metrics: Mapping[str, float],
    pinned: Sequence[str] = (),
) -> ExactVerdict:
    """Compare one run with the exact record of its environment and seed; a difference lists the
    ``pinned`` metrics that moved first, then the others, :data:`SHOWN` lines at most."""
    record, why = find(records, environment, probe, seed)
    if record is None:
        return ExactVerdict(False, why)
    recorded_digest, recorded = record.seeds[seed]
    if digest(run) == recorded_digest:
        return ExactVerdict(True, why)
    changed = [name for name in recorded if not _same(recorded[name], metrics.get(name, math.nan))]
    first = sorted(changed, key=lambda name: (name not in pinned, name))
    moved = [
        f"{name}: recorded {recorded[name]:.17g}, now {metrics.get(name, math.nan):.17g}" for name in first[:SHOWN]
    ]
    if len(changed) > SHOWN:
        moved.append(f"… and {len(changed) - SHOWN} more of the {len(recorded)} recorded metrics")
    if not moved:
        moved = ["every recorded metric is unchanged, but the weights, predictions or history differ in their bits"]
    why = f"seed {seed} no longer reproduces its exact record (commit {record.commit})"
    return ExactVerdict(True, why, tuple(moved))


#: Lines a failed exact check shows: enough to see what moved, short enough to read.
SHOWN = 8


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def record(
    environment: Mapping[str, str],
    probe: str,
    runs: Mapping[int, tuple[RunLike, Mapping[str, float]]],
    commit: str,
) -> Record:
    """This machine's record of the given seeds' runs (seed → run and its metrics)."""
    seeds = {seed: (digest(run), dict(metrics)) for seed, (run, metrics) in runs.items()}
    return Record(environment_key(environment), seeds, commit, probe)


def replace(records: Sequence[Record], new: Record) -> tuple[Record, ...]:
    """``records`` with ``new``'s seeds merged into the record of the same environment and probe, or
    ``new`` added beside the others: two machines' records never overwrite each other."""
    kept, merged = [], dict(new.seeds)
    for r in records:
        if r.same_machine(new):
            merged = {**r.seeds, **new.seeds}
        else:
            kept.append(r)
    return (*kept, Record(new.environment, merged, new.commit, new.probe))


def twin(records: Sequence[Record], new: Record) -> Record | None:
    """A record of another machine (or of this one before the probe) holding every seed of ``new`` with
    the same digest: then ``new`` trains bit for bit what was already accepted."""
    for r in records:
        if not r.same_machine(new) and all(r.seeds.get(s, ("",))[0] == d for s, (d, _) in new.seeds.items()):
            return r
    return None


def changes(records: Sequence[Record], new: Record) -> list[str]:
    """What writing ``new`` with :func:`replace` changes, one line each (nothing: an empty list)."""
    old = next((r for r in records if r.same_machine(new)), None)
    if old is None:
        return [f"new exact record {new.id} (seeds {', '.join(map(str, sorted(new.seeds)))})"]
    lines = []
    for seed, (now, _) in sorted(new.seeds.items()):
        if seed not in old.seeds:
            lines.append(f"record {new.id}: seed {seed} added")
        elif old.seeds[seed][0] != now:
            lines.append(f"record {new.id}: seed {seed} digest {old.seeds[seed][0][:12]} -> {now[:12]}")
    return lines
