"""Stage 4, many seeds at once: K trainings of one exercise in one Keras ``model.fit``.

The statistical tier compares many seeds, so they must come cheap, and they must come from
the path a user's run takes, or a change in that path goes unseen. Here the members are K
copies of the user's own model (:func:`harness.train.training.build_model`: ``Sequential``,
``Dense`` with Keras's Glorot-uniform and zero initializers, the variant's regularizer), each
built right after ``keras.utils.set_random_seed`` as a lone run is, inside one functional
model with K inputs and K outputs. It is compiled as a lone run is (the variant's optimizer,
categorical cross-entropy and accuracy, :data:`~harness.train.training.STEPS_PER_EXECUTION`) and
trained by ``model.fit`` with the notebook's batch size, ``validation_split`` and ``shuffle``:
Keras's data adapter, loss reduction, metrics, dtype policy and epoch averaging all run.
Keras sums the outputs' losses and no output reads another member's weights, so each member's
gradient is exactly its own; every Keras optimizer updates a variable from its own gradient
and state (only ``global_clipnorm``, which no variant sets, would couple them).

Independence. ``fit`` shuffles every input's rows with one permutation σ, which alone would
give all members the same batches. So each epoch, member ``m`` is handed its training rows
already permuted by its own generator (π), the validation rows left at the end where
``validation_split`` takes them: member ``m`` sees π∘σ, uniform and independent of every
other member and of its own other epochs, whatever σ is; σ is seeded alike in every ``fit``
of K members, so a seed's numbers do not depend on which others share its chunk. A
permutation fixed for all epochs would not do: π∘σ₁ and π∘σ₂ would share σ₁⁻¹σ₂ across members.
It costs one ``fit`` call per epoch (``initial_epoch``); the compiled train step is reused, and so is
the whole joined model by any later chunk of its shape in the process, on TensorFlow (:class:`_Replicas`,
:class:`_Kept`): tracing Keras's train step costs more than the smoke profile's training, and a quarter
of a quick-profile chunk's.

A member's initial weights come from ``set_random_seed`` of a number mixed from
:data:`STREAM` and its seed, so no member shares its start with the lone run of any seed:
the session seed's own ``model.fit`` run is then an independent draw of the same process
(:mod:`harness.session` counts it). A ``twin`` is the exception: that lone run over again, from its
own draws, trained beside the members so that every statistical-tier run checks, bit for bit,
that ``fit`` side by side still computes what ``fit`` alone does (:func:`twin_differences`).

What a member logs is what Keras logs for its output
(:func:`_member_logs`), plus its own regularization penalty (the total ``loss`` holds all): exact for
``val_loss`` (evaluated at the epoch's end weights, as alone); for the training ``loss`` the
mean of the penalty at the epoch's start and end stands in for its mean over the epoch's
batches. Only a regularized variant (``l1``) has one: at its 60th epoch the penalty moves by
7e-4, so the end alone would be off by 0.026 of the seeds' spread; the midpoint by far less.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from harness.core import backend
from harness.core.errors import HarnessError
from harness.data.prepare import Split
from harness.experiment import Experiment, Profile, Variant
from harness.experiment.vocabulary import LAYERS
from harness.train.training import (
    STEPS_PER_EXECUTION,
    EpochCallback,
    TrainingRun,
    biases_of,
    build_model,
    build_optimizer,
    keras,  # as harness.train.training imported it: after the backend was chosen
    kernels_of,
    seed_everything,
)

#: Mixed into every member's seeds, so a member never starts where the lone run of some seed starts.
STREAM = 0x5EED5
#: Members per ``fit``. Batching buys amortised per-step overhead, not arithmetic, and a larger step
#: costs more to compile: on JAX a seed cost 1.7× as much at K = 40 as at K = 10 (docs/measurements.md).
DEFAULT_CHUNK = 10
#: What :data:`harness.judge.baseline.Baseline.trainer` says of seeds trained here, whatever the variant and backend.
TRAINER = "keras-replicas"


def member_seed(seed: int) -> int:
    """The number ``set_random_seed`` gets for member ``seed``: a 31-bit mix of :data:`STREAM` and ``seed``."""
    return int(np.random.SeedSequence([STREAM, int(seed)]).generate_state(1)[0] >> 1)


def train_seeds(
    experiment: Experiment,
    split: Split,
    profile: Profile,
    seeds: Sequence[int],
    on_epoch: EpochCallback | None = None,
    chunk: int = DEFAULT_CHUNK,
    twin: int | None = None,
) -> list[TrainingRun]:
    """Train ``experiment`` once per seed, ``chunk`` members per ``model.fit``; one run per seed, in order.

    ``twin``: a seed whose lone run (:func:`harness.train.training.train`) the first ``fit`` trains too, from that
    run's own draws; its run comes first, and :func:`twin_differences` holds it to the lone run.
    """
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    if not seeds and twin is None:
        return []
    runs: list[TrainingRun] = []
    # On JAX a restarted model's first fit draws one permutation fewer (a new model's symbolic build draws
    # one from NumPy's global stream), so its seeds part from a new model's: there each chunk builds anew.
    built = _KEPT if backend.active() == "tensorflow" else None
    for start in range(0, max(len(seeds), 1), chunk):
        group = [int(s) for s in seeds[start : start + chunk]]
        runs += train_replicas(
            experiment, split, profile, group, on_epoch, twin=twin if start == 0 else None, built=built
        )
    return runs


def train_replicas(
    experiment: Experiment,
    split: Split,
    profile: Profile,
    seeds: Sequence[int],
    on_epoch: EpochCallback | None = None,
    orders: Sequence[Sequence[np.ndarray]] | None = None,
    twin: int | None = None,
    built: _Kept | None = None,
) -> list[TrainingRun]:
    """One ``model.fit`` per epoch of ``len(seeds)`` members; ``orders[epoch][member]`` overrides their π.

    With a ``twin`` seed, member 0 is that seed's lone run over again: initialised as
    :func:`harness.train.training.train` initialises it, handed its rows in ``fit``'s own order, and the
    ``fit`` shuffled as that run's is. Its run comes first. ``built``: joined models of earlier chunks
    (:class:`_Kept`), restarted from these members' draws instead of built again.
    """
    n_rows = math.floor(len(split.X_train) * (1.0 - profile.validation_split))  # where validation_split cuts
    members = [_member(experiment.variant, split, seed, i) for i, seed in enumerate(seeds, start=twin is not None)]
    rngs: list[np.random.Generator | None] = [np.random.default_rng([STREAM, seed]) for seed in seeds]
    if twin is not None:
        seed_everything(twin)
        members.insert(0, build_model(experiment.variant, split.X_train.shape[1], len(split.classes), "member0"))
        rngs.insert(0, None)  # rows in fit's own order
        seeds = [twin, *seeds]
    kept = built.get(experiment.variant, split, len(members)) if built is not None else None
    if kept is not None:
        model, members = kept.restart(members)
    else:
        model = _joined(experiment.variant, split, members)
        if built is not None:
            built.put(experiment.variant, split, _Replicas(model, members))
    initial, initial_biases = [kernels_of(m) for m in members], [biases_of(m) for m in members]
    # fit's own shuffle σ: seeded alike in every chunk, so no seed's numbers depend on its chunk; with a twin,
    # seeded as the twin's lone run seeds it (the members' π keep them independent of any σ)
    seed_everything(STREAM if twin is None else twin)
    history: list[dict[str, list[float]]] = [{} for _ in seeds]
    penalties = [_penalty(m) for m in members]
    diverged: list[int | None] = [None] * len(seeds)
    frozen: dict[int, list[np.ndarray]] = {}
    steps = _Steps()
    start = time.perf_counter()
    for epoch in range(profile.epochs):
        if orders is not None:
            perms = orders[epoch]
        else:
            perms = [np.arange(n_rows) if rng is None else rng.permutation(n_rows) for rng in rngs]
        xs, ys = zip(*(_handed(split, n_rows, perm) for perm in perms), strict=True)
        logs = model.fit(
            list(xs),
            list(ys),
            batch_size=profile.batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            validation_split=profile.validation_split,
            shuffle=True,
            verbose=0,
            callbacks=[steps],
        ).history
        if not logs:
            raise HarnessError(
                f"model.fit(epochs={epoch + 1}, initial_epoch={epoch}) trained no epoch: Keras's fit no longer trains"
                f" the epochs it is asked for ({experiment.name}, epoch {epoch + 1} of {profile.epochs})"
            )
        for i, member in enumerate(members):
            if diverged[i] is not None:
                continue
            now = _penalty(member)
            for key, value in _member_logs(logs, member.name, len(members), (penalties[i] + now) / 2, now).items():
                history[i].setdefault(key, []).append(value)
            penalties[i] = now
            if not math.isfinite(history[i]["loss"][-1]):
                diverged[i] = epoch + 1
                frozen[i] = member.get_weights()
        if on_epoch:
            on_epoch(f"{experiment.name} ×{len(seeds)}", epoch + 1, profile.epochs, _median(history, diverged))
        if all(d is not None for d in diverged):
            break
    seconds = (time.perf_counter() - start) / len(seeds)
    for i, weights in frozen.items():
        members[i].set_weights(weights)
    predicted = model.predict([split.X_test] * len(members), batch_size=profile.batch_size, verbose=0)
    predicted = predicted if isinstance(predicted, list | tuple) else [predicted]
    return [
        TrainingRun(
            experiment=experiment.name,
            seed=seed,
            history=history[i],
            initial_kernels=initial[i],
            kernels=kernels_of(members[i]),
            biases=biases_of(members[i]),
            initial_biases=initial_biases[i],
            y_test=split.y_test,
            y_pred=np.asarray(predicted[i]),
            classes=split.classes,
            diverged_epoch=diverged[i],
            train_seconds=seconds,
            steps_per_epoch=steps.steps,
        )
        for i, seed in enumerate(seeds)
    ]


def twin_differences(twin: TrainingRun, lone: TrainingRun, regularized: bool) -> list[str]:
    """Where the twin (trained side by side from the lone run's own draws) and the lone ``model.fit`` run part.

    Weights, predictions and accuracies must be equal bit for bit (measured so on TensorFlow, JAX and
    PyTorch). A member's losses are another reduction of the same numbers (Keras's cross-entropy metric, a
    mean over rows, where the lone run's loss tracker weighs batch means): 1 ulp apart at seed 977
    (5.96e-8), so they are held to 1e-5. A regularized member's training loss adds its penalty's
    midpoint over the epoch (:func:`_member_logs`) and is not compared.
    """
    found = []
    for layer in LAYERS:
        for what, a, b in (
            ("initial", twin.initial_kernels, lone.initial_kernels),
            ("final", twin.kernels, lone.kernels),
        ):
            if not np.array_equal(a[layer], b[layer], equal_nan=True):
                found.append(f"{layer}'s {what} weights (largest difference {_largest(a[layer], b[layer])})")
    if not np.array_equal(twin.y_pred, lone.y_pred, equal_nan=True):
        found.append(f"the test predictions (largest difference {_largest(twin.y_pred, lone.y_pred)})")
    for key in ("accuracy", "val_accuracy", "loss", "val_loss"):
        a, b = np.asarray(twin.history.get(key, [])), np.asarray(lone.history.get(key, []))
        if a.shape != b.shape:
            found.append(f"{key}: {len(a)} epochs against {len(b)}")
        elif key in ("accuracy", "val_accuracy"):
            if not np.array_equal(a, b, equal_nan=True):
                found.append(f"the {key} curve (largest difference {_largest(a, b)})")
        elif (key == "val_loss" or not regularized) and not np.allclose(a, b, rtol=1e-5, equal_nan=True):
            found.append(f"the {key} curve (largest difference {_largest(a, b)})")
    return found


def _largest(a: np.ndarray, b: np.ndarray) -> str:
    with np.errstate(invalid="ignore"):
        d = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return f"{np.nanmax(d):.3g}" if np.any(np.isfinite(d)) else "non-finite"


def _member(variant: Variant, split: Split, seed: int, index: int) -> keras.Model:
    """The user's model for member ``seed``, initialised as a lone run of :func:`member_seed` would be."""
    seed_everything(member_seed(seed))
    return build_model(variant, split.X_train.shape[1], len(split.classes), name=f"member{index}")


def _joined(variant: Variant, split: Split, members: Sequence[keras.Model]) -> keras.Model:
    """The members side by side, compiled as :func:`harness.train.training.compile_model` compiles one."""
    inputs = [keras.Input(shape=(split.X_train.shape[1],), name=f"x{i}") for i in range(len(members))]
    model = keras.Model(inputs, [m(x) for m, x in zip(members, inputs, strict=True)], name="replicas")
    model.compile(
        optimizer=build_optimizer(variant),
        loss=["categorical_crossentropy"] * len(members),
        metrics=[["accuracy", keras.metrics.CategoricalCrossentropy(name="ce")] for _ in members],
        steps_per_execution=backend.steps_per_execution(STEPS_PER_EXECUTION),
    )
    return model


class _Replicas:
    """A joined model that the next chunk of as many members restarts rather than builds.

    Restarting gives each member the weights its own fresh build drew (the user's ``Sequential``, seeded as a
    lone run) and the optimizer the state it had before the first step, so a chunk trains bit for bit as
    in a new model (``test_a_seeds_numbers_do_not_depend_on_who_shares_its_fit``) while Keras's traced train,
    test and predict functions are kept.
    """

    def __init__(self, model: keras.Model, members: Sequence[keras.Model]) -> None:
        self.model = model
        model.optimizer.build(model.trainable_variables)  # what fit's first call would do, done now to save its start
        self._optimizer_start = [np.array(keras.ops.convert_to_numpy(v)) for v in model.optimizer.variables]
        self.members = list(members)

    def restart(self, fresh: Sequence[keras.Model]) -> tuple[keras.Model, list[keras.Model]]:
        """The model with ``fresh``'s weights and the optimizer's start; its members, in ``fresh``'s order."""
        for member, drawn in zip(self.members, fresh, strict=True):
            member.set_weights(drawn.get_weights())
        for variable, start in zip(self.model.optimizer.variables, self._optimizer_start, strict=True):
            variable.assign(start)
        self.model.stop_training = False
        return self.model, self.members


class _Kept:
    """The process's joined models, by everything their build and compile read, the most recent few.

    A later ``train_seeds`` call (the next session in one process, a baseline update after the fresh
    seeds) restarts a model of its shape rather than tracing Keras's functions again: on the smoke
    profile that trace is most of a call. The key holds the variant and shapes, Keras's global dtype
    policy, float type and epsilon, and the Keras functions a traced step runs, so a setting changed or
    a function replaced between calls (a test's patch) builds anew instead of reusing a stale trace.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._models: dict[tuple, _Replicas] = {}

    def get(self, variant: Variant, split: Split, members: int) -> _Replicas | None:
        key = self._key(variant, split, members)
        kept = self._models.pop(key, None)
        if kept is not None:
            self._models[key] = kept  # most recently used last
        return kept

    def put(self, variant: Variant, split: Split, replicas: _Replicas) -> None:
        self._models[self._key(variant, split, len(replicas.members))] = replicas
        while len(self._models) > self.size:
            del self._models[next(iter(self._models))]

    @staticmethod
    def _key(variant: Variant, split: Split, members: int) -> tuple:
        functions = (
            keras.Model.compile,
            keras.Model.fit,
            keras.Model.train_step,
            keras.Model.test_step,
            keras.Model.predict_step,
            keras.Model.compute_loss,
            keras.layers.Dense.call,
            keras.losses.categorical_crossentropy,
            keras.metrics.categorical_accuracy,
            keras.activations.get(variant.activation),
            keras.activations.softmax,
            keras.regularizers.L1.__call__,
            type(build_optimizer(variant)).update_step,
        )
        settings = (keras.config.dtype_policy().name, keras.config.floatx(), keras.config.epsilon())
        # the functions themselves, not their ids: the key keeps them alive, so no later function takes an id
        return (variant, split.X_train.shape[1], len(split.classes), members, settings, functions)


#: TensorFlow's joined models, kept between ``train_seeds`` calls of this process.
_KEPT = _Kept()


def _handed(split: Split, n_rows: int, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What one member is given to ``fit``: its training rows in order ``perm``, then the validation rows."""
    order = np.concatenate([np.asarray(perm), np.arange(n_rows, len(split.X_train))])
    return split.X_train[order], split.y_train[order]


def _member_logs(logs: dict[str, list[float]], name: str, k: int, during: float, after: float) -> dict[str, float]:
    """One member's epoch as a lone ``fit`` logs it: its cross-entropy plus its own penalty (``during`` the
    epoch for the training loss, ``after`` it for the validation loss), and its accuracy.

    The cross-entropy is Keras's ``CategoricalCrossentropy`` metric of the member's output: a mean over
    every row, as a lone run's loss tracker weighs its batches. Keras's per-output loss is not: on
    TensorFlow it weighs a partial last batch as a full one (its weight is a static shape, unknown there).
    """
    prefix = "" if k == 1 else f"{name}_"  # one output: Keras logs its metrics unprefixed
    return {
        "loss": float(logs[f"{prefix}ce"][-1]) + during,
        "accuracy": float(logs[f"{prefix}accuracy"][-1]),
        "val_loss": float(logs[f"val_{prefix}ce"][-1]) + after,
        "val_accuracy": float(logs[f"val_{prefix}accuracy"][-1]),
    }


def _penalty(member: keras.Model) -> float:
    """The member's regularization loss at its current weights (0 without a regularizer)."""
    return float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in member.losses))


def _median(history: list[dict[str, list[float]]], diverged: list[int | None]) -> dict[str, float]:
    """Progress shows the median over the members still training."""
    alive = [h for h, d in zip(history, diverged, strict=True) if d is None and h] or [h for h in history if h]
    keys = alive[0].keys() if alive else ()
    return {key: float(np.median([h[key][-1] for h in alive])) for key in keys}


class _Steps(keras.callbacks.Callback):
    """The optimizer steps ``fit`` ran per epoch, as a lone run's callback sees them."""

    steps: int | None = None

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.steps = self.params.get("steps")
