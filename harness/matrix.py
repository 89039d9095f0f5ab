"""Several runs, one table: the same exercises trained on other backends or machines, side by side.

Reads only what each run wrote — ``session.json``, every exercise's ``metrics.json`` and
``verdict.json``, through :func:`harness.report.collect` — so it trains nothing and never judges
a baseline again. ``python -m harness bench runs A B C`` prints it; README "Backends" is one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import HarnessError
from .experiment import registry
from .report import ExerciseReport, aligned, collect

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
        env = self.session.get("environment", {})
        backend = " ".join(str(p) for p in (self.session.get("backend", "tensorflow"), env.get("backend_version")) if p)
        device = self.session.get("device")
        return f"{backend}, {device}" if device else backend


def find(folder: Path) -> Path:
    """The folder holding ``session.json``: as given, or the one such folder inside (a run id, ``latest``)."""
    if (folder / SESSION).is_file():
        return folder
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
    try:
        session = json.loads((where / SESSION).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{where / SESSION}: unreadable ({exc})") from None
    baselines_dir = Path(session.get("baselines_dir", "baselines"))
    reports = collect(where, registry(), baselines_dir, str(session.get("label", where.name)))
    if not reports:
        raise HarnessError(f"{where}: no exercise's metrics.json in this run")
    return Run(where, session, {r.experiment.name: r for r in reports})


def _verdicts(report: ExerciseReport) -> str:
    accuracy = report.record.get("metrics", {}).get("accuracy")
    shown = f"{accuracy:.3f}" if isinstance(accuracy, float) and math.isfinite(accuracy) else str(accuracy)
    baseline = report.regression + (f" ({report.tier})" if report.tier else "")
    return f"{shown} · {report.behaviour} · {baseline}"


def _to_target(report: ExerciseReport) -> str:
    timing = report.record.get("timing") or {}
    seconds = timing.get("time_to_target_s")
    if seconds is None:
        return "never reached" if timing else "not timed"
    return f"{seconds:.1f} s ({timing.get('target_epoch')})"


def _epochs(report: ExerciseReport) -> str:
    timing = report.record.get("timing") or {}
    first, steady = timing.get("first_epoch_s"), timing.get("steady_epoch_s")
    if first is None:
        return "not timed"
    return f"{first:.2f} / {steady:.3f} s" if steady is not None else f"{first:.2f} s / none"


#: Table title -> what a cell shows for one run's exercise.
TABLES: dict[str, Callable[[ExerciseReport], str]] = {
    "test accuracy · behaviour · baseline verdict": _verdicts,
    "time to target validation accuracy (epoch reached)": _to_target,
    "first / steady epoch (wall)": _epochs,
}


def _target(runs: Sequence[Run], name: str) -> str:
    timings = [r.reports[name].record.get("timing") or {} for r in runs if name in r.reports]
    targets = {t["target_val_accuracy"] for t in timings if t.get("target_val_accuracy") is not None}
    return f"{name} ({', '.join(f'{t:g}' for t in sorted(targets))})" if targets else name


def render(runs: Sequence[Run], markdown: bool = False) -> str:
    """One table per :data:`TABLES` entry: a row per exercise, a column per run."""
    names = [n for n in registry() if any(n in r.reports for r in runs)]
    out = []
    for title, cell in TABLES.items():
        label = _target if title.startswith("time to target") else (lambda _, n: n)
        rows = [("exercise", *(r.title for r in runs))]
        rows += [(label(runs, n), *(cell(r.reports[n]) if n in r.reports else "not run" for r in runs)) for n in names]
        table = _markdown(rows) if markdown else aligned(rows)
        out += [f"### {title}" if markdown else f"== {title}", "", *table, ""]
    out.append("runs: " + ", ".join(str(r.folder) for r in runs))
    return "\n".join(out)


def _markdown(rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(rows[0]), line(["---"] * len(rows[0])), *(line(r) for r in rows[1:])]
