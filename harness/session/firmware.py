"""The firmware's part of a session: the trained models through hls4ml, their records and verdicts.

:class:`Session` is :class:`~harness.session.training.TrainingSession` plus the firmware: each
exercise's session run converted once per precision point, the fixed probe that guards hls4ml and
g++ on every machine, the firmware's exact records and its stored seeds' firmware, judged against
fresh draws the training guard already trained. Only ``pytest -m firmware`` and ``run --firmware``
ask for any of it.
"""

from __future__ import annotations

import dataclasses
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path

from harness.core.errors import BaselineError
from harness.firmware import probe
from harness.firmware.config import PRECISION
from harness.firmware.convert import (
    FirmwareRun,
    convert,
    functional,
    nothing_to_convert,
    rebuild,
    scored,
    traced,
)
from harness.firmware.many import simulate_many
from harness.judge import baseline, exact, guard
from harness.judge import firmware as firmware_guard
from harness.judge import verdict as verdicts
from harness.judge.checks import Outcome, check_behaviour
from harness.outputs import artifacts
from harness.session.training import DEFAULT_BASELINES, TrainingSession
from harness.train.record import TrainingRun
from harness.train.side_by_side import TRAINER

#: Test jets hls4ml's profiling runs through the traced firmware: enough for its boxplots' whiskers.
PROFILE_ROWS = 2_000


