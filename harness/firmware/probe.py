"""The firmware probe: a fixed model on fixed inputs whose fixed-point outputs are the same on every machine.

An exercise's firmware record applies only where its float training reproduced bit for bit: on
another CPU or backend it does not, and an hls4ml or compiler upgrade would go unseen there. The
probe closes that gap. It is the exercises' network (16 → 64 → 32 → 32 → 5, ReLU, softmax) with
weights, biases and inputs drawn as integers times a power of two, so every number is exact in
float32 and on the precision point's grid: nothing a machine's float arithmetic does reaches the
firmware. hls4ml builds the C simulation with ``-O3 -fPIC`` (no ``-march``), so its machine code
is the same on every x86-64 CPU for one compiler; what remains of float is the softmax's lookup
tables, filled by ``std::exp`` and quantized to 18 bits. A tenth of the rows are large, so the
probe also passes the types' overflow. Its digest then moves only when hls4ml, the compiler or a
default left to hls4ml changes what the firmware computes.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.experiment import Variant
from harness.firmware.config import PRECISION, bits
from harness.firmware.convert import FirmwareRun, agreement, outputs_digest, simulate
from harness.train.training import build_model

NAME = "probe"
SEED = 20_512
ROWS = 2_000
FEATURES, CLASSES = 16, 5
#: Weights up to this size: the spread of the exercises' trained kernels.
WEIGHT = 0.5
#: Most inputs up to this size (scaled features); the rest span the type's whole range.
INPUT = 2.0
LARGE_SHARE = 0.1


@dataclass(frozen=True)
class Probe:
    """The probe's weights and inputs at one precision point."""

    point: str
    weights: dict[str, tuple[np.ndarray, np.ndarray]]
    X: np.ndarray

    @property
    def digest(self) -> str:
        """sha256 of every weight and input: the key of the probe's record."""
        h = hashlib.sha256(self.point.encode())
        for name, (kernel, bias) in sorted(self.weights.items()):
            h.update(name.encode() + kernel.tobytes() + bias.tobytes())
        h.update(self.X.tobytes())
        return h.hexdigest()


def _grid(rng: np.random.Generator, limit: float, step: float, shape: tuple[int, ...]) -> np.ndarray:
    """Integers times ``step`` in ``[-limit, limit]``: exact in float32 and on the point's grid."""
    n = int(limit / step)
    return (rng.integers(-n, n + 1, size=shape) * step).astype(np.float32)


def draw(point: str = PRECISION) -> Probe:
    """The probe at ``point``: the same numbers on every machine and numpy (integer draws only)."""
    total, integer = bits(point)
    step = 2.0 ** -(total - integer)
    rng = np.random.Generator(np.random.PCG64(SEED))
    sizes = (FEATURES, 64, 32, 32, CLASSES)
    weights = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        kernel = _grid(rng, max(WEIGHT, step), step, (n_in, n_out))
        weights[f"fc{i}"] = (kernel, _grid(rng, max(WEIGHT, step), step, (n_out,)))
    X = _grid(rng, max(INPUT, step), step, (ROWS, FEATURES))
    large = rng.random(ROWS) < LARGE_SHARE
    X[large] = _grid(rng, 2.0 ** (integer - 1) - step, step, (int(large.sum()), FEATURES))
    return Probe(point, weights, X)


def model(probe: Probe):
    """The probe as a Keras model of the exercises' architecture."""
    built = build_model(Variant(), FEATURES, CLASSES, name=NAME)
    for name, (kernel, bias) in probe.weights.items():
        built.get_layer(name).set_weights([kernel, bias])
    return built


def run(folder: Path, point: str = PRECISION) -> tuple[str, FirmwareRun]:
    """``(key, result)``: the probe's record key, and its firmware converted, compiled and run in ``folder``."""
    probe = draw(point)
    keras_model = model(probe)
    fixed, timings, environment = simulate(keras_model, probe.X, folder, point)
    y_float = keras_model.predict(probe.X, batch_size=1024, verbose=0)
    result = FirmwareRun(
        experiment=NAME,
        seed=SEED,
        precision=point,
        agreement=agreement(fixed, y_float),
        digest=outputs_digest(fixed),
        seconds=timings,
        project=str(folder),
        environment=environment,
    )
    return probe.digest, result
