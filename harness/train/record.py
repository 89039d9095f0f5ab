"""Stage 4's product, one training run as data: what later stages read, saved and loaded without Keras.

Apart from :mod:`harness.train.training` so that whatever only reads runs (metrics, plots, artifacts, the
firmware stage's inputs, test collection) never imports Keras or TensorFlow, which costs seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.core.files import atomic

#: Called after each epoch with ``(experiment name, epoch, epochs, logs)``.
EpochCallback = Callable[[str, int, int, Mapping[str, float]], None]


@dataclass
class TrainingRun:
    """Everything later stages need from one training, and nothing Keras-specific."""

    experiment: str
    seed: int
    history: dict[str, list[float]]
    initial_kernels: dict[str, np.ndarray]
    kernels: dict[str, np.ndarray]
    y_test: np.ndarray
    y_pred: np.ndarray
    classes: tuple[str, ...]
    diverged_epoch: int | None = None
    train_seconds: float = 0.0
    #: Optimizer steps Keras ran per epoch, as its callbacks saw it: pins the amount of data
    #: fitted (``validation_split``, batch size, dataset size), which no seed changes.
    steps_per_epoch: int | None = None
    #: Wall seconds from the start of ``model.fit`` to the end of each epoch (validation included):
    #: the first holds the backend's tracing and compilation, time-to-accuracy reads them all.
    epoch_ends: list[float] = field(default_factory=list)
    #: fc1 … fc4's trained biases: with the kernels, the whole model, which the firmware stage rebuilds.
    biases: dict[str, np.ndarray] = field(default_factory=dict)
    #: fc1 … fc4's biases before training: ``Dense``'s initializer, checked as the kernels' is.
    initial_biases: dict[str, np.ndarray] = field(default_factory=dict)


def save_run(run: TrainingRun, path: Path) -> None:
    """Write a run as one ``.npz`` atomically (temp file, then rename): readers never see half a file."""
    meta = {
        "experiment": run.experiment,
        "seed": run.seed,
        "history": run.history,
        "classes": list(run.classes),
        "diverged_epoch": run.diverged_epoch,
        "train_seconds": run.train_seconds,
        "steps_per_epoch": run.steps_per_epoch,
        "epoch_ends": run.epoch_ends,
    }
    arrays = {"meta": np.array(json.dumps(meta)), "y_test": run.y_test, "y_pred": run.y_pred}
    arrays.update({f"kernel.{k}": v for k, v in run.kernels.items()})
    arrays.update({f"initial.{k}": v for k, v in run.initial_kernels.items()})
    arrays.update({f"bias.{k}": v for k, v in run.biases.items()})
    arrays.update({f"initial_bias.{k}": v for k, v in run.initial_biases.items()})
    with atomic(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def load_run(path: Path) -> TrainingRun:
    """A run as :func:`save_run` wrote it."""
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        kernels = {k.split(".", 1)[1]: npz[k] for k in npz.files if k.startswith("kernel.")}
        initial = {k.split(".", 1)[1]: npz[k] for k in npz.files if k.startswith("initial.")}
        biases = {k.split(".", 1)[1]: npz[k] for k in npz.files if k.startswith("bias.")}
        initial_biases = {k.split(".", 1)[1]: npz[k] for k in npz.files if k.startswith("initial_bias.")}
        return TrainingRun(
            experiment=meta["experiment"],
            seed=meta["seed"],
            history=meta["history"],
            initial_kernels=initial,
            kernels=kernels,
            y_test=npz["y_test"],
            y_pred=npz["y_pred"],
            classes=tuple(meta["classes"]),
            diverged_epoch=meta["diverged_epoch"],
            train_seconds=meta["train_seconds"],
            steps_per_epoch=meta.get("steps_per_epoch"),
            epoch_ends=meta.get("epoch_ends", []),
            biases=biases,
            initial_biases=initial_biases,
        )
