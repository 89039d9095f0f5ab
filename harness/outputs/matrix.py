"""Several runs, one table: the same exercises trained on other backends or machines, side by side.

Reads only what each run wrote — ``session.json``, every exercise's ``metrics.json`` and
``verdict.json``, through :func:`harness.outputs.report.collect` — so it trains nothing and never judges
a baseline again. ``python -m harness bench runs A B C`` prints it; docs/backends.md quotes one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from experiments import registry
from harness.core.errors import HarnessError
from harness.core.files import read_json
from harness.core.tables import aligned, markdown_table
from harness.judge.baseline import DEFAULT_BASELINES
from harness.outputs.report import ExerciseReport, collect

SESSION = "session.json"


@dataclass(frozen=True)
class Run:
    """One run's folder, its session record and what each exercise's files say."""

    folder: Path
    session: Mapping
    reports: Mapping[str, ExerciseReport]

    @property
    def title(self) -> str:
        """``jax 0.10.2, Intel(R) Xeon(R) Processor (2 cores)``: what tells runs apart."""
        env = _mapping(self.session.get("environment"))
        backend = " ".join(str(p) for p in (self.session.get("backend", "tensorflow"), env.get("backend_version")) if p)
        device = self.session.get("device")
        return f"{backend}, {device}" if device else backend


def find(folder: Path) -> Path:
    """The folder holding ``session.json``: as given, or the one such folder inside (a run id, ``latest``)."""
    if (folder / SESSION).is_file():
        return folder
    if folder.exists() and not folder.is_dir():
        raise HarnessError(f"{folder}: not a folder (name a run's folder, e.g. artifacts/latest)")
    inside = sorted(p.parent for p in folder.glob(f"*/{SESSION}"))
    if len(inside) == 1:
        return inside[0]
    if not folder.is_dir():
        raise HarnessError(f"{folder}: no such folder")
    if not inside:
        raise HarnessError(f"{folder}: no run here (no {SESSION}, nor one folder below holding it)")
    names = ", ".join(p.name for p in inside)
    raise HarnessError(f"{folder} holds several runs ({names}): name one, e.g. {inside[0]}")


def load(folder: Path) -> Run:
    """A run's files, judged against the baselines its session recorded (the verdicts are its own)."""

    where = find(Path(folder))
    session = read_json(where / SESSION, HarnessError, "session record")
    if not isinstance(session, dict):
        raise HarnessError(f"{where / SESSION}: not a session record (a JSON object)")
    baselines_dir = Path(str(session.get("baselines_dir") or DEFAULT_BASELINES))
    reports = collect(where, registry(), baselines_dir, str(session.get("label", where.name)))
    if not reports:
        raise HarnessError(f"{where}: no exercise's metrics.json in this run")
    return Run(where, session, {r.experiment.name: r for r in reports})


def _mapping(value: object) -> Mapping:
    """``value`` where it is a JSON object, else empty: a damaged field shows as missing, not as a traceback."""
    return value if isinstance(value, Mapping) else {}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _verdicts(report: ExerciseReport) -> str:
    accuracy = _number(_mapping(report.record.get("metrics")).get("accuracy"))
    shown = f"{accuracy:.3f}" if accuracy is not None and math.isfinite(accuracy) else "no number"
    baseline = report.regression + (f" ({report.tier})" if report.tier else "")
    return f"{shown} · {report.behaviour} · {baseline}"


def _to_target(report: ExerciseReport) -> str:
    timing = _mapping(report.record.get("timing"))
    seconds = _number(timing.get("time_to_target_s"))
    if seconds is None:
        return "never reached" if _number(timing.get("first_epoch_s")) is not None else "not timed"
    return f"{seconds:.1f} s ({timing.get('target_epoch')})"


def _epochs(report: ExerciseReport) -> str:
    timing = _mapping(report.record.get("timing"))
    first, steady = _number(timing.get("first_epoch_s")), _number(timing.get("steady_epoch_s"))
    if first is None:
        return "not timed"
    return f"{first:.2f} / {steady:.3f} s" if steady is not None else f"{first:.2f} s / none"


def _name(runs: Sequence[Run], name: str) -> str:
    return name


def _target(runs: Sequence[Run], name: str) -> str:
    timings = [_mapping(r.reports[name].record.get("timing")) for r in runs if name in r.reports]
    targets = {t for t in (_number(t.get("target_val_accuracy")) for t in timings) if t is not None}
    return f"{name} ({', '.join(f'{t:g}' for t in sorted(targets))})" if targets else name


#: Each table: its title, what a cell shows for one run's exercise, and how a row names its exercise.
TABLES: tuple[tuple[str, Callable[[ExerciseReport], str], Callable[[Sequence[Run], str], str]], ...] = (
    ("test accuracy · behaviour · baseline verdict", _verdicts, _name),
    ("time to target validation accuracy (epoch reached)", _to_target, _target),
    ("first / steady epoch (wall)", _epochs, _name),
)


def render(runs: Sequence[Run], markdown: bool = False) -> str:
    """One table per :data:`TABLES` entry: a row per exercise, a column per run."""
    names = [n for n in registry() if any(n in r.reports for r in runs)]
    out = []
    for title, cell, label in TABLES:
        rows = [("exercise", *_titles(runs))]
        rows += [(label(runs, n), *(cell(r.reports[n]) if n in r.reports else "not run" for r in runs)) for n in names]
        table = markdown_table(rows) if markdown else aligned(rows)
        out += [f"### {title}" if markdown else f"== {title}", "", *table, ""]
    out.append("runs: " + ", ".join(str(r.folder) for r in runs))
    return "\n".join(out)


def _titles(runs: Sequence[Run]) -> list[str]:
    """Each run's title; where two runs share one (same backend and device), with its run id."""
    titles = [r.title for r in runs]
    return [f"{t} ({r.folder.parent.name})" if titles.count(t) > 1 else t for t, r in zip(titles, runs, strict=True)]
