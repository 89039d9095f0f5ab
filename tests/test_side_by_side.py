"""Seeds side by side: K copies of the user's model in one ``model.fit``, each member a lone run given its draws.

What these add to "the batch is ``fit``": a member trained among others must end exactly where
a lone ``model.fit`` of the same model ends when fed the same rows (the same arithmetic, loss
and metrics, with ``fit``'s own shuffling and ``validation_split`` in both); its numbers must
not depend on who shares its ``fit``; and members must be independent draws, which a broken
rule (one permutation kept for every epoch) is shown to fail.

Training code is imported inside the tests: collecting the suite stays free of Keras (``tests/test_layout.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments import registry
from harness.core.backend import active
from harness.core.errors import HarnessError
from harness.data import dataset
from harness.data.prepare import prepare
from harness.experiment import PROFILES, Experiment, Variant
from harness.measure.metrics import LAYERS

pytestmark = pytest.mark.training
EXERCISES = list(registry().values())
SMOKE = PROFILES["smoke"]


@pytest.fixture(scope="module")
def data():
    return dataset.load("surrogate").head(SMOKE.n_jets)


def n_fitted(split) -> int:
    return math.floor(len(split.X_train) * (1 - SMOKE.validation_split))


def fixed_orders(split, k: int, epochs: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``orders[epoch][member]``: every member's π drawn up front, so a lone run can be handed the same."""
    rng = np.random.default_rng(seed)
    return [[rng.permutation(n_fitted(split)) for _ in range(k)] for _ in range(epochs)]


def lone_fit(variant: Variant, split, seed: int, perms: list[np.ndarray]):
    """A lone ``model.fit`` of ``seed``'s member, handed its rows in each epoch's π, shuffled as the batch is."""
    from harness.train import side_by_side
    from harness.train.training import compile_model, seed_everything

    seed_everything(side_by_side.member_seed(seed))
    model = compile_model(variant, split.X_train.shape[1], len(split.classes))
    initial = {layer: np.array(model.get_layer(layer).kernel.numpy()) for layer in LAYERS}
    seed_everything(side_by_side.STREAM)
    history: dict[str, list[float]] = {}
    for epoch, perm in enumerate(perms):
        order = np.concatenate([perm, np.arange(n_fitted(split), len(split.X_train))])
        logs = model.fit(
            split.X_train[order],
            split.y_train[order],
            batch_size=SMOKE.batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            validation_split=SMOKE.validation_split,
            shuffle=True,
            verbose=0,
        ).history
        for key, values in logs.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    kernels = {layer: np.asarray(model.get_layer(layer).kernel.numpy()) for layer in LAYERS}
    return initial, history, kernels, np.asarray(model.predict(split.X_test, batch_size=SMOKE.batch_size, verbose=0))


