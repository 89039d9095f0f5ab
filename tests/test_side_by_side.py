"""Seeds side by side: each member is the notebook's training, alone, given its draws.

The stacked trainer never calls ``model.fit``, so these tests hold it to ``model.fit``: one
member, given the initial kernels and batch order that ``model.fit`` is then fed, must end
with the same weights and history to float tolerance (batched and lone matmuls round
differently); and a member's numbers must not depend on which stack it was trained in.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments import registry
from harness import dataset, side_by_side
from harness.experiment import PROFILES, Experiment, Variant
from harness.metrics import LAYERS
from harness.prepare import prepare
from harness.training import compile_model, seed_everything

pytestmark = pytest.mark.training
EXERCISES = list(registry().values())
SMOKE = PROFILES["smoke"]
#: The stacked computation is TensorFlow code; elsewhere ``train_seeds`` trains one ``model.fit`` per seed,
#: which the tests below that call ``train_seeds`` cover on every backend.
stacked_only = pytest.mark.skipif(
    not side_by_side.stackable(Variant()), reason="seeds train side by side on TensorFlow only (README, 'Backends')"
)


@pytest.fixture(scope="module")
def data():
    return dataset.load("surrogate").head(SMOKE.n_jets)


def fixed_draws(split, seeds, epochs: int) -> tuple[side_by_side.Draws, list[np.ndarray]]:
    """The seeds' draws, with every epoch's orders drawn up front so a lone run can be fed the same."""
    drawn = side_by_side.draws(seeds, split.X_train.shape[1], len(split.classes))
    n_rows = math.floor(len(split.X_train) * (1 - SMOKE.validation_split))
    orders = [drawn.orders(epoch, len(seeds), n_rows) for epoch in range(epochs)]
    return side_by_side.Draws(drawn.kernels, lambda epoch, k, n: orders[epoch]), orders


def lone_fit(variant: Variant, split, kernels: dict[str, np.ndarray], orders: list[np.ndarray]):
    """``model.fit`` from the given kernels, fed each epoch's rows in the given order (no shuffle of its own)."""
    seed_everything(0)
    model = compile_model(variant, split.X_train.shape[1], len(split.classes))
    for layer in LAYERS:
        model.get_layer(layer).kernel.assign(kernels[layer])
    n_rows = math.floor(len(split.X_train) * (1 - SMOKE.validation_split))
    X, Y = split.X_train[:n_rows], split.y_train[:n_rows]
    validation = (split.X_train[n_rows:], split.y_train[n_rows:])
    history: dict[str, list[float]] = {}
    for order in orders:
        logs = model.fit(
            X[order],
            Y[order],
            batch_size=SMOKE.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
            validation_data=validation,
        ).history
        for key, values in logs.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    kernels = {layer: np.asarray(model.get_layer(layer).kernel.numpy()) for layer in LAYERS}
    return history, kernels, np.asarray(model.predict(split.X_test, batch_size=SMOKE.batch_size, verbose=0))


@stacked_only
@pytest.mark.parametrize("experiment", EXERCISES, ids=[e.name for e in EXERCISES])
def test_a_member_is_model_fit_given_its_draws(experiment: Experiment, data):
    split = prepare(data, scaled=experiment.variant.scaled)
    seeds = [3, 11, 12]
    drawn, orders = fixed_draws(split, seeds, SMOKE.epochs)
    runs = side_by_side.train_stack(experiment, split, SMOKE, seeds, drawn)
    member = 1
    history, kernels, y_pred = lone_fit(
        experiment.variant, split, {k: v[member] for k, v in drawn.kernels.items()}, [o[member] for o in orders]
    )
    run = runs[member]
    assert run.seed == 11 and run.steps_per_epoch == math.ceil(len(orders[0][member]) / SMOKE.batch_size)
    assert set(run.history) == set(history)
    for key in history:
        np.testing.assert_allclose(run.history[key], history[key], rtol=2e-4, atol=1e-6, err_msg=key)
    for layer in LAYERS:
        np.testing.assert_allclose(run.kernels[layer], kernels[layer], rtol=1e-3, atol=2e-5, err_msg=layer)
    np.testing.assert_allclose(run.y_pred, y_pred, rtol=1e-3, atol=1e-5)


def test_a_seeds_numbers_do_not_depend_on_its_stack(data):
    experiment = registry()["adam"]
    split = prepare(data)
    alone = side_by_side.train_seeds(experiment, split, SMOKE, [7])[0]
    for seeds in ([7, 1], [2, 9, 7], [*range(7), *range(8, 40), 7]):
        run = next(r for r in side_by_side.train_seeds(experiment, split, SMOKE, seeds) if r.seed == 7)
        assert run.history == alone.history
        for layer in LAYERS:
            assert run.kernels[layer].tobytes() == alone.kernels[layer].tobytes()
    chunked = side_by_side.train_seeds(experiment, split, SMOKE, [1, 2, 7], chunk=2)
    assert [r.seed for r in chunked] == [1, 2, 7] and chunked[2].history == alone.history


def test_members_are_independent_draws(data):
    """Different seeds start from different kernels and see different batch orders."""
    split = prepare(data)
    drawn = side_by_side.draws([0, 1], split.X_train.shape[1], len(split.classes))
    assert not np.array_equal(drawn.kernels["fc1"][0], drawn.kernels["fc1"][1])
    order = drawn.orders(0, 2, 100)
    assert sorted(order[0]) == list(range(100)) and not np.array_equal(order[0], order[1])
    for layer, (fan_in, fan_out) in zip(LAYERS, side_by_side.widths(16, 5), strict=True):
        assert drawn.kernels[layer].shape == (2, fan_in, fan_out)
        assert glorot_uniform_pvalue(drawn.kernels[layer], fan_in, fan_out) > 1e-6


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


@stacked_only
def test_one_members_divergence_leaves_the_others_alone(data):
    """A member that diverges stops there; its neighbours train on exactly as in any other stack."""
    split = prepare(data)
    calm = Experiment("calm", Variant())
    seeds = [0, 1]
    drawn = side_by_side.draws(seeds, split.X_train.shape[1], len(split.classes))
    # member 0 starts from exploded output weights: its logits overflow in the first batch
    kernels = {k: v.copy() for k, v in drawn.kernels.items()}
    kernels["fc4"][0] *= 1e30
    mixed = side_by_side.Draws(kernels, drawn.orders)
    runs = side_by_side.train_stack(calm, split, SMOKE, seeds, mixed)
    assert runs[0].diverged_epoch == 1 and len(runs[0].history["loss"]) == 1
    assert runs[1].diverged_epoch is None and len(runs[1].history["loss"]) == SMOKE.epochs
    assert all(math.isfinite(v) for v in runs[1].history["loss"])
    alone = side_by_side.train_stack(calm, split, SMOKE, [1, 5], side_by_side.draws([1, 5], 16, 5))
    np.testing.assert_array_equal(runs[1].kernels["fc1"], alone[0].kernels["fc1"])
    assert runs[1].history == alone[0].history
