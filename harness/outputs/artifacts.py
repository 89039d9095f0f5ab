"""Where a session's files go: ``<artifacts-dir>/<dataset>-<profile>/<exercise>/`` and ``…/compare/``.

Each run gets the notebook's four plots and ``metrics.json``; the comparison plots that
answer the exercises' questions are planned from the exercise definitions themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from experiments import registry
from harness.core import device
from harness.core.environment import fingerprint
from harness.core.files import json_number, json_safe, write_text
from harness.experiment import Experiment, Settings
from harness.measure import timing
from harness.measure.metrics import LAYERS, compute
from harness.outputs import plots

if TYPE_CHECKING:
    from harness.train.record import TrainingRun

#: Beside ``metrics.json``: the regression guard's verdict on the run (tier, tests, p-values), as judged.
VERDICT = "verdict.json"
RUN_PLOTS = {
    "history.png": plots.history,
    "weights.png": plots.weights,
    "confusion.png": plots.confusion,
    "roc.png": plots.roc,
}


def run_dir(root: Path, settings: Settings, experiment: str) -> Path:
    return Path(root) / settings.label / experiment


def save_run(run: TrainingRun, root: Path, settings: Settings, with_plots: bool = True) -> Path:
    """Write ``metrics.json`` and (unless ``with_plots`` is false) the four plots of one run."""
    folder = run_dir(root, settings, run.experiment)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "experiment": run.experiment,
        "dataset": settings.dataset_name,
        "profile": settings.profile.name,
        "backend": settings.backend,
        "seed": run.seed,
        "diverged_epoch": run.diverged_epoch,
        "train_seconds": round(run.train_seconds, 3),
        "timing": run_timing(run),
        "metrics": {k: json_number(v) for k, v in compute(run).items()},
        "history": {k: [json_number(v) for v in vs] for k, vs in run.history.items()},
    }
    (folder / VERDICT).unlink(missing_ok=True)  # it judged a run that is gone
    write_text(folder / "metrics.json", json.dumps(record, indent=2) + "\n")
    if with_plots:
        for name, draw in RUN_PLOTS.items():
            draw(run, folder / name)
    return folder


def save_verdict(root: Path, settings: Settings, experiment: str, verdict: Mapping[str, object]) -> Path:
    """The guard's verdict as the test judged it, so the report shows that verdict and never re-judges."""
    path = run_dir(root, settings, experiment) / VERDICT
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(json_safe(verdict), indent=2, allow_nan=False) + "\n")
    return path


FIRMWARE = "firmware.json"


def firmware_folder(root: Path, settings: Settings, experiment: str, precision: str) -> Path:
    """Where the HLS project of ``experiment``'s firmware at ``precision`` is kept: beside its plots."""
    slug = precision.replace("ap_fixed<", "ap_fixed_").replace(",", "_").rstrip(">")
    return run_dir(root, settings, experiment) / "hls4ml" / slug


def save_firmware(root: Path, settings: Settings, experiment: str, results: Sequence[Mapping[str, object]]) -> Path:
    """Each precision point's firmware result of ``experiment``, for the report and ``bench runs``."""
    path = run_dir(root, settings, experiment) / FIRMWARE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(json_safe(list(results)), indent=2, allow_nan=False) + "\n")
    return path


def run_timing(run: TrainingRun) -> dict[str, float | int | None] | None:
    """First and steady epoch times and time to the exercise's ``target_accuracy`` (``experiments/``)."""

    exercise = registry().get(run.experiment)
    target = exercise.target_accuracy if exercise else None
    found = timing.timing(run.epoch_ends, run.history.get("val_accuracy", []), target)
    return found.as_dict() if found else None


def save_session(root: Path, settings: Settings, baselines_dir: Path | None = None) -> Path:
    """``session.json``: what the report says about the run (settings, device, versions, the baselines it
    was judged against, so that a redrawn report judges it the same way)."""

    path = Path(root) / settings.label / "session.json"
    profile = settings.profile
    record = {
        "label": settings.label,
        "dataset": settings.dataset_name,
        "profile": f"{profile.name} ({profile.n_jets or 'all'} jets, {profile.epochs} epochs)",
        "seed": settings.seed,
        "backend": settings.backend,
        "device": device.device_info()["device"],
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": fingerprint(),
        "baselines_dir": str(Path(baselines_dir).resolve()) if baselines_dir else None,
    }
    return write_text(path, json.dumps(record, indent=2) + "\n")


@dataclass(frozen=True)
class FigurePlan:
    """One comparison figure: which exercises, drawn how."""

    filename: str
    experiments: tuple[str, ...]
    layer: str | None = None  # set: overlay this layer's weights instead of loss curves
    heading: str | None = None  # a figure several exercises share: its name

    def title_for(self, ran: Sequence[str]) -> str:
        """The figure's title, naming only the exercises that were trained."""
        names = [n for n in self.experiments if n in ran]
        if self.layer:
            return f"{self.layer} weights: {' vs '.join(names)}"
        return f"{self.heading}: {', '.join(names)}" if self.heading else " vs ".join(names)


def plan_comparisons(experiments: Mapping[str, Experiment]) -> list[FigurePlan]:
    """Loss curves of each exercise (or ``figure`` group) with its references; weight overlays
    for each layer an exercise's expectations are about."""
    groups: dict[str | None, list[str]] = {}
    for exp in experiments.values():
        if exp.references:
            members = groups.setdefault(exp.figure or exp.name, [])
            members += [n for n in (*exp.references, exp.name) if n not in members]
    plans = []
    for key, names in groups.items():
        if key in experiments:  # an exercise against its references
            plans.append(FigurePlan(f"{'_vs_'.join(names)}.png", tuple(names)))
        else:  # a named figure shared by several exercises
            plans.append(FigurePlan(f"{key}.png", tuple(names), heading=key.replace("_", " ")))
    for exp in experiments.values():
        layers = {e.metric.split(".")[0] for e in exp.expect if e.reference and e.metric.split(".")[0] in LAYERS}
        for layer in sorted(layers):
            names = (*exp.references, exp.name)
            plans.append(FigurePlan(f"{'_vs_'.join(names)}_{layer}.png", names, layer))
    return plans


def save_comparisons(
    plans: Sequence[FigurePlan], runs: Mapping[str, TrainingRun], root: Path, settings: Settings
) -> list[Path]:
    """Draw each planned comparison of which at least two exercises ran; return the files written."""
    folder = Path(root) / settings.label / "compare"
    written = []
    for plan in plans:
        ran = [name for name in plan.experiments if name in runs]
        if len(ran) < 2:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / plan.filename
        if plan.layer:
            plots.weight_overlay({n: runs[n] for n in ran}, plan.layer, path)
        else:
            plots.comparison([runs[n] for n in ran], path, plan.title_for(ran))
        written.append(path)
    return written