class Session(TrainingSession):
    """A session that can also take its trained models through hls4ml (``pytest -m firmware``, ``run --firmware``)."""

    @cached_property
    def _firmware(self) -> dict[tuple[str, str], FirmwareRun]:
        """Each ``(exercise, precision point)`` converted this session, once."""
        return {}

    @cached_property
    def _probe(self) -> dict[str, tuple[str, FirmwareRun]]:
        """The probe's ``(key, result)`` per precision point, once."""
        return {}

    def verdict(self, name: str, firmware: bool = False) -> verdicts.Verdict:
        """``name``'s behaviour, baseline and initial weights, judged, and its firmware's where asked."""
        judged = super().verdict(name)
        return dataclasses.replace(judged, firmware=self.firmware_verdict(name)) if firmware else judged

    def _stale_after_update(self, name: str) -> list[str]:
        if not self.firmware_seeds_path(name).exists():
            return []
        return [f"its seeds' firmware is now stale: re-record it with {self.firmware_seeds_command(name)}"]

    def firmware(self, name: str, point: str = PRECISION) -> FirmwareRun:
        """The session run of ``name`` through hls4ml at ``point``, compiled and run on its test set, once."""
        key = (name, point)
        if key not in self._firmware:
            experiment = self.experiments[name]
            split = self.runs.split(experiment.variant.scaled)
            root = self.run_root or Path(tempfile.mkdtemp(prefix="jet-harness-firmware-"))
            folder = artifacts.firmware_folder(root, self.settings, name, point)
            self._firmware[key] = convert(self.run(name), experiment, split.X_test, folder, point)
            if self.run_root:
                done = [run.as_dict() for (exercise, _), run in self._firmware.items() if exercise == name]
                artifacts.save_firmware(self.run_root, self.settings, name, done)
        return self._firmware[key]

    def firmware_verdict(self, name: str, point: str = PRECISION) -> verdicts.Part:
        """``name``'s firmware: its ``firmware`` expectations (``experiments/``) and its records.

        The exact tier decides where a record of this float model applies. Elsewhere (its training
        did not reproduce here, or ``--tier statistical``) the probe's record guards hls4ml and the
        compiler, and fresh seeds' firmware is judged against the stored seeds'.
        """
        experiment, done = self.experiments[name], self.firmware(name, point)
        if done.skipped:
            return verdicts.firmware(experiment, done.skipped, point, self.settings.seed)
        outcomes, seed = self._firmware_outcomes(name, done), self.settings.seed
        path = firmware_guard.path_for(self.baselines_dir, self.settings.label, name)
        applies, why, moved = firmware_guard.check(firmware_guard.load(path), exact.digest(self.run(name)), done)
        if applies and self.tier == "auto":
            return verdicts.firmware(experiment, outcomes, point, seed, moved, "", self.firmware_command(name))
        why = why if self.tier == "auto" else "skipped (--tier statistical)"
        probed, moved = self.probe_check(point)
        notes = [f"firmware exact tier: {why} (record it: {self.firmware_command(name)}); {probed}"]
        if moved:
            return verdicts.firmware(experiment, outcomes, point, seed, moved, notes, self.probe_command(intended=True))
        judged, said = self.firmware_statistical(name, point)
        problems, record = (judged.problems if judged else []), self.firmware_seeds_command(name)
        return verdicts.firmware(experiment, outcomes, point, seed, problems, [*notes, *said], record, "statistical")

    def firmware_statistical(
        self, name: str, point: str = PRECISION
    ) -> tuple[guard.StatisticalVerdict | None, list[str]]:
        """``(verdict, notes)``: the firmware of this session's fresh draws against the stored seeds' (no verdict
        where none are stored for this training). The draws are the training guard's own, trained once; the
        session seed's firmware is repeated last through the one-compile path and must give its own digest."""
        path, command = self.firmware_seeds_path(name), self.firmware_seeds_command(name)
        try:
            training = self.stored_baseline(name)
            self._exchangeable(name, training)
            stored = firmware_guard.load_seeds(path)
        except BaselineError as exc:
            return None, [f"the firmware's statistical tier needs the training baseline and its seeds' firmware: {exc}"]
        made = stored and (stored.precision, stored.trainer, stored.backend)
        if made != (point, TRAINER, self.settings.backend):
            what = f"{stored.backend}'s {stored.trainer} seeds at {stored.precision}" if stored else "none"
            return None, [f"no stored seeds' firmware to judge fresh seeds by ({path.name}: {what}); record: {command}"]
        if stored.training != _training_digest(training, stored.results):
            return None, [f"{path}: its seeds' firmware is of a training baseline since re-recorded; record: {command}"]
        members, _, runs = self.fresh_draws(name, training)
        draws = [r for r in (*runs, self.run(name)) if nothing_to_convert(r) is None]
        done, environment = self._firmware_of_many(name, draws, point)
        fresh = [result.metrics() for result in done]
        seeds = [run.seed for run in draws]
        verdict = firmware_guard.statistical(stored, fresh, seeds, firmware_guard.per_test_alpha(len(self.experiments)))
        notes = [f"firmware statistical tier: {len(draws)} of {len(members) + 1} fresh seeds converted"]
        notes += verdict.notes
        if changed := firmware_guard.differences(stored.environment, environment):
            notes.append(f"the stored seeds' firmware was made with other settings: {'; '.join(changed)}")
        own = self.firmware(name, point)
        if draws and draws[-1] is self.run(name) and len(draws) > 1 and done[-1].digest != own.digest:
            twin = (
                f"seed {self.settings.seed}'s firmware, compiled once for many, no longer computes its own compile's "
                f"({done[-1].digest} vs {own.digest}): harness/firmware/many.py's premise broke"
            )
            verdict = dataclasses.replace(verdict, moved=(twin,))
        return verdict, notes

    def record_firmware_seeds(self, name: str, point: str = PRECISION) -> Path:
        """Store the firmware of the training baseline's first :data:`~harness.judge.firmware.SEEDS` seeds at
        ``point``, trained again side by side (or as trained by this session's ``--update-baselines``)."""
        training = self.stored_baseline(name)
        self._exchangeable(name, training)
        seeds = list(training.seeds)[: firmware_guard.SEEDS]
        missing = [s for s in seeds if (name, s) not in self._seed_runs]
        self._seed_runs.update({(name, run.seed): run for run in (self.runs.many(name, missing) if missing else [])})
        runs = [self._seed_runs[(name, s)] for s in seeds]
        results: dict[int, dict[str, float] | str] = {r.seed: why for r in runs if (why := nothing_to_convert(r))}
        done, environment = self._firmware_of_many(name, [r for r in runs if r.seed not in results], point)
        results.update({result.seed: result.metrics() for result in done})
        path = self.firmware_seeds_path(name)
        digest = _training_digest(training, results)
        made = firmware_guard.Seeds(point, TRAINER, self.settings.backend, environment, results, digest)
        firmware_guard.write(path, name, firmware_guard.load(path), made)
        self._wrote(path, [f"the firmware of {len(seeds)} seeds at {point} ({len(done)} converted)"])
        return path

    def _firmware_of_many(
        self, name: str, runs: Sequence[TrainingRun], point: str
    ) -> tuple[list[FirmwareRun], dict[str, str]]:
        """``runs``' firmware at ``point``, scored against each run's own float outputs, from one compile."""
        experiment = self.experiments[name]
        X_test = self.runs.split(experiment.variant.scaled).X_test
        outputs, environment = simulate_many([rebuild(r, experiment) for r in runs], X_test, point)
        return [scored(run, fixed, point) for run, fixed in zip(runs, outputs, strict=True)], environment

    def firmware_seeds_path(self, name: str) -> Path:
        """Where ``name``'s stored seeds' firmware lives: beside this backend's own training baseline.

        The exact records are keyed by the float run's digest and share the TensorFlow folder's file;
        seeds are draws of one backend's training, so another backend's go to its own folder.
        """
        label = baseline.own_label(self.settings.label, self.settings.backend)
        return firmware_guard.path_for(self.baselines_dir, label, name)

    def firmware_seeds_command(self, name: str) -> str:
        """The command that stores ``name``'s seeds' firmware for this session's options."""
        return self.update_command(name).replace("pytest ", "pytest -m firmware ", 1)

    def _firmware_outcomes(self, name: str, done: FirmwareRun) -> list[Outcome]:
        experiment = self.experiments[name]
        return check_behaviour(experiment, done.metrics(), {}, self.settings.backend, experiment.firmware)

    def probe(self, point: str = PRECISION) -> tuple[str, FirmwareRun]:
        """``(key, result)`` of the firmware probe at ``point`` (:mod:`harness.firmware.probe`), once."""
        if point not in self._probe:
            root = self.run_root or Path(tempfile.mkdtemp(prefix="jet-harness-firmware-"))
            folder = artifacts.firmware_folder(root, self.settings, probe.NAME, point)
            self._probe[point] = probe.run(folder, point)
        return self._probe[point]

    def probe_check(self, point: str = PRECISION) -> tuple[str, list[str]]:
        """``(what was judged, what moved)``: the probe at ``point`` against its record."""
        key, result = self.probe(point)
        path = firmware_guard.probe_path(self.baselines_dir)
        applies, why, moved = firmware_guard.check(firmware_guard.load(path), key, result)
        if not applies:
            return f"and {why.replace('this float model', 'the probe')} (record it: {self.probe_command()})", []
        said = "the probe is bit-identical to its record" if not moved else "the probe moved"
        return f"{said} (the same on every machine: {path.name})", moved

    def record_probe(self, point: str = PRECISION, intended: bool = False) -> tuple[Path, list[str]]:
        """Write the probe's record at ``point``; ``(path, why not)``, nothing written when ``why not`` is said.

        A record that would change says hls4ml or the compiler now computes other firmware: it is
        replaced only when told the change is intended.
        """
        key, result = self.probe(point)
        path = firmware_guard.probe_path(self.baselines_dir)
        records = firmware_guard.load(path)
        applies, _, moved = firmware_guard.check(records, key, result)
        if applies and not moved:
            return path, []
        if moved and not intended:
            return path, ["not recorded: the probe's firmware changed", *moved]
        firmware_guard.write(path, probe.NAME, firmware_guard.replaced(records, firmware_guard.Record.of(key, result)))
        self._wrote(path, [f"probe record at {point}: digest {result.digest}", *moved])
        return path, []

    def probe_command(self, intended: bool = False) -> str:
        """The command that writes the probe's record (``--intended`` to replace one that moved)."""
        intent = ["--intended"] if intended else []
        words = ["pytest", "-m", "firmware", "--record-exact", *intent, "-k", "test_the_firmware_probe"]
        if self.baselines_dir.resolve() != DEFAULT_BASELINES:
            words.append(f"--baselines-dir={self.baselines_dir}")
        return shlex.join(words)

    def draw_precision_scan(self, name: str) -> Path | None:
        """``precision_scan.png`` of every point ``name``'s firmware was converted at, beside its plots."""
        if not self.run_root:
            return None
        from harness.outputs import plots  # matplotlib: only where a figure is drawn

        results = [run.as_dict() for (exercise, _), run in self._firmware.items() if exercise == name]
        path = artifacts.run_dir(self.run_root, self.settings, name) / "precision_scan.png"
        plots.precision_scan(results, path, name)
        return path

    def draw_firmware_profile(self, name: str, point: str = PRECISION) -> list[Path]:
        """hls4ml's profiling figures of ``name``'s firmware at ``point``, beside its plots (none without a run)."""
        done = self.firmware(name, point)
        if not self.run_root or done.skipped:
            return []
        from harness.outputs import plots  # matplotlib: only where a figure is drawn

        experiment = self.experiments[name]
        model = rebuild(self.run(name), experiment)
        folder = artifacts.run_dir(self.run_root, self.settings, name)
        hls_model = traced(model, folder / "hls4ml" / "profiling", point)
        X = self.runs.split(experiment.variant.scaled).X_test[:PROFILE_ROWS]
        return plots.firmware_profile(functional(model), hls_model, X, folder)

    def record_firmware(self, name: str, point: str = PRECISION, intended: bool = False) -> tuple[Path, list[str]]:
        """Write this float model's firmware record at ``point``; ``(path, why not)``, nothing written when refused.

        A firmware that no longer keeps its exercise's ``firmware`` expectations is not recorded
        unless ``intended``: recording it would accept the regression as the new normal.
        """
        done = self.firmware(name, point)
        if done.skipped:
            raise BaselineError(f"{name}: {done.skipped}")
        path = firmware_guard.path_for(self.baselines_dir, self.settings.label, name)
        outcomes = self._firmware_outcomes(name, done)
        if not intended and not all(o.passed for o in outcomes):
            return path, [f"not recorded: {name}'s firmware at {point} loses what it should keep", *map(str, outcomes)]
        new = firmware_guard.Record.of(exact.digest(self.run(name)), done)
        firmware_guard.write(path, name, firmware_guard.replaced(firmware_guard.load(path), new))
        self._wrote(path, [f"firmware record at {point}: digest {done.digest}"])
        return path, []

    def firmware_command(self, name: str) -> str:
        """The command that writes ``name``'s firmware record for this session's options."""
        return f"{self.update_command(name, exact_only=True)} -m firmware"


def _training_digest(training: baseline.Baseline, results: Mapping[int, object]) -> str:
    """:func:`harness.judge.firmware.training_digest` of the training baseline's seeds in ``results``."""
    per_seed = dict(zip(training.seeds, training.per_seed(), strict=True))
    return firmware_guard.training_digest({s: per_seed.get(s, {}) for s in results})