@pytest.mark.parametrize("experiment", EXERCISES, ids=[e.name for e in EXERCISES])
def test_a_member_is_model_fit_given_its_draws(experiment: Experiment, data):
    from harness.train import side_by_side

    split = prepare(data, scaled=experiment.variant.scaled)
    seeds, member = [3, 11, 12], 1
    orders = fixed_orders(split, len(seeds), SMOKE.epochs)
    run = side_by_side.train_replicas(experiment, split, SMOKE, seeds, orders=orders)[member]
    initial, history, kernels, y_pred = lone_fit(experiment.variant, split, seeds[member], [o[member] for o in orders])
    assert run.seed == 11 and run.steps_per_epoch == math.ceil(n_fitted(split) / SMOKE.batch_size)
    for layer in LAYERS:
        np.testing.assert_array_equal(run.initial_kernels[layer], initial[layer], err_msg=layer)
    assert set(run.history) == set(history)
    # loss: Keras's metric (a mean over rows) against the lone loss tracker (batch means weighed by size);
    # l1's training loss takes its penalty at the epoch's midpoint (harness/train/side_by_side.py says why)
    loss_rtol = 2e-3 if experiment.variant.l1 else 1e-5
    for key in history:
        rtol = loss_rtol if key == "loss" else 1e-5
        np.testing.assert_allclose(run.history[key], history[key], rtol=rtol, err_msg=key)
    for layer in LAYERS:
        np.testing.assert_allclose(run.kernels[layer], kernels[layer], rtol=1e-5, atol=1e-7, err_msg=layer)
    np.testing.assert_allclose(run.y_pred, y_pred, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("experiment", EXERCISES, ids=[e.name for e in EXERCISES])
def test_the_twin_is_the_lone_run_bit_for_bit_and_another_run_is_not(experiment: Experiment, data):
    """What every statistical-tier run checks of its session seed: fit side by side computes what fit alone does."""
    from harness.train import side_by_side
    from harness.train.training import train

    split = prepare(data, scaled=experiment.variant.scaled)
    regularized = bool(experiment.variant.l1)
    twin, *members = side_by_side.train_seeds(experiment, split, SMOKE, [1, 2], twin=5)
    assert [twin.seed, *(m.seed for m in members)] == [5, 1, 2]
    assert side_by_side.twin_differences(twin, train(experiment, split, SMOKE, 5), regularized) == []
    other = side_by_side.twin_differences(twin, train(experiment, split, SMOKE, 6), regularized)
    assert other[0].startswith("fc1's initial weights (largest difference ") and len(other) > 4


def test_a_seeds_numbers_do_not_depend_on_who_shares_its_fit(data, monkeypatch):
    """Nor on the chunk before it: a model that an earlier chunk trained (Adam's moments and step count
    moved) is restarted for the next one, and its seeds train as in a new model."""
    from harness.train import side_by_side
    from harness.train.record import TrainingRun

    monkeypatch.setattr(side_by_side, "_KEPT", side_by_side._Kept())  # no model kept by an earlier test
    experiment = registry()["adam"]
    split = prepare(data)
    alone = side_by_side.train_seeds(experiment, split, SMOKE, [7])[0]

    def same_as_alone(run: TrainingRun) -> None:
        assert run.seed == 7 and run.history == alone.history
        for layer in LAYERS:
            assert run.initial_kernels[layer].tobytes() == alone.initial_kernels[layer].tobytes()
            assert run.kernels[layer].tobytes() == alone.kernels[layer].tobytes()

    for seeds in ([7, 1], [2, 9, 7]):
        same_as_alone(next(r for r in side_by_side.train_seeds(experiment, split, SMOKE, seeds) if r.seed == 7))
    joined, real = [], side_by_side._joined
    monkeypatch.setattr(side_by_side, "_joined", lambda *args: joined.append(args) or real(*args))
    chunked = side_by_side.train_seeds(experiment, split, SMOKE, [1, 2, 9, 7, 5], chunk=2)
    assert [r.seed for r in chunked] == [1, 2, 9, 7, 5]
    if active() == "tensorflow":
        assert joined == [], "each chunk restarts the model an earlier call trained with as many members"
    else:  # JAX's data adapter draws from NumPy's stream in a new model's first fit: no restart there
        assert len(joined) == 3
    same_as_alone(chunked[3])


@pytest.mark.skipif(active() != "tensorflow", reason="only TensorFlow restarts a kept model")
@pytest.mark.parametrize("change", ["a-replaced-train-step", "another-epsilon"])
def test_a_kept_model_is_not_restarted_after_keras_changed(data, monkeypatch, change):
    """A kept model's traced step would run Keras as it was: a replaced function or setting builds anew."""
    from harness.train import side_by_side
    from harness.train.training import keras

    monkeypatch.setattr(side_by_side, "_KEPT", side_by_side._Kept())
    experiment, split = registry()["sgd"], prepare(data)
    side_by_side.train_seeds(experiment, split, SMOKE, [1])
    joined, real = [], side_by_side._joined
    monkeypatch.setattr(side_by_side, "_joined", lambda *args: joined.append(args) or real(*args))
    side_by_side.train_seeds(experiment, split, SMOKE, [2])
    assert joined == [], "nothing changed: the kept model is restarted"
    if change == "a-replaced-train-step":
        step = keras.Model.train_step
        monkeypatch.setattr(keras.Model, "train_step", lambda self, data: step(self, data))
    epsilon = keras.config.epsilon()
    if change == "another-epsilon":
        keras.config.set_epsilon(1e-3)
    try:
        side_by_side.train_seeds(experiment, split, SMOKE, [3])
    finally:
        keras.config.set_epsilon(epsilon)
    assert len(joined) == 1


def shared_epoch_structure(orders: list[list[np.ndarray]]) -> bool:
    """Whether two members' epoch-to-epoch relabelling π₁⁻¹π₂ agrees: then, after ``fit``'s common σ, both
    members' second epochs are the same function of their first, and the members are not independent."""
    relabel = [np.argsort(orders[0][m])[orders[1][m]] for m in range(len(orders[0]))]
    return any(np.array_equal(relabel[0], r) for r in relabel[1:])


def test_members_are_independent_draws(data, monkeypatch):
    """Different seeds start from different Glorot kernels, none of them a lone run's, and draw fresh orders."""
    from harness.train import side_by_side
    from harness.train.training import train

    split = prepare(data)
    handed: list[np.ndarray] = []
    real = side_by_side._handed
    monkeypatch.setattr(side_by_side, "_handed", lambda s, n, perm: (handed.append(perm), real(s, n, perm))[1])
    runs = side_by_side.train_seeds(registry()["sgd"], split, SMOKE, [0, 1])
    orders = [handed[i : i + 2] for i in range(0, len(handed), 2)]
    assert len(orders) == SMOKE.epochs and sorted(orders[0][0]) == list(range(n_fitted(split)))
    assert not shared_epoch_structure(orders)
    fixed = [orders[0]] * SMOKE.epochs  # the broken rule: each member's π kept for every epoch
    assert shared_epoch_structure(fixed)
    lone = train(registry()["sgd"], split, SMOKE, 0)
    assert not np.array_equal(runs[0].initial_kernels["fc1"], lone.initial_kernels["fc1"])
    assert not np.array_equal(runs[0].initial_kernels["fc1"], runs[1].initial_kernels["fc1"])
    for layer in LAYERS:
        fan_in, fan_out = runs[0].initial_kernels[layer].shape
        both = np.stack([r.initial_kernels[layer] for r in runs])
        assert glorot_uniform_pvalue(both, fan_in, fan_out) > 1e-6


def glorot_uniform_pvalue(kernels: np.ndarray, fan_in: int, fan_out: int) -> float:
    """Kolmogorov–Smirnov p-value of ``kernels`` against Glorot's uniform on ±√(6/(fan_in+fan_out)).

    The level, 1e-6, was fixed before looking: the draws are seeded, so a pass is a fixed fact, and a
    uniform of the wrong width (±L/2, ±2L) fails it by far. A normal of the same variance does not, on
    fc4's 320 weights (p = 0.09 measured): that shape is beyond what this check resolves."""
    from scipy import stats

    limit = math.sqrt(6 / (fan_in + fan_out))
    return float(stats.kstest(kernels.ravel(), stats.uniform(-limit, 2 * limit).cdf).pvalue)


def test_the_draw_check_rejects_a_wrong_initializer():
    """The check above, against deliberately broken widths, with fc4's 2 × 160 weights: its smallest sample."""
    rng = np.random.default_rng(0)
    fan_in, fan_out = 32, 5
    limit = math.sqrt(6 / (fan_in + fan_out))
    right = rng.uniform(-limit, limit, (2, fan_in, fan_out))
    assert glorot_uniform_pvalue(right, fan_in, fan_out) > 1e-6
    for broken in (right / 2, right * 2):
        assert glorot_uniform_pvalue(broken, fan_in, fan_out) < 1e-6


def test_one_members_divergence_leaves_the_others_alone(data, monkeypatch):
    """A member that diverges stops there; its neighbour trains on exactly as in any other ``fit``."""
    from harness.train import side_by_side

    split = prepare(data)
    calm = Experiment("calm", Variant())
    real = side_by_side._member

    def exploding(variant, split, seed, index):
        model = real(variant, split, seed, index)
        if seed == 0:  # member 0 starts from a NaN output weight: its loss is NaN from the first batch
            kernel = model.get_layer("fc4").kernel
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))
        return model

    monkeypatch.setattr(side_by_side, "_member", exploding)
    runs = side_by_side.train_seeds(calm, split, SMOKE, [0, 1])
    assert runs[0].diverged_epoch == 1 and len(runs[0].history["loss"]) == 1
    assert runs[1].diverged_epoch is None and len(runs[1].history["loss"]) == SMOKE.epochs
    assert all(math.isfinite(v) for v in runs[1].history["loss"])
    monkeypatch.setattr(side_by_side, "_member", real)
    alone = side_by_side.train_seeds(calm, split, SMOKE, [1, 5])
    np.testing.assert_array_equal(runs[1].kernels["fc1"], alone[0].kernels["fc1"])
    assert runs[1].history == alone[0].history


def test_a_fit_that_trains_fewer_epochs_than_asked_stops_in_one_line(data, monkeypatch):
    """A cap inside ``fit`` (as ``KERAS_MAX_EPOCHS`` would set): the members' per-epoch ``fit`` trains nothing."""
    from harness.train import side_by_side
    from harness.train.training import keras

    real = keras.Model.fit
    monkeypatch.setattr(
        keras.Model, "fit", lambda self, *a, **kw: real(self, *a, **{**kw, "epochs": min(kw["epochs"], 2)})
    )
    with pytest.raises(HarnessError, match=r"model.fit\(epochs=3, initial_epoch=2\) trained no epoch: Keras's fit no"):
        side_by_side.train_seeds(registry()["sgd"], prepare(data), SMOKE, [1, 2])
