"""Stage 4, many seeds at once: K trainings of one exercise as one stacked computation.

The notebook's MLP has 4,256 weights; one ``model.fit`` leaves two CPU cores mostly idle,
paying per-step overhead. Here K members are K independent trainings of that model, each
with its own Glorot-uniform initialisation, its own shuffled batch order every epoch and its
own divergence, computed together: every layer is one batched matmul over a ``(K, in, out)``
kernel, the loss is the sum of the members' losses (so each member's gradient is exactly its
own), and the variant's Keras optimizer and regularizer act per weight, as they do alone.

What each member reproduces of ``model.fit``: ``validation_split`` takes the last share of
the training arrays, unshuffled; each epoch visits the rest in a fresh uniform permutation in
batches of ``batch_size`` (the last one partial); the epoch's ``loss`` and ``accuracy`` are
the sample-weighted means over its batches, regularization included; ``val_loss`` and
``val_accuracy`` are measured on the validation rows after the epoch; a member whose epoch
loss is not finite stops there (its history and weights are those of that epoch's end).

It is a different random stream from ``model.fit``'s: member ``seed`` is not the lone run of
``seed``, but a draw from the same distribution (README, "Seeds side by side", measures that
over 40 seeds per exercise). Only the TensorFlow backend, and only optimizers that update each
weight from its own gradient (:data:`ELEMENTWISE`), are stacked; elsewhere :func:`train_seeds`
trains one seed at a time through :func:`harness.training.train`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .backend import active
from .experiment import Experiment, Profile, Variant
from .metrics import LAYERS
from .prepare import Split
from .training import EpochCallback, TrainingRun, build_optimizer, seed_everything, train

#: Mixed into every member's random stream, so side-by-side draws never coincide with another use of the seed.
STREAM = 0x5EED5
#: Members per stacked computation: beyond this a stack's batched matmuls stop getting cheaper per member.
DEFAULT_CHUNK = 40

#: ``(epoch index, K, n_rows) -> (K, n_rows)`` row order of every member for that epoch.
Orders = Callable[[int, int, int], np.ndarray]


@dataclass(frozen=True)
class Draws:
    """What the seeds decide: each member's initial kernels and its batch order every epoch."""

    kernels: dict[str, np.ndarray]  # layer -> (K, in, out) float32
    orders: Orders


