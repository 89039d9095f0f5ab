"""The Keras backend is a setting of a run: chosen before Keras is imported, refused in one line, recorded."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from run_cli import pythonpath

from experiments import registry
from harness.core import backend
from harness.core.errors import ConfigError
from harness.experiment import Experiment, Settings, less, more

ROOT = Path(__file__).resolve().parent.parent


def fake_keras(monkeypatch: pytest.MonkeyPatch, name: str | None) -> None:
    """Pretend Keras was imported with backend ``name`` (``None``: not imported yet)."""
    if name is None:
        monkeypatch.setattr(backend, "imported", lambda: None)
    else:
        monkeypatch.setitem(sys.modules, "keras", SimpleNamespace(backend=SimpleNamespace(backend=lambda: name)))


@pytest.mark.parametrize(
    "name, imported, message",
    [
        ("caffe", None, "unknown backend 'caffe': choose one of tensorflow, jax, torch"),
        ("jax", "tensorflow", "already imported with 'tensorflow' in this process; start it with KERAS_BACKEND=jax"),
    ],
)
def test_a_backend_that_cannot_be_used_is_one_line(monkeypatch, name, imported, message):
    fake_keras(monkeypatch, imported)
    with pytest.raises(ConfigError, match=message) as info:
        backend.use(name)
    assert "\n" not in str(info.value)


def test_a_backend_that_is_not_installed_says_how_to_install_it(monkeypatch):
    fake_keras(monkeypatch, None)
    monkeypatch.setitem(backend.PACKAGES, "jax", "jet_harness_no_such_package")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(ConfigError, match=r"backend 'jax' is not installed: .* \(pip install -e \"\.\[jax\]\"\)"):
        backend.use("jax")
    assert os.environ["KERAS_BACKEND"] == "tensorflow"  # nothing was changed


def test_the_backend_keras_runs_is_accepted_again(monkeypatch):
    fake_keras(monkeypatch, "tensorflow")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert backend.use(None) == "tensorflow"


def test_default_is_keras_backend_else_tensorflow(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert backend.default() == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert backend.default() == "jax"


def test_pytorch_gets_one_step_per_execution_the_others_keep_theirs():
    assert [backend.steps_per_execution(32, b) for b in backend.BACKENDS] == [32, 32, 1]


def test_pytest_refuses_an_unknown_backend_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--backend", "caffe", "--collect-only", "-q", "tests/test_metrics.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "jet-harness: unknown backend 'caffe': choose one of tensorflow, jax, torch" in done.stderr
    assert "Traceback" not in done.stderr


def test_expectations_say_on_which_backends_they_hold():
    only_tf = more("fc1.max_abs", than="sgd", times=5, on=("tensorflow",))
    everywhere = less("accuracy", than="sgd", by=0.05)
    exp = Experiment("x", expect=(only_tf, everywhere))
    assert exp.expectations("tensorflow") == (only_tf, everywhere)
    assert exp.expectations("jax") == (everywhere,)
    assert str(only_tf) == "fc1.max_abs > 5 × sgd [tensorflow]"
    with pytest.raises(ConfigError, match="unknown backend"):
        more("loss", than=1, on=("tensorflw",))
    with pytest.raises(ConfigError, match="unknown backend 'caffe'"):
        Settings(backend="caffe")


def test_only_lr_0_1_differs_between_backends():
    """Every other behaviour is asserted on every backend; lr_0.1 says what it does on each."""
    per_backend = {e.name for e in registry().values() for x in e.expect if x.backends}
    assert per_backend == {"lr_0.1"}
    lr = registry()["lr_0.1"]
    assert all(lr.expectations(b) for b in backend.BACKENDS)
    assert lr.expectations("jax") == lr.expectations("torch") != lr.expectations("tensorflow")


def test_the_model_name_is_safe_for_every_backend_and_layers_keep_the_notebooks_names():
    from harness.train.training import compile_model, model_name

    assert model_name("lr_0.1") == "lr_0_1"
    model = compile_model(registry()["lr_0.1"].variant, 16, 5, name="lr_0.1")
    assert [w.path for w in model.weights if "." in w.path] == []
    assert [layer.name for layer in model.layers if layer.name.startswith("fc")] == ["fc1", "fc2", "fc3", "fc4"]


def test_the_loss_after_a_softmax_uses_logits_only_where_the_table_says():
    """docs/backends.md: why lr_0.1 saturates on JAX and PyTorch. A softmax saturated on a wrong
    class still pushes its logits back on TensorFlow (the loss is computed from the cached logits);
    where the probabilities are clipped, the gradient is zero."""
    import keras

    from harness.train.training import seed_everything

    seed_everything(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2), keras.layers.Activation("softmax")])
    model.layers[0].set_weights([np.array([[40.0, 0.0], [0.0, 0.0]], "float32"), np.zeros(2, "float32")])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="categorical_crossentropy", steps_per_execution=1)
    x, y = np.array([[1.0, 0.0]], "float32"), np.array([[0.0, 1.0]], "float32")
    before = model.layers[0].get_weights()[0].copy()
    model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    moved = not np.array_equal(before, model.layers[0].get_weights()[0])
    assert moved == backend.LOSS_FROM_SOFTMAX_LOGITS[keras.backend.backend()]


def train_twice(name: str) -> tuple:
    from harness.data import dataset
    from harness.data.prepare import prepare
    from harness.experiment import PROFILES
    from harness.train.training import train

    profile = PROFILES["smoke"]
    experiment = registry()[name]
    split = prepare(dataset.load("surrogate").head(profile.n_jets), scaled=experiment.variant.scaled)
    return tuple(train(experiment, split, profile, seed=3) for _ in range(2))


@pytest.mark.training
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_same_seed_same_numbers_on_the_active_backend(name):
    """Whatever backend this pytest runs on (--backend, KERAS_BACKEND): two runs of one seed agree bit for bit."""
    a, b = train_twice(name)
    assert a.history == b.history
    for layer in a.kernels:
        np.testing.assert_array_equal(a.initial_kernels[layer], b.initial_kernels[layer])
        np.testing.assert_array_equal(a.kernels[layer], b.kernels[layer])
    np.testing.assert_array_equal(a.y_pred, b.y_pred)


BLOCK_TENSORFLOW = textwrap.dedent(
    """
    import sys
    sys.modules["tensorflow"] = None  # as in an image without TensorFlow: importing it raises ImportError
    from harness.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.training
