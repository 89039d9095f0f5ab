"""One session of the harness, shared by ``pytest`` and ``python -m harness run``.

It wires the stages together in their one direction — dataset → split → experiment →
training run (cached) → metrics → checks, baselines, artifacts — so that neither the
CLI nor the pytest plugin repeats the plumbing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import artifacts, baseline, environment, exact, guard, initial, report
from .backend import DEFAULT as DEFAULT_BACKEND
from .checks import Outcome, check_behaviour
from .errors import BaselineError, ConfigError
from .experiment import Experiment, Settings, registry
from .metrics import compute
from .prepare import moments
from .training import EpochCallback, Runs, TrainingRun

DEFAULT_BASELINES = Path(__file__).resolve().parent.parent / "baselines"


#: ``--tier``: ``auto`` lets the exact tier decide where it applies; ``statistical`` skips it.
TIERS: tuple[str, ...] = ("auto", "statistical")


@dataclass(frozen=True)
class BaselineResult:
    """``problems``: the regression, one line each; ``tier``: which tier decided (``exact``,
    ``statistical``, or ``None`` for the data baseline); ``notes``: what the reader should know
    (why the exact tier did not apply, a weak baseline, a fresh sample that learned little)."""

    path: Path
    problems: list[str]
    tier: str | None = None
    notes: list[str] = field(default_factory=list)
    verdict: dict[str, object] = field(default_factory=dict)


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
        tier: str = "auto",
        fresh_seeds: int = guard.FRESH_SEEDS,
    ) -> None:
        if tier not in TIERS:
            raise ConfigError(f"--tier must be one of {', '.join(TIERS)}, got {tier!r}")
        if fresh_seeds < 1:
            raise ConfigError(f"--fresh-seeds must be at least 1, got {fresh_seeds}")
        self.tier, self.fresh_seeds = tier, fresh_seeds
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
        """Judge ``name``'s training against its stored baseline (missing → BaselineError).

        The exact tier decides where this environment has a record of the session seed;
        elsewhere (or with ``tier="statistical"``) fresh seeds decide, by exact rank tests.
        """
        path = self.baseline_path(name)
        stored = self.stored_baseline(name)
        notes: list[str] = []
        if self.tier == "auto":
            verdict = exact.check(
                stored.exact,
                environment.fingerprint(),
                self.settings.seed,
                self.run(name),
                self.metrics(name),
                pinned=tuple(stored.metrics),
            )
            if verdict.applies:
                said = [verdict.why] if verdict.problems else []  # a pass needs no note: "(exact)" says it
                return self._judged(
                    name, BaselineResult(path, list(verdict.problems), "exact", said, verdict.to_json())
                )
            notes.append(f"exact tier did not apply: {verdict.why}")
        else:
            notes.append("exact tier skipped (--tier statistical)")
        judged = self._statistical(name, stored)
        notes += list(judged.notes)
        return self._judged(name, BaselineResult(path, judged.problems, "statistical", notes, judged.to_json()))

    def _judged(self, name: str, result: BaselineResult) -> BaselineResult:
        if self.run_root:
            record = {**result.verdict, "notes": result.notes, "baseline": str(result.path)}
            artifacts.save_verdict(self.run_root, self.settings, name, record)
        return result

    def _statistical(self, name: str, stored: baseline.Baseline) -> guard.Verdict:
        """Train fresh seeds (never baseline seeds) the way the baseline's were, and compare them."""
        stored_seeds = stored.per_seed()
        count = guard.fresh_count(stored_seeds, self.fresh_seeds)
        seeds = guard.fresh_seeds(stored.seeds, self.settings.seed, count)
        fresh = [compute(run) for run in self._train_like(name, stored, seeds)]
        verdict = guard.judge(stored_seeds, fresh, seeds, guard.per_test_alpha(len(self.experiments)))
        weak = guard.weakness(stored_seeds, self.fresh_seeds, len(self.experiments))
        return guard.Verdict(verdict.seeds, verdict.tests, verdict.moved, (*verdict.notes, *([weak] if weak else [])))

    def _train_like(self, name: str, stored: baseline.Baseline, seeds: Sequence[int]) -> list[TrainingRun]:
        """``seeds`` trained by the baseline's trainer: side by side, or one ``model.fit`` each."""
        if stored.trainer == baseline.SIDE_BY_SIDE:
            return self.runs.many(name, seeds)
        return [self.run(name, seed) for seed in seeds]

    def stored_baseline(self, name: str) -> baseline.Baseline:
        path = self.baseline_path(name)
        stored = baseline.load(path)
        if stored.experiment != name:
            raise BaselineError(f"{path}: baseline is for exercise {stored.experiment!r}, not {name!r}")
        return stored

    def check_init(self, name: str) -> initial.InitVerdict:
        """The session run's initial kernels against Glorot-uniform's guarantees (no baseline needed)."""
        return initial.check(self.run(name).initial_kernels, guard.init_alpha(len(self.experiments)))

    def record_exact(self, name: str) -> BaselineResult:
        """Add this environment's exact record of the session seed to ``name``'s baseline, seeds untouched."""
        path = self.baseline_path(name)
        stored = self.stored_baseline(name)
        records = exact.replace(stored.exact, self._exact_record(name))
        baseline.write(path, dataclasses.replace(stored, exact=records))
        return BaselineResult(path, [], "exact", [f"{len(records)} environment(s) recorded"])

    def _exact_record(self, name: str) -> exact.Record:
        seed = self.settings.seed
        runs = {seed: (self.run(name), self.metrics(name))}
        return exact.record(environment.fingerprint(), runs, environment.commit())

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

    def update_baseline(self, name: str, n_seeds: int, strong: bool = True) -> BaselineResult:
        """Train ``name`` with ``n_seeds`` seeds from the session seed on, side by side, and store them with
        this environment's exact record of the session seed.

        ``strong``: where too few of them train (learn or saturate) for the guard's power target (lr = 0.1's seeds often
        diverge or die), train more until enough do. Other environments' exact records are dropped:
        they recorded the training this update replaces (re-record there with ``pytest --record-exact``).
        """
        path = self.own_baseline_path(name)
        key = exact.environment_key(environment.fingerprint())
        try:
            old = baseline.load(path).exact if path.exists() else ()
        except BaselineError:
            old = ()
        dropped = sum(1 for r in old if exact.environment_key(r.environment) != key)
        seeds = range(self.settings.seed, self.settings.seed + n_seeds)
        stored = self.train_baseline(name, seeds)
        if strong:
            stored = self.grown(name, stored, cap=4 * n_seeds)
        baseline.write(path, dataclasses.replace(stored, exact=(self._exact_record(name),)))
        notes = [f"{len(stored.seeds)} seeds"]
        notes += [f"dropped the exact records of {dropped} other environment(s)"] if dropped else []
        if weak := guard.weakness(stored.per_seed(), self.fresh_seeds, len(self.experiments)):
            notes.append(weak)
        return BaselineResult(path, [], None, notes)

    def grown(self, name: str, stored: baseline.Baseline, cap: int) -> baseline.Baseline:
        """``stored`` with more seeds (the next ones after its last) until enough train, or ``cap`` seeds."""
        needed = guard.required_seeds(self.fresh_seeds, len(self.experiments))
        while (n := guard.trained(stored.per_seed())) < needed and len(stored.seeds) < cap:
            more = math.ceil((needed - n) * len(stored.seeds) / max(n, 1))
            extra = guard.fresh_seeds(stored.seeds, max(stored.seeds) + 1, min(more, cap - len(stored.seeds)))
            path = self.baseline_path(name)
            stored = baseline.merge([(path, stored), (path, self.train_baseline(name, extra))])
        return stored

    def train_baseline(self, name: str, seeds: Sequence[int]) -> baseline.Baseline:
        """A baseline of ``name`` from ``seeds`` trained side by side: a whole baseline, or one shard of it."""
        from .side_by_side import trainer

        runs = self.runs.many(name, seeds)
        per_seed = {run.seed: compute(run) for run in runs}
        histories = {run.seed: run.history for run in runs}
        used = trainer(self.experiments[name].variant)
        return baseline.from_runs(name, self.settings.label, per_seed, histories, trainer=used)

    def update_command(self, name: str, exact_only: bool = False) -> str:
        """The command that (re)creates ``name``'s baseline for this session's options, ready to paste.

        Values are joined with ``=``: pytest takes a bare path argument outside the repository
        for its root folder and would never load this project's options.
        """
        words = ["pytest", "--record-exact" if exact_only else "--update-baselines", "-k", name]
        if exact_only and self.settings.seed != 0:
            words.append(f"--seed={self.settings.seed}")
        if self.settings.profile.name != "quick":
            words.append(f"--profile={self.settings.profile.name}")
        if self.settings.dataset != "surrogate":
            words.append(f"--dataset={self.settings.dataset}")
        if self.settings.backend != DEFAULT_BACKEND:  # pasted elsewhere, it must train where this run trained
            words.append(f"--backend={self.settings.backend}")
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

    def guard_notes(self) -> list[str]:
        """Distinct notes of this run's verdicts, once each: why the exact tier did not apply, weak baselines."""
        if not self.output_dir or not self.output_dir.is_dir():
            return []
        notes: dict[str, None] = {}
        for path in sorted(self.output_dir.glob(f"*/{artifacts.VERDICT}")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if record.get("tier") == "statistical":  # an exact verdict says all it has to say in its test
                notes.update(dict.fromkeys(str(n) for n in record.get("notes", [])))
        return list(notes)

    @property
    def output_dir(self) -> Path | None:
        """This run's files: ``<artifacts>/runs/<run id>/<dataset>-<profile>/``."""
        return self.run_root / self.settings.label if self.run_root else None