#: Keras optimizers whose update of a weight reads that weight's gradient and state alone, so a stacked
#: ``(K, in, out)`` variable updates each member exactly as it would alone. Others are not stacked: LAMB's
#: trust ratio and Adafactor's factored second moment take norms over the whole variable, and Muon treats
#: a 3-D variable differently from a 2-D one.
ELEMENTWISE = frozenset({"sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "ftrl", "lion"})


#: Backends the stacked computation is written for (TensorFlow ops: ``tf.function``, ``tf.GradientTape``).
STACKED_BACKENDS = ("tensorflow",)


def stackable(variant: Variant) -> bool:
    """Whether ``variant`` trains side by side here (else :func:`train_seeds` trains one ``model.fit`` per seed)."""

    return active() in STACKED_BACKENDS and variant.optimizer.lower() in ELEMENTWISE


def trainer(variant: Variant) -> str:
    """How :func:`train_seeds` trains ``variant`` here, as baselines record it: side by side or ``model.fit``."""
    return "side-by-side" if stackable(variant) else "model.fit"


def widths(n_features: int, n_classes: int) -> list[tuple[int, int]]:
    """``(fan_in, fan_out)`` of fc1 … fc4, the notebook's 16 → 64 → 32 → 32 → 5."""
    return list(itertools.pairwise([n_features, 64, 32, 32, n_classes]))


def draws(seeds: Sequence[int], n_features: int, n_classes: int) -> Draws:
    """Each seed's own generator: Glorot-uniform kernels (±√(6/(fan_in+fan_out))), then one permutation per epoch."""
    rngs = [np.random.default_rng([STREAM, int(seed)]) for seed in seeds]
    kernels: dict[str, list[np.ndarray]] = {layer: [] for layer in LAYERS}
    for rng in rngs:
        for layer, (fan_in, fan_out) in zip(LAYERS, widths(n_features, n_classes), strict=True):
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            kernels[layer].append(rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32))

    def orders(epoch: int, k: int, n_rows: int) -> np.ndarray:
        return np.stack([rng.permutation(n_rows) for rng in rngs]).astype(np.int32)

    return Draws({layer: np.stack(ks) for layer, ks in kernels.items()}, orders)


def train_seeds(
    experiment: Experiment,
    split: Split,
    profile: Profile,
    seeds: Sequence[int],
    on_epoch: EpochCallback | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> list[TrainingRun]:
    """Train ``experiment`` once per seed: side by side in stacks of ``chunk``, or alone where the backend cannot."""
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    if not stackable(experiment.variant):
        return [train(experiment, split, profile, seed, on_epoch) for seed in seeds]
    runs: list[TrainingRun] = []
    for start in range(0, len(seeds), chunk):
        group = list(seeds[start : start + chunk])
        # A stack of one takes another matmul kernel than a stack of two or more (the numbers
        # differ in the last bits, then chaotically): a twin keeps every seed's numbers the same
        # whichever stack it is trained in.
        twin = [int(group[0]) + 2**32] if len(group) == 1 else []
        drawn = draws(group + twin, split.X_train.shape[1], len(split.classes))
        runs += train_stack(experiment, split, profile, group + twin, drawn, on_epoch)[: len(group)]
    return runs


def train_stack(
    experiment: Experiment,
    split: Split,
    profile: Profile,
    seeds: Sequence[int],
    drawn: Draws,
    on_epoch: EpochCallback | None = None,
) -> list[TrainingRun]:
    """Train ``len(seeds)`` members from the given initial kernels and batch orders; one run each."""
    seed_everything(int(seeds[0]))
    n_rows = math.floor(len(split.X_train) * (1.0 - profile.validation_split))
    stack = _Stack(experiment.variant, drawn.kernels, split, n_rows, profile.batch_size)
    k = len(seeds)
    history: dict[str, list[list[float]]] = {key: [] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    diverged: list[int | None] = [None] * k
    frozen: dict[int, list[np.ndarray]] = {}
    start = time.perf_counter()
    for epoch in range(profile.epochs):
        logs = stack.epoch(drawn.orders(epoch, k, n_rows))
        for key, values in logs.items():
            history[key].append(values)
        for member in range(k):
            if diverged[member] is None and not math.isfinite(logs["loss"][member]):
                diverged[member] = epoch + 1
                frozen[member] = stack.member_state(member)
        if on_epoch:
            on_epoch(f"{experiment.name} ×{k}", epoch + 1, profile.epochs, _median_logs(logs, diverged))
        if all(d is not None for d in diverged):
            break
    seconds = (time.perf_counter() - start) / k
    for member, state in frozen.items():
        stack.restore_member(member, state)
    y_pred = stack.predict(split.X_test)
    kernels = stack.kernels()
    runs = []
    for member, seed in enumerate(seeds):
        epochs = diverged[member] or len(history["loss"])
        runs.append(
            TrainingRun(
                experiment=experiment.name,
                seed=int(seed),
                history={key: [float(v[member]) for v in values[:epochs]] for key, values in history.items()},
                initial_kernels={layer: drawn.kernels[layer][member].copy() for layer in LAYERS},
                kernels={layer: kernels[layer][member].copy() for layer in LAYERS},
                y_test=split.y_test,
                y_pred=y_pred[member],
                classes=split.classes,
                diverged_epoch=diverged[member],
                train_seconds=seconds,
                steps_per_epoch=math.ceil(n_rows / profile.batch_size),
            )
        )
    return runs


def _median_logs(logs: dict[str, list[float]], diverged: list[int | None]) -> dict[str, float]:
    """Progress shows the median over the members still training."""
    alive = [i for i, d in enumerate(diverged) if d is None] or list(range(len(diverged)))
    return {key: float(np.median([values[i] for i in alive])) for key, values in logs.items()}


class _Stack:
    """K copies of the notebook's MLP as stacked variables, trained by one compiled TensorFlow loop."""

    def __init__(self, variant: Variant, kernels: dict[str, np.ndarray], split: Split, n_rows: int, batch: int) -> None:
        import keras
        import tensorflow as tf

        self.k = next(iter(kernels.values())).shape[0]
        self.batch = batch
        self.kernel_vars = [keras.Variable(kernels[layer], name=f"{layer}_kernel") for layer in LAYERS]
        self.bias_vars = [
            keras.Variable(np.zeros((self.k, 1, kernels[layer].shape[2]), np.float32), name=f"{layer}_bias")
            for layer in LAYERS
        ]
        self.variables = [v for pair in zip(self.kernel_vars, self.bias_vars, strict=True) for v in pair]
        self.activation = keras.activations.get(variant.activation)
        self.regularizer = keras.regularizers.L1(variant.l1) if variant.l1 else None
        self.loss = keras.losses.get("categorical_crossentropy")
        self.optimizer = build_optimizer(variant)
        self.optimizer.build(self.variables)
        self.X = tf.constant(split.X_train[:n_rows])
        self.Y = tf.constant(split.y_train[:n_rows])
        self.X_val = tf.constant(split.X_train[n_rows:])
        self.Y_val = tf.constant(split.y_train[n_rows:])
        self._steps = tf.function(self._train_steps)
        self._evaluate = tf.function(self._evaluate_batch)
        self._forward = tf.function(self._predict_batch)

    # -- the model ---------------------------------------------------------------------------
    def _outputs(self, x):
        import keras

        h = x
        for i, (kernel, bias) in enumerate(zip(self.kernel_vars, self.bias_vars, strict=True)):
            h = keras.ops.add(keras.ops.matmul(h, kernel), bias)
            h = self.activation(h) if i < len(LAYERS) - 1 else keras.activations.softmax(h)
        return h

    def _penalty(self):
        """Each member's regularization loss, ``(K,)``: what Keras adds to that member's loss."""
        import keras

        if self.regularizer is None:
            return keras.ops.zeros((self.k,))
        kernel = self.kernel_vars[0]
        return keras.ops.stack([self.regularizer(kernel[m]) for m in range(self.k)])

    def _member_terms(self, x, y):
        """Per member: mean cross-entropy over the batch, and the number of correct predictions."""
        import keras

        p = self._outputs(x)
        y = keras.ops.broadcast_to(y, keras.ops.shape(p))
        ce = keras.ops.mean(self.loss(y, p), axis=1)
        hits = keras.ops.sum(
            keras.ops.cast(keras.ops.argmax(p, axis=-1) == keras.ops.argmax(y, axis=-1), "float32"), axis=1
        )
        return ce, hits

    # -- training ----------------------------------------------------------------------------
    def _train_steps(self, index):
        """One optimizer step per ``index[s]`` (``(K, B)`` rows of each member); sums for the epoch means."""
        import tensorflow as tf

        loss_sum = tf.zeros((self.k,))
        hit_sum = tf.zeros((self.k,))
        for s in tf.range(tf.shape(index)[0]):
            rows = index[s]
            x = tf.gather(self.X, rows)
            y = tf.gather(self.Y, rows)
            with tf.GradientTape() as tape:
                ce, hits = self._member_terms(x, y)
                losses = ce + self._penalty()
                total = tf.reduce_sum(losses)
            grads = tape.gradient(total, self.variables)
            self.optimizer.apply_gradients(zip(grads, self.variables, strict=True))
            size = tf.cast(tf.shape(rows)[1], tf.float32)
            loss_sum += losses * size
            hit_sum += hits
        return loss_sum, hit_sum

    def epoch(self, order: np.ndarray) -> dict[str, list[float]]:
        """Train one epoch over ``order`` (``(K, n_rows)``), then validate; per-member logs."""
        n_rows = order.shape[1]
        full = n_rows // self.batch * self.batch
        loss_sum = np.zeros(self.k)
        hit_sum = np.zeros(self.k)
        if full:
            index = order[:, :full].reshape(self.k, -1, self.batch).transpose(1, 0, 2)
            ls, hs = self._steps(np.ascontiguousarray(index))
            loss_sum += ls.numpy()
            hit_sum += hs.numpy()
        if full < n_rows:
            ls, hs = self._steps(np.ascontiguousarray(order[None, :, full:]))
            loss_sum += ls.numpy()
            hit_sum += hs.numpy()
        val_loss, val_accuracy = self._validate()
        return {
            "loss": list(loss_sum / n_rows),
            "accuracy": list(hit_sum / n_rows),
            "val_loss": list(val_loss),
            "val_accuracy": list(val_accuracy),
        }

    # -- evaluation --------------------------------------------------------------------------
    def _evaluate_batch(self, x, y):
        ce, hits = self._member_terms(x[None], y[None])
        return ce + self._penalty(), hits

    def _validate(self) -> tuple[np.ndarray, np.ndarray]:
        n = int(self.X_val.shape[0])
        loss_sum = np.zeros(self.k)
        hit_sum = np.zeros(self.k)
        for start in range(0, n, self.batch):
            x, y = self.X_val[start : start + self.batch], self.Y_val[start : start + self.batch]
            losses, hits = self._evaluate(x, y)
            loss_sum += losses.numpy() * int(x.shape[0])
            hit_sum += hits.numpy()
        return loss_sum / max(n, 1), hit_sum / max(n, 1)

    def _predict_batch(self, x):
        return self._outputs(x[None])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(K, n, classes)`` softmax outputs of every member."""
        parts = [self._forward(X[i : i + self.batch]).numpy() for i in range(0, len(X), self.batch)]
        return np.concatenate(parts, axis=1) if parts else np.zeros((self.k, 0, 0), np.float32)

    # -- members -----------------------------------------------------------------------------
    def kernels(self) -> dict[str, np.ndarray]:
        return {layer: np.array(v.numpy()) for layer, v in zip(LAYERS, self.kernel_vars, strict=True)}

    def member_state(self, member: int) -> list[np.ndarray]:
        return [np.array(v.numpy()[member]) for v in self.variables]

    def restore_member(self, member: int, state: list[np.ndarray]) -> None:
        for variable, value in zip(self.variables, state, strict=True):
            full = variable.numpy()
            full[member] = value
            variable.assign(full)
