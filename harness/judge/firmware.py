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
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import BaselineError
from harness.core.files import read_json, write_text
from harness.firmware.convert import FirmwareRun

FOLDER = "firmware"
PROBE_FILE = "firmware-probe.json"


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


def load(path: Path) -> tuple[Record, ...]:
    """The records of one exercise's firmware file; none when there is no file yet."""
    if not path.exists():
        return ()
    raw = read_json(path, BaselineError, "firmware baseline")
    try:
        return tuple(Record(**{**r, "environment": dict(r["environment"])}) for r in raw["records"])
    except (KeyError, TypeError) as exc:
        raise BaselineError(f"{path}: not a firmware baseline ({exc})") from None


def write(path: Path, experiment: str, records: Sequence[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"experiment": experiment, "records": [r.__dict__ for r in records]}
    write_text(path, json.dumps(doc, indent=2) + "\n")


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
