"""The run cache: each (exercise, seed) trained once per session, by :func:`harness.train.training.train`,
shared between pytest-xdist workers through files; and many seeds at once, side by side.

Apart from :mod:`harness.train.training` (one ``model.fit``) and :mod:`harness.train.side_by_side` (many seeds in one
``model.fit``) because it uses both, and neither uses it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from filelock import FileLock

from harness.core.quiet import tensorflow_noise_filtered
from harness.data import dataset as datasets
from harness.data.prepare import Split, prepare
from harness.experiment import Experiment, Settings
from harness.train.record import EpochCallback, TrainingRun, load_run, save_run
from harness.train.side_by_side import DEFAULT_CHUNK, train_seeds
from harness.train.training import train


class Runs:
    """The session's training runs: each ``(exercise, seed)`` is trained at most once.

    With a ``store`` folder the runs are also shared between processes (pytest-xdist
    workers): the first process to need a run trains it under a file lock and saves it,
    the others wait on the lock and load it. ``on_run`` is called once per trained run, in
    the process that trained it (the CLI and the pytest plugin write artifacts there).
    """

    def __init__(
        self,
        settings: Settings,
        experiments: Mapping[str, Experiment],
        on_run: Callable[[TrainingRun], None] | None = None,
        on_epoch: EpochCallback | None = None,
        store: Path | None = None,
    ) -> None:
        self.settings = settings
        self.experiments = experiments
        self.on_run = on_run
        self.on_epoch = on_epoch
        self.store = Path(store) / settings.label if store else None
        self._runs: dict[tuple[str, int], TrainingRun] = {}
        self._splits: dict[bool, Split] = {}
        #: Members per ``model.fit`` in :meth:`many`.
        self.chunk = DEFAULT_CHUNK

    def get(self, name: str, seed: int | None = None) -> TrainingRun:
        seed = self.settings.seed if seed is None else seed
        key = (name, seed)
        if key not in self._runs:
            self._runs[key] = self._shared(name, seed) if self.store else self._train(name, seed)
        return self._runs[key]

    def _train(self, name: str, seed: int) -> TrainingRun:
        experiment = self.experiments[name]
        split = self.split(experiment.variant.scaled)
        with tensorflow_noise_filtered():  # cuInit on a machine without a GPU; an ignored NodeDef attribute
            run = train(experiment, split, self.settings.profile, seed, self.on_epoch)
        if self.on_run:
            self.on_run(run)
        return run

    def _shared(self, name: str, seed: int) -> TrainingRun:

        self.store.mkdir(parents=True, exist_ok=True)
        path = self.store / f"{name}-seed{seed}.npz"
        with FileLock(f"{path}.lock"):
            if path.exists():
                return load_run(path)
            run = self._train(name, seed)
            save_run(run, path)
            with open(self.store / "trained.log", "a", encoding="utf-8") as log:
                log.write(f"{name} {seed} {os.getpid()}\n")
            return run

    def many(self, name: str, seeds: Sequence[int], twin: int | None = None) -> list[TrainingRun]:
        """Train ``name`` once per seed side by side (:mod:`harness.train.side_by_side`); not cached.

        These are other random streams than ``get``'s ``model.fit`` runs: baseline seeds, never
        the run a test checks. ``twin``: that run over again, side by side, first.
        """
        experiment = self.experiments[name]
        split = self.split(experiment.variant.scaled)
        with tensorflow_noise_filtered():
            return train_seeds(
                experiment, split, self.settings.profile, seeds, self.on_epoch, chunk=self.chunk, twin=twin
            )

    def split(self, scaled: bool) -> Split:
        if scaled not in self._splits:
            data = datasets.load(self.settings.dataset, self.settings.cache_dir)
            self._splits[scaled] = prepare(data.head(self.settings.profile.n_jets), scaled=scaled)
        return self._splits[scaled]

    def trained_log(self) -> list[tuple[str, int]]:
        """``(exercise, seed)`` of every run trained into the shared store, one entry per training."""
        log = self.store / "trained.log" if self.store else None
        if not log or not log.exists():
            return []
        return [(name, int(seed)) for name, seed, _ in (line.split() for line in log.read_text().splitlines())]

    def completed(self) -> list[TrainingRun]:
        """Runs with the session seed: those in memory, plus those other processes stored."""
        seed = self.settings.seed
        runs = {name: run for (name, s), run in self._runs.items() if s == seed}
        if self.store and self.store.is_dir():
            for path in sorted(self.store.glob(f"*-seed{seed}.npz")):
                name = path.name[: -len(f"-seed{seed}.npz")]
                if name not in runs:
                    runs[name] = load_run(path)
        return list(runs.values())
