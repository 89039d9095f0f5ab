"""One trained run through hls4ml: rebuild its model, convert, compile the C simulation, predict the test set.

The firmware result is compared with the float model's own predictions, so it is judged against
the run it came from, not against a second training.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.experiment import Experiment
from harness.firmware.config import BACKEND, IO_TYPE, PRECISION, defaults_left, hls_config
from harness.measure.metrics import accuracy
from harness.train.record import TrainingRun


@dataclass(frozen=True)
class FirmwareRun:
    """What the compiled firmware of one run computed at one precision point."""

    experiment: str
    seed: int
    precision: str
    #: Why nothing was converted (a diverged or dead run), else ``None``.
    skipped: str | None = None
    accuracy: float = float("nan")
    float_accuracy: float = float("nan")
    #: Share of test jets whose fixed-point class is the float model's.
    agreement: float = float("nan")
    #: sha256 of the fixed-point outputs: what the exact tier compares.
    digest: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    project: str = ""
    #: hls4ml's and the compiler's versions, and every setting left to hls4ml's defaults.
    environment: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    def metrics(self) -> dict[str, float]:
        """The ``firmware.*`` metrics (:mod:`harness.experiment.vocabulary`)."""
        return {
            "firmware.accuracy": self.accuracy,
            "firmware.agreement": self.agreement,
            "firmware.accuracy_loss": self.float_accuracy - self.accuracy,
        }


def nothing_to_convert(run: TrainingRun) -> str | None:
    """Why ``run`` has no model worth converting: it diverged, its weights overflowed, or it predicts one class."""
    if run.diverged_epoch is not None:
        return f"seed {run.seed} diverged at epoch {run.diverged_epoch}: no finite model to convert"
    if not all(np.all(np.isfinite(w)) for w in (*run.kernels.values(), *run.biases.values())):
        return f"seed {run.seed}'s weights are not all finite: no model to convert"
    if not run.biases:
        return f"seed {run.seed}'s record holds no biases (a run cached before they were kept): retrain it"
    if len(np.unique(np.asarray(run.y_pred).argmax(axis=1))) == 1:
        return f"seed {run.seed} is dead: the float model predicts one class for every jet"
    return None


def rebuild(run: TrainingRun, experiment: Experiment):
    """The trained Keras model of ``run``, from its kernels and biases."""
    from harness.train.training import build_model  # imports Keras: only when a model is rebuilt

    n_features, n_classes = run.kernels["fc1"].shape[0], run.kernels["fc4"].shape[1]
    model = build_model(experiment.variant, n_features, n_classes, name=experiment.name)
    for name, kernel in run.kernels.items():
        model.get_layer(name).set_weights([kernel, run.biases[name]])
    return model


def convert(
    run: TrainingRun, experiment: Experiment, X_test: np.ndarray, folder: Path, point: str = PRECISION
) -> FirmwareRun:
    """Convert, compile and run ``run``'s model at ``point``; the HLS project is kept in ``folder``."""
    if reason := nothing_to_convert(run):
        return FirmwareRun(run.experiment, run.seed, point, skipped=reason)
    fixed, timings, environment = simulate(rebuild(run, experiment), X_test, folder, point)
    return scored(run, fixed, point, seconds=timings, project=str(folder), environment=environment)


def scored(run: TrainingRun, fixed: np.ndarray, point: str, **more) -> FirmwareRun:
    """``run``'s firmware outputs ``fixed`` at ``point``, judged against the run's own labels and float outputs."""
    return FirmwareRun(
        experiment=run.experiment,
        seed=run.seed,
        precision=point,
        accuracy=accuracy(run.y_test, fixed),
        float_accuracy=accuracy(run.y_test, run.y_pred),
        agreement=agreement(fixed, run.y_pred),
        digest=outputs_digest(fixed),
        **more,
    )


def simulate(model, X: np.ndarray, folder: Path, point: str) -> tuple[np.ndarray, dict[str, float], dict[str, str]]:
    """``model``'s fixed-point outputs on ``X`` at ``point``, each step's seconds, and the firmware's environment."""
    import hls4ml  # optional: only where the firmware stage runs

    config = hls_config(model, point)
    if folder.exists():
        shutil.rmtree(folder)  # a project of an earlier run would be compiled over, not replaced
    timings = {}
    start = time.perf_counter()
    # hls4ml prints its progress (the run's log is ours) and warns where it overrides a setting
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", UserWarning)
        hls_model = hls4ml.converters.convert_from_keras_model(
            model, hls_config=config, output_dir=str(folder), backend=BACKEND, io_type=IO_TYPE
        )
        timings["convert"] = time.perf_counter() - start
        hls_model.compile()
        timings["compile"] = time.perf_counter() - start - timings["convert"]
        fixed = np.asarray(hls_model.predict(np.ascontiguousarray(X, dtype=np.float32)), dtype=np.float64)
    timings["predict"] = time.perf_counter() - start - timings["convert"] - timings["compile"]
    environment = {"hls4ml": hls4ml.__version__, "compiler": compiler(), **defaults_left(config, point)}
    overridden = sorted({str(w.message) for w in warned if w.category is UserWarning})
    if overridden:  # e.g. a softmax table shrunk for a narrow input: part of what the firmware is
        environment["hls4ml warnings"] = " | ".join(overridden)
    for w in warned:
        if w.category is not UserWarning:  # not ours to keep: warn as if never caught
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return fixed.reshape(len(X), -1), timings, environment


def agreement(fixed: np.ndarray, y_float: np.ndarray) -> float:
    """Share of rows whose fixed-point class is the float model's."""
    return float(np.mean(np.asarray(fixed).argmax(axis=1) == np.asarray(y_float).argmax(axis=1)))


def outputs_digest(fixed: np.ndarray) -> str:
    """sha256 of the fixed-point outputs, as float64: what the firmware's exact tier compares."""
    return hashlib.sha256(np.ascontiguousarray(fixed, dtype=np.float64).tobytes()).hexdigest()[:16]


def compiler() -> str:
    """The first line of ``g++ --version``: the compiler decides the C simulation's bits."""
    try:
        done = subprocess.run(["g++", "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.splitlines()[0] if done.stdout else "unknown"


def functional(model):
    """``model`` as a functional ``keras.Model`` of fresh layers with its weights.

    hls4ml's profiling asks each layer for its ``output``; a Sequential's layers have none
    ("never been called"), and layers reused in a new graph answer with their first graph's.
    """
    import keras  # after the backend choice, as everywhere Keras is imported

    inputs = keras.Input(shape=model.input_shape[1:])
    outputs, copies = inputs, []
    for layer in model.layers:
        copy = layer.__class__.from_config(layer.get_config())
        outputs = copy(outputs)
        copies.append((copy, layer))
    wrapped = keras.Model(inputs, outputs, name=f"{model.name}_functional")
    for copy, layer in copies:
        copy.set_weights(layer.get_weights())
    return wrapped


def traced(model, folder: Path, point: str = PRECISION):
    """``model`` converted and compiled at ``point`` with every layer traced: what hls4ml's profiling reads."""
    import hls4ml  # optional: only where the firmware stage runs

    config = hls_config(model, point)
    for layer in config["LayerName"].values():
        layer["Trace"] = True
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model = hls4ml.converters.convert_from_keras_model(
            model, hls_config=config, output_dir=str(folder), backend=BACKEND, io_type=IO_TYPE
        )
        hls_model.compile()
    return hls_model
