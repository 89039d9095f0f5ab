"""The float model's session: its runs, metrics, checks, baselines and artifacts.

It wires the stages together in their one direction — dataset → split → experiment →
training run (cached) → metrics → checks, baselines, artifacts — so that neither the
CLI nor the pytest plugin repeats the plumbing. The firmware's part of a session lives apart, in
:mod:`harness.session.firmware`, which extends this one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from experiments import registry
from harness.core import environment
from harness.core.backend import DEFAULT as DEFAULT_BACKEND
from harness.core.errors import BaselineError, ConfigError
from harness.core.quiet import tensorflow_noise_filtered
from harness.data.prepare import moments
from harness.experiment import Experiment, Settings
from harness.judge import baseline, exact, guard, initial
from harness.judge import verdict as verdicts
from harness.judge.checks import Outcome, check_behaviour
from harness.judge.verdict import BaselineResult
from harness.measure.metrics import compute
from harness.outputs import artifacts, folders, report
from harness.train import numerics, shuffling
from harness.train.record import EpochCallback, TrainingRun
from harness.train.run_cache import Runs
from harness.train.side_by_side import TRAINER, twin_differences

DEFAULT_BASELINES = baseline.DEFAULT_BASELINES


#: The run's log of baseline writes, read by the terminal summary.
WRITES = "writes.jsonl"

#: ``--tier``: ``auto`` lets the exact tier decide where it applies; ``statistical`` skips it.
TIERS: tuple[str, ...] = ("auto", "statistical")


class TrainingSession:
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
            folders.ensure_writable(artifacts_dir)
            self.run_root = Path(artifacts_dir) / folders.RUNS / (run_id or folders.new_run_id(artifacts_dir, settings))
        self.artifacts_dir = Path(artifacts_dir) if artifacts_dir else None
        self.baselines_dir = Path(baselines_dir)
        self.plots = plots
        self.runs = Runs(settings, self.experiments, on_run=self._saved, on_epoch=on_epoch, store=store)
        self._metrics: dict[tuple[str, int], dict[str, float]] = {}
        #: The statistical tier's fresh draws per exercise, ``(member seeds, twin, member runs)``: trained once,
        #: judged by the training guard and, through hls4ml, by the firmware's.
        self._fresh: dict[str, tuple[list[int], TrainingRun, list[TrainingRun]]] = {}
        self._shuffling: tuple[list[str], list[str]] | None = None
        #: Baseline seeds trained side by side this session, kept for their firmware.
        self._seed_runs: dict[tuple[str, int], TrainingRun] = {}
        self._writes: list[dict[str, object]] = []

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
        """The file ``name`` is judged against (:func:`harness.judge.baseline.resolve`)."""
        return baseline.resolve(self.baselines_dir, self.settings.label, name, self.settings.backend)

    def own_baseline_path(self, name: str) -> Path:
        """Where an update on this session's backend writes ``name``'s baseline: never over another backend's."""
        label = baseline.own_label(self.settings.label, self.settings.backend)
        return baseline.path_for(self.baselines_dir, label, name)

    def shared_baselines_note(self, names: Sequence[str]) -> str | None:
        """One line when some of ``names`` have no baseline of this backend's own: only the TensorFlow file's
        exact records can judge them here, as the statistical tier refuses another backend's seeds."""
        shared = [n for n in names if not self.own_baseline_path(n).exists()]
        if self.settings.backend == "tensorflow" or not shared:
            return None
        own = self.own_baseline_path("x").parent
        return (
            f"{self.settings.backend}: {', '.join(shared)} read exact records from the TensorFlow baselines in "
            f"{own.parent / self.settings.label}/, and have no {own}/ seeds for the statistical tier"
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
                numerics.probe(),
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

    def _statistical(self, name: str, stored: baseline.Baseline) -> guard.StatisticalVerdict:
        """Fresh draws (never a stored one) trained as the baseline's were, compared with the stored seeds.

        The first draw is the session seed's own ``model.fit`` run: the user's path, judged as one of the
        tier's draws. The rest are members of :mod:`harness.train.side_by_side`, the seeds after it that the
        baseline does not hold; the same ``--seed`` draws the same seeds, so a rerun repeats the verdict.
        """
        self._exchangeable(name, stored)
        stored_seeds = stored.per_seed()
        if problem := guard.fresh_problem(self.fresh_seeds, guard.trained(stored_seeds), len(self.experiments)):
            raise ConfigError(problem)  # before the fresh seeds train: they could not change the verdict
        members, twin, runs = self.fresh_draws(name, stored)
        fresh = [self.metrics(name)] + [compute(run) for run in runs]
        seeds = [self.settings.seed, *members]
        verdict = guard.judge(stored_seeds, fresh, seeds, guard.per_test_alpha(len(self.experiments)))
        regularized = bool(self.experiments[name].variant.l1)
        parted = [
            f"seed {self.settings.seed} side by side no longer trains as its own model.fit, from the same draws: {what}"
            for what in twin_differences(twin, self.run(name), regularized)
        ]
        shuffled, habit = self.shuffling()
        weak = guard.weakness(stored_seeds, self.fresh_seeds, len(self.experiments))
        notes = (*verdict.notes, *habit, *([weak] if weak else []))
        return guard.StatisticalVerdict(verdict.seeds, verdict.tests, (*parted, *shuffled, *verdict.moved), notes)

    def shuffling(self) -> tuple[list[str], list[str]]:
        """``(problems, notes)``: how ``fit``'s own shuffling, which the members skip, changed
        (:mod:`harness.train.shuffling`); asked once a session."""
        if self._shuffling is None:
            with tensorflow_noise_filtered():  # its model is one more trace: TensorFlow's retracing advice
                epochs = shuffling.batch_sums()
            note = shuffling.habit_note(epochs)
            self._shuffling = (shuffling.problems(epochs), [note] if note else [])
        return self._shuffling

    def fresh_draws(self, name: str, stored: baseline.Baseline) -> tuple[list[int], TrainingRun, list[TrainingRun]]:
        """``(member seeds, twin, member runs)``: the statistical tier's fresh members of ``name``, trained once."""
        if name not in self._fresh:
            count = guard.fresh_count(stored.per_seed(), self.fresh_seeds)
            members = guard.fresh_seeds(stored.seeds, self.settings.seed + 1, count - 1)
            twin, *runs = self.runs.many(name, members, twin=self.settings.seed)
            self._fresh[name] = (members, twin, runs)
        return self._fresh[name]

    def _exchangeable(self, name: str, stored: baseline.Baseline) -> None:
        """Refuse stored seeds that fresh ones are not draws of: another trainer's, or another backend's."""
        path = self.baseline_path(name)
        if stored.trainer != TRAINER:
            raise BaselineError(
                f"{path}: its seeds were trained by {stored.trainer!r}, not Keras's own model.fit "
                f"({TRAINER}); re-record them with: {self.update_command(name)}"
            )
        if (made_on := stored.environment.get("backend", "tensorflow")) != self.settings.backend:
            raise BaselineError(
                f"{path}: its seeds were trained on {made_on}, and {self.settings.backend}'s are not draws of the "
                f"same distribution; record {self.settings.backend}'s own with: {self.update_command(name)}"
            )

    def stored_baseline(self, name: str) -> baseline.Baseline:
        path = self.baseline_path(name)
        stored = baseline.load(path)
        if stored.experiment != name:
            raise BaselineError(f"{path}: baseline is for exercise {stored.experiment!r}, not {name!r}")
        return stored

    def verdict(self, name: str) -> verdicts.Verdict:
        """``name``'s behaviour, baseline and initial weights, judged: what every front end reports."""
        parts = (self.behaviour_verdict(name), self.baseline_verdict(name), self.init_verdict(name))
        return verdicts.Verdict(name, *parts)

    def behaviour_verdict(self, name: str) -> verdicts.Part:
        """Computed on every profile, asserted only where the profile trains enough to show it."""
        asserts = self.settings.profile.behaviour
        return verdicts.behaviour(self.experiments[name], self.behaviour(name), asserts, self.settings.seed)

    def baseline_verdict(self, name: str) -> verdicts.Part:
        """The guard's verdict; a missing or unreadable baseline is ``missing``, with the command that writes it."""
        try:
            result = self.check_baseline(name)
        except BaselineError as exc:
            result = exc
        record = self.update_command(name, exact_only=True)
        return verdicts.baseline(name, result, self.settings.seed, self.update_command(name), record)

    def init_verdict(self, name: str) -> verdicts.Part:
        return verdicts.initial(name, self.check_init(name))

    def data_verdict(self) -> verdicts.Part:
        try:
            result = self.check_data()
        except BaselineError as exc:
            result = exc
        return verdicts.data(result, self.update_command("test_data_unchanged"))

    def check_init(self, name: str) -> initial.InitVerdict:
        """The session run's initial kernels against Glorot-uniform's guarantees, its biases against zeros (no
        baseline needed)."""
        run = self.run(name)
        return initial.check(run.initial_kernels, guard.init_alpha(len(self.experiments)), run.initial_biases)

    def record_exact(self, name: str, intended: bool = False) -> BaselineResult:
        """Add this machine's exact record of the session seed to ``name``'s baseline, seeds untouched.

        A record that would change (a new machine, or a seed that no longer reproduces) is written
        only where fresh seeds still train like the stored ones, unless ``intended``: otherwise
        re-recording would accept a regression as this machine's new normal. A refusal's
        ``problems`` are the statistical tier's.
        """
        path = self.baseline_path(name)
        stored = self.stored_baseline(name)
        new = self._exact_record(name)
        changed = exact.changes(stored.exact, new)
        if not changed:
            said = [f"record {new.id} unchanged"]
            return self._judged(name, BaselineResult(path, [], "exact", said, {"tier": "exact", "problems": []}))
        notes: list[str] = []
        if twin := exact.twin(stored.exact, new):  # bits an earlier record accepted: nothing new to judge
            notes.append(f"bit-identical to exact record {twin.id}")
        elif not intended:
            judged = self._statistical(name, stored)
            if judged.problems:
                fresh = baseline.fresh_draws(judged.seeds)
                refused = f"not recorded: fresh seeds ({fresh}) train differently from the baseline"
                verdict = {**judged.to_json(), "recorded": False}
                result = BaselineResult(path, [refused, *judged.problems], "statistical", list(judged.notes), verdict)
                return self._judged(name, result)
            notes.append(f"fresh seeds ({baseline.fresh_draws(judged.seeds)}) still train like the baseline")
        records = exact.replace(stored.exact, new)
        baseline.write(path, dataclasses.replace(stored, exact=records))
        self._wrote(path, [*changed, *notes])
        verdict = {"tier": "exact", "recorded": True, "problems": []}
        return self._judged(name, BaselineResult(path, [], "exact", [*changed, *notes], verdict))

    def _exact_record(self, name: str) -> exact.Record:
        seed = self.settings.seed
        runs = {seed: (self.run(name), self.metrics(name))}
        return exact.record(environment.fingerprint(), numerics.probe(), runs, environment.commit())

    def _wrote(self, path: Path, what: Sequence[str]) -> None:
        """Log a baseline write for the terminal summary (tests' own output is captured)."""
        line = {"path": str(path), "what": list(what)}
        self._writes.append(line)
        if self.run_root:
            self.run_root.mkdir(parents=True, exist_ok=True)
            with open(self.run_root / WRITES, "a") as log:
                log.write(json.dumps(line) + "\n")

    def writes(self) -> list[str]:
        """``wrote PATH: what changed`` for every baseline write of this run, all workers' included."""
        lines = self._writes
        if self.run_root and (self.run_root / WRITES).is_file():
            lines = [json.loads(raw) for raw in (self.run_root / WRITES).read_text().splitlines() if raw.strip()]
        return [f"wrote {w['path']}: {'; '.join(w['what'])}" for w in lines]

    def data_moments(self) -> dict[str, float]:
        """The unscaled training split's moments (:func:`~harness.data.prepare.moments`): no training needed."""
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
        self._wrote(path, [f"the training data's {len(values)} moments"])
        return BaselineResult(path, [])

    def update_baseline(self, name: str, n_seeds: int, strong: bool = True) -> BaselineResult:
        """Train ``name`` with ``n_seeds`` seeds from the session seed on, side by side, and store them with
        this environment's exact record of the session seed.

        ``strong``: where too few of them train (learn or saturate) for the guard's power target (lr = 0.1's seeds often
        diverge or die), train more until enough do. Other environments' exact records are dropped:
        they recorded the training this update replaces (re-record there with ``pytest --record-exact``).
        """
        path = self.own_baseline_path(name)
        old = baseline.exact_records(path)
        here = self._exact_record(name)
        dropped = sum(1 for r in old if not r.same_machine(here))
        seeds = range(self.settings.seed, self.settings.seed + n_seeds)
        stored = self.train_baseline(name, seeds)
        if strong:
            stored = self.grown(name, stored, cap=4 * n_seeds)
        record = here  # the session seed's run is cached: the same record as before the seeds trained
        baseline.write(path, dataclasses.replace(stored, exact=(record,)))
        notes = [f"{len(stored.seeds)} seeds ({baseline.seed_span(stored.seeds)}) and exact record {record.id}"]
        if dropped:
            notes.append(
                f"dropped the exact records of {dropped} other machine(s): re-record there with --record-exact"
            )
        if weak := guard.weakness(stored.per_seed(), self.fresh_seeds, len(self.experiments)):
            notes.append(weak)
        notes += self._stale_after_update(name)
        self._wrote(path, notes)
        return BaselineResult(path, [], None, notes)

    def _stale_after_update(self, name: str) -> list[str]:
        """What ``name``'s new baseline leaves stale beside it (the firmware's session names its seeds' firmware)."""
        return []

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

        runs = self.runs.many(name, seeds)
        self._seed_runs.update({(name, run.seed): run for run in runs})
        per_seed = {run.seed: compute(run) for run in runs}
        histories = {run.seed: run.history for run in runs}
        return baseline.from_runs(name, self.settings.label, per_seed, histories, trainer=TRAINER)

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
        folders.mark_latest(self.artifacts_dir, self.output_dir)
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
