"""Stage 4, the training run: the notebook's MLP trained under one variant, computed once per session.

:func:`build_model` and :func:`build_optimizer` are the notebook's ``run_model`` without
its printing and plotting; :class:`~harness.train.run_cache.Runs` is the session cache every test, the CLI
and the benchmarks draw from, so ``pytest -k adam`` trains ``adam`` and its reference, nothing else. What a
run leaves, :class:`~harness.train.record.TrainingRun`, lives apart, free of Keras.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping

import numpy as np

from harness.core import backend
from harness.core.errors import ConfigError
from harness.core.quiet import drop_retracing_advice, tensorflow_noise_filtered
from harness.data.prepare import Split
from harness.experiment import Experiment, Profile, Variant
from harness.experiment.vocabulary import LAYERS
from harness.train.record import EpochCallback, TrainingRun

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported by Keras
backend.use()  # KERAS_BACKEND or TensorFlow, unless the CLI or conftest.py chose first; checks it is installed
with tensorflow_noise_filtered():  # its start-up banners; after the backend is chosen: Keras reads it at import
    import keras
drop_retracing_advice()
backend.tune()


def build_model(variant: Variant, n_features: int = 16, n_classes: int = 5, name: str = "jet_mlp") -> keras.Model:
    """The notebook's MLP: 16 → fc1 64 → fc2 32 → fc3 32 → fc4 5, softmax; L1 on fc1 if asked."""
    regularizer = keras.regularizers.L1(variant.l1) if variant.l1 else None
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(n_features,)),
            layers.Dense(64, name="fc1", kernel_regularizer=regularizer),
            layers.Activation(variant.activation, name="relu1"),
            layers.Dense(32, name="fc2"),
            layers.Activation(variant.activation, name="relu2"),
            layers.Dense(32, name="fc3"),
            layers.Activation(variant.activation, name="relu3"),
            layers.Dense(n_classes, name="fc4"),
            layers.Activation("softmax", name="softmax"),
        ],
        name=name,
    )


def build_optimizer(variant: Variant) -> keras.optimizers.Optimizer:
    """A fresh optimizer by Keras name; the learning rate is Keras's default unless the variant sets one."""
    try:
        optimizer = keras.optimizers.get(variant.optimizer)
    except ValueError:
        raise ConfigError(f"unknown Keras optimizer {variant.optimizer!r}") from None
    if variant.learning_rate is None:
        return optimizer
    return type(optimizer).from_config({**optimizer.get_config(), "learning_rate": variant.learning_rate})


#: Batches per call into the backend: the arithmetic and its order are unchanged, but Keras's
#: per-step Python overhead, most of an epoch on this tiny model, is paid once per 32 batches
#: (docs/measurements.md). PyTorch gets 1 (:data:`harness.core.backend.MAX_STEPS_PER_EXECUTION`).
STEPS_PER_EXECUTION = 32


def model_name(exercise: str) -> str:
    """The Keras model name for an exercise: word characters only, since the name prefixes every
    variable path and PyTorch refuses a ``.`` in a parameter name (``lr_0.1`` → ``lr_0_1``)."""
    return re.sub(r"\W", "_", exercise)


def compile_model(variant: Variant, n_features: int, n_classes: int, name: str = "jet_mlp") -> keras.Model:
    """The notebook's ``model.compile``: categorical cross-entropy, accuracy, the variant's optimizer."""
    model = build_model(variant, n_features, n_classes, name=model_name(name))
    model.compile(
        optimizer=build_optimizer(variant),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=backend.steps_per_execution(STEPS_PER_EXECUTION),
    )
    return model


def seed_everything(seed: int) -> None:
    """Same seed, same numbers on the same machine: seeds Python, NumPy and the backend, and asks the
    backend for deterministic kernels where it has a switch (:func:`harness.core.backend.deterministic`)."""
    keras.utils.set_random_seed(seed)
    backend.deterministic()


class _Monitor(keras.callbacks.Callback):
    """Stops at the first non-finite loss (a recorded outcome, not a crash) and reports progress."""

    def __init__(self, name: str, epochs: int, on_epoch: EpochCallback | None) -> None:
        super().__init__()
        self.name, self.epochs, self.on_epoch = name, epochs, on_epoch
        self.diverged_epoch: int | None = None
        self.steps_per_epoch: int | None = None
        self.started = time.perf_counter()
        self.epoch_ends: list[float] = []

    def on_train_begin(self, logs: Mapping[str, float] | None = None) -> None:
        self.steps_per_epoch = self.params.get("steps")
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        self.epoch_ends.append(time.perf_counter() - self.started)
        logs = logs or {}
        if self.on_epoch:
            self.on_epoch(self.name, epoch + 1, self.epochs, logs)
        if not math.isfinite(float(logs.get("loss", 0.0))):
            self.diverged_epoch = epoch + 1
            self.model.stop_training = True


def train(
    experiment: Experiment,
    split: Split,
    profile: Profile,
    seed: int,
    on_epoch: EpochCallback | None = None,
) -> TrainingRun:
    """Train one exercise as the notebook's ``run_model`` does and collect what the metrics need."""
    seed_everything(seed)
    model = compile_model(experiment.variant, split.X_train.shape[1], len(split.classes), name=experiment.name)
    initial, initial_biases = kernels_of(model), biases_of(model)
    monitor = _Monitor(experiment.name, profile.epochs, on_epoch)
    start = time.perf_counter()
    history = fit(model, split, profile, callbacks=[monitor])
    seconds = time.perf_counter() - start
    y_pred = model.predict(split.X_test, batch_size=profile.batch_size, verbose=0)
    return TrainingRun(
        experiment=experiment.name,
        seed=seed,
        history=history,
        initial_kernels=initial,
        kernels=kernels_of(model),
        biases=biases_of(model),
        initial_biases=initial_biases,
        y_test=split.y_test,
        y_pred=np.asarray(y_pred),
        classes=split.classes,
        diverged_epoch=monitor.diverged_epoch,
        train_seconds=seconds,
        steps_per_epoch=monitor.steps_per_epoch,
        epoch_ends=monitor.epoch_ends,
    )


def fit(
    model: keras.Model, split: Split, profile: Profile, callbacks: list[keras.callbacks.Callback] | None = None
) -> dict[str, list[float]]:
    """``model.fit`` with the notebook's arguments (batch, epochs, ``validation_split``, shuffle)."""
    history = model.fit(
        split.X_train,
        split.y_train,
        batch_size=profile.batch_size,
        epochs=profile.epochs,
        validation_split=profile.validation_split,
        shuffle=True,
        verbose=0,
        callbacks=callbacks or [],
    )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def kernels_of(model: keras.Model) -> dict[str, np.ndarray]:
    """fc1 … fc4's kernels, copied out of the backend."""
    return {name: np.array(model.get_layer(name).kernel.numpy()) for name in LAYERS}


def biases_of(model: keras.Model) -> dict[str, np.ndarray]:
    """fc1 … fc4's biases, copied out of the backend."""
    return {name: np.array(model.get_layer(name).bias.numpy()) for name in LAYERS}
