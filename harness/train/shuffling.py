"""What the members skip: ``fit``'s own shuffling, asked of ``fit`` itself on a probe.

The members of :mod:`harness.train.side_by_side` are handed their rows already permuted by their own
generators, so what they learn does not depend on how ``fit`` orders rows. The session seed's lone run
(one draw of ten) and the exact tier do. A Keras change there (``shuffle`` ignored, rows shuffled only
batch-wise, one order for every epoch) would change what users get and barely what the statistical
tier compares, so every statistical-tier run also asks ``fit``: a model that outputs each row's index,
fitted with the harness's ``shuffle=True`` and ``validation_split``, and Keras's running mean of the
outputs, read after every batch, gives each batch's sum of indices. Shuffled rows give batch sums
that are not those of contiguous blocks and, all together, exactly the rows ``validation_split``
leaves for training.

Whether ``fit`` draws another order each epoch depends on the backend, so it is recorded per
backend as measured (:data:`REORDERS`), and a change is a note (:func:`habit_note`). With the
harness's seeding, TensorFlow's ``fit`` fits one order every epoch: a seeded random op in a
``tf.data`` pipeline starts again with each epoch's iterator (an unseeded notebook run draws anew
each epoch). JAX's draws each epoch from NumPy's global stream, PyTorch's from its ``RandomSampler``'s
generator. The members draw their own order
every epoch on every backend (:mod:`harness.train.side_by_side`).

It costs about a second: a one-weight model, three epochs of 12 batches.
"""

from __future__ import annotations

import math

import numpy as np

from harness.core import backend
from harness.train.training import keras, seed_everything

ROWS = 128
#: Divides the 96 training rows: every batch is full.
BATCH = 8
EPOCHS = 3
VALIDATION_SPLIT = 0.25
#: Seeds ``fit``'s shuffle: the probe asks the same question every run.
SEED = 20261206
#: Whether a seeded ``fit`` fits the rows in another order each epoch, per backend, as measured (Keras 3.15.1,
#: TensorFlow 2.21.0, JAX 0.10.2, PyTorch 2.13.0 on its CPU wheel).
REORDERS = {"tensorflow": False, "jax": True, "torch": True}


class _Sums(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[list[float]] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs.append([])

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        mean = float(np.asarray((logs or {})["index"]))  # the epoch's mean row index so far, every batch full
        self.epochs[-1].append(round(mean * BATCH * (batch + 1) - sum(self.epochs[-1])))


def batch_sums() -> list[list[float]]:
    """Per epoch, the sums of the row indices in each batch ``fit`` trained on, in order."""
    seed_everything(SEED)
    rows = np.arange(ROWS, dtype=np.float32)[:, None]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    # learning rate 0: the kernel stays 1, so every output is its row's index, exactly
    index = keras.metrics.MeanMetricWrapper(lambda y_true, y_pred: y_pred[:, 0], name="index")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse", metrics=[index])
    sums = _Sums()
    model.fit(
        rows,
        np.zeros_like(rows),
        batch_size=BATCH,
        epochs=EPOCHS,
        validation_split=VALIDATION_SPLIT,
        shuffle=True,
        verbose=0,
        callbacks=[sums],
    )
    return sums.epochs


def problems(epochs: list[list[float]] | None = None) -> list[str]:
    """How ``fit`` no longer shuffles the training rows within each epoch (none: it does)."""
    epochs = batch_sums() if epochs is None else epochs
    n_train = math.floor(ROWS * (1 - VALIDATION_SPLIT))
    blocks = sorted(float(sum(range(i, min(i + BATCH, n_train)))) for i in range(0, n_train, BATCH))
    found = []
    for epoch, sums in enumerate(epochs, start=1):
        if len(sums) != n_train // BATCH:  # the sums assume full batches of BATCH rows
            found.append(f"epoch {epoch} fitted {len(sums)} batches, not {n_train // BATCH} of {BATCH} rows")
        elif sum(sums) != sum(range(n_train)):
            found.append(
                f"epoch {epoch} trained on other rows than validation_split={VALIDATION_SPLIT} leaves"
                f" (row indices summing to {sum(sums):g}, not {sum(range(n_train))})"
            )
        elif sorted(sums) == blocks:
            found.append(f"epoch {epoch} fitted contiguous blocks of rows: not shuffled, or shuffled batch-wise only")
    return [f"model.fit(shuffle=True) no longer shuffles as it did: {what}" for what in found]


def habit_note(epochs: list[list[float]]) -> str | None:
    """Where a seeded ``fit`` now orders epochs otherwise than :data:`REORDERS` recorded: a note, not a failure.

    Either habit is a shuffle; a release that changes it changes the session seed's own draw and not the
    members', and no baseline could accept it, so it is said rather than failed.
    """
    backend_name = backend.active()
    reorders = any(sums != epochs[0] for sums in epochs[1:])
    if backend_name not in REORDERS or len(epochs) < 2 or reorders == REORDERS[backend_name]:
        return None
    orders = {True: "another order each epoch", False: "one order every epoch"}
    return (
        f"a seeded model.fit on {backend_name} used to fit {orders[REORDERS[backend_name]]}, now {orders[reorders]}:"
        " the session seed's own run trains otherwise than when the baselines were recorded (docs/seeds.md)"
    )