@pytest.mark.parametrize("name", ["jax", "torch"])
def test_another_backend_trains_without_tensorflow(tmp_path, name):
    """An image with Keras and JAX (or PyTorch) but no TensorFlow: seeds train one model.fit each, recorded."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed")
    args = [
        "seeds",
        "train",
        "sgd",
        "--seeds",
        "0-1",
        "--profile",
        "smoke",
        "--backend",
        name,
        "--out",
        "b",
        "--shard",
    ]
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TENSORFLOW, *args], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    stored = json.loads((tmp_path / "b" / f"surrogate-smoke-{name}" / "sgd.json").read_text())  # its own folder
    assert stored["trainer"] == "keras-replicas"
    assert stored["environment"]["backend"] == name


def test_a_backend_is_judged_against_its_own_baselines_where_it_has_them(tmp_path):
    from harness.judge.baseline import resolve
    from harness.session import Session

    shared = tmp_path / "surrogate-quick" / "lr_0.1.json"
    shared.parent.mkdir()
    shared.write_text("{}")
    session = Session(Settings(backend="jax"), artifacts_dir=None, baselines_dir=tmp_path)
    assert session.baseline_path("lr_0.1") == resolve(tmp_path, "surrogate-quick", "lr_0.1", "jax") == shared
    assert session.shared_baselines_note(["lr_0.1"]) == (
        f"jax: lr_0.1 read exact records from the TensorFlow baselines in {tmp_path}/surrogate-quick/, "
        f"and have no {tmp_path}/surrogate-quick-jax/ seeds for the statistical tier"
    )
    own = tmp_path / "surrogate-quick-jax" / "lr_0.1.json"
    assert session.own_baseline_path("lr_0.1") == own, "an update on JAX never overwrites TensorFlow's file"
    own.parent.mkdir()
    own.write_text("{}")
    assert session.baseline_path("lr_0.1") == own and session.shared_baselines_note(["lr_0.1"]) is None
    assert resolve(tmp_path, "surrogate-quick", "lr_0.1", "tensorflow") == shared
