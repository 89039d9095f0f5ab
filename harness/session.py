"""One session of the harness, shared by ``pytest`` and ``python -m harness run``.

It wires the stages together in their one direction — dataset → split → experiment →
training run (cached) → metrics → checks, baselines, artifacts — so that neither the
CLI nor the pytest plugin repeats the plumbing.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import artifacts, baseline, environment, report
from .checks import Outcome, check_behaviour
from .errors import BaselineError
from .experiment import Experiment, Settings, registry
from .metrics import compute
from .prepare import moments
from .training import EpochCallback, Runs, TrainingRun

DEFAULT_BASELINES = Path(__file__).resolve().parent.parent / "baselines"


@dataclass(frozen=True)
class BaselineResult:
    """``problems``: the regression (deviations a second seed repeated, or of a metric no seed moves);
    ``noise``: the session seed's other deviations."""

    path: Path
    problems: list[str]
    noise: list[str] = field(default_factory=list)
    confirmation_seed: int | None = None


class Session:
    """The settings, the exercises and their cached runs; artifacts written as runs finish."""

    def __init__(
        self,
        settings: Settings,
        artifacts_dir: Path | None = Path("artifacts"),
        baselines_dir: Path = DEFAULT_BASELINES,
        experiments: Mapping[str, Experiment] | None = None,
        plots: bool = True,
        on_epoch: EpochCallback | None = None,
        store: Path | None = None,
        run_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.experiments = dict(experiments) if experiments is not None else registry()
        environment.commit()  # the code this session starts with is what its files record
        #: This run's own folder, ``<artifacts>/runs/<run id>``: no other run's files are ever in it.
        self.run_root = None
        if artifacts_dir:  # checked now; the run's own folder is created when its first file is written
            artifacts.ensure_writable(artifacts_dir)
            self.run_root = (
                Path(artifacts_dir) / artifacts.RUNS / (run_id or artifacts.new_run_id(artifacts_dir, settings))
            )
        self.artifacts_dir = Path(artifacts_dir) if artifacts_dir else None
        self.baselines_dir = Path(baselines_dir)
        self.plots = plots
        self.runs = Runs(settings, self.experiments, on_run=self._saved, on_epoch=on_epoch, store=store)
        self._metrics: dict[tuple[str, int], dict[str, float]] = {}

    def _saved(self, run: TrainingRun) -> None:
        if self.run_root and run.seed == self.settings.seed:
            artifacts.save_run(run, self.run_root, self.settings, with_plots=self.plots)

    def run(self, name: str, seed: int | None = None) -> TrainingRun:
        return self.runs.get(name, seed)

    def metrics(self, name: str, seed: int | None = None) -> dict[str, float]:
        seed = self.settings.seed if seed is None else seed
        key = (name, seed)
        if key not in self._metrics:
            self._metrics[key] = compute(self.run(name, seed))
        return self._metrics[key]

    def behaviour(self, name: str) -> list[Outcome]:
        """Train ``name`` and its references with the session seed and evaluate its expectations."""
        experiment = self.experiments[name]
        references = {ref: self.metrics(ref) for ref in experiment.references}
        return check_behaviour(experiment, self.metrics(name), references, self.settings.backend)

    def baseline_path(self, name: str) -> Path:
        """The file ``name`` is judged against (:func:`harness.baseline.resolve`)."""
        return baseline.resolve(self.baselines_dir, self.settings.label, name, self.settings.backend)

    def own_baseline_path(self, name: str) -> Path:
        """Where an update on this session's backend writes ``name``'s baseline: never over another backend's."""
        label = baseline.own_label(self.settings.label, self.settings.backend)
        return baseline.path_for(self.baselines_dir, label, name)

    def shared_baselines_note(self, names: Sequence[str]) -> str | None:
        """One line when some of ``names`` are judged against TensorFlow's baselines from another backend."""
        shared = [n for n in names if not self.own_baseline_path(n).exists()]
        if self.settings.backend == "tensorflow" or not shared:
            return None
        own = self.own_baseline_path("x").parent
        return (
            f"{self.settings.backend}: {', '.join(shared)} judged against the TensorFlow baselines in "
            f"{own.parent / self.settings.label}/ (no {own}/ file of their own)"
        )

    def check_baseline(self, name: str) -> BaselineResult:
        """Compare this session's run of ``name`` to its stored baseline (missing → BaselineError).

        A deviation trains one more, independent seed; only what it repeats is a regression.
        A seed-invariant metric that moved is one without that run.
        """
        path = self.baseline_path(name)
        stored = baseline.load(path)
        if stored.experiment != name:
            raise BaselineError(f"{path}: baseline is for exercise {stored.experiment!r}, not {name!r}")
        judgement = stored.judge(self.metrics(name))
        if not judgement.needs_second_seed:
            return BaselineResult(path, judgement.regression, judgement.unconfirmed)
        seed = stored.confirmation_seed(self.settings.seed)
        confirmation = self.metrics(name, seed)
        if self.run_root:
            artifacts.save_confirmation(self.run_root, self.settings, name, seed, confirmation)
        judgement = stored.judge(self.metrics(name), confirmation)
        return BaselineResult(path, judgement.regression, judgement.unconfirmed, seed)

    def data_moments(self) -> dict[str, float]:
        """The unscaled training split's moments (:func:`~harness.prepare.moments`): no training needed."""
        return moments(self.runs.split(scaled=False))

    def check_data(self) -> BaselineResult:
        """Compare the training data with ``_data.json``: no seed moves it, so any deviation is a change."""
        path = self.baseline_path(baseline.DATA)
        return BaselineResult(path, baseline.load(path).compare(self.data_moments()))

    def update_data(self) -> BaselineResult:
        """Store the training data's moments; one value each, as no seed changes the data."""
        values = self.data_moments()
        stored = baseline.from_runs(baseline.DATA, self.settings.label, {0: values}, names=tuple(values), trainer=None)
        path = self.baseline_path(baseline.DATA)
        baseline.write(path, stored)
        return BaselineResult(path, [])

    def update_baseline(self, name: str, n_seeds: int) -> BaselineResult:
        """Train ``name`` with ``n_seeds`` seeds from the session seed on, side by side, and store their spread."""
        path = self.own_baseline_path(name)
        baseline.write(path, self.train_baseline(name, range(self.settings.seed, self.settings.seed + n_seeds)))
        return BaselineResult(path, [])

    def train_baseline(self, name: str, seeds: Sequence[int]) -> baseline.Baseline:
        """A baseline of ``name`` from ``seeds`` trained side by side: a whole baseline, or one shard of it."""
        from .side_by_side import trainer

        runs = self.runs.many(name, seeds)
        per_seed = {run.seed: compute(run) for run in runs}
        histories = {run.seed: run.history for run in runs}
        used = trainer(self.experiments[name].variant)
        return baseline.from_runs(name, self.settings.label, per_seed, histories, trainer=used)

    def update_command(self, name: str) -> str:
        """The command that (re)creates ``name``'s baseline for this session's options, ready to paste.

        Values are joined with ``=``: pytest takes a bare path argument outside the repository
        for its root folder and would never load this project's options.
        """
        words = ["pytest", "--update-baselines", "-k", name]
        if self.settings.profile.name != "quick":
            words.append(f"--profile={self.settings.profile.name}")
        if self.settings.dataset != "surrogate":
            words.append(f"--dataset={self.settings.dataset}")
        if self.baselines_dir.resolve() != DEFAULT_BASELINES:
            words.append(f"--baselines-dir={self.baselines_dir}")
        return shlex.join(words)

    def finish(self) -> list[Path]:
        """Draw the comparison plots, write the report, point ``<artifacts>/latest`` here; return the files written."""
        if not self.run_root:
            return []
        done = {run.experiment: run for run in self.runs.completed()}
        if not done:
            return []
        artifacts.save_session(self.run_root, self.settings, self.baselines_dir)
        written = []
        if self.plots:
            plans = artifacts.plan_comparisons(self.experiments)
            written = artifacts.save_comparisons(plans, done, self.run_root, self.settings)
            written += report.write(self.output_dir, self.experiments, self.baselines_dir, self.settings.label)
        artifacts.mark_latest(self.artifacts_dir, self.output_dir)
        return written

    def verdicts(self) -> list[str]:
        """A short table of the exercises this session trained (accuracy, behaviour, baseline).

        The run owns its folder, so every ``metrics.json`` in it is this session's: no need to reload the runs.
        """
        if not self.output_dir or not self.output_dir.is_dir():
            return []
        reports = report.collect(self.output_dir, self.experiments, self.baselines_dir, self.settings.label)
        return report.terminal_table(reports) if reports else []

    @property
    def output_dir(self) -> Path | None:
        """This run's files: ``<artifacts>/runs/<run id>/<dataset>-<profile>/``."""
        return self.run_root / self.settings.label if self.run_root else None
