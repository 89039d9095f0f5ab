"""Training and inference speed, through the harness and as plain Keras, in one run.

``pytest tests/benchmarks --benchmark-only`` (or ``tox -e bench``). Slow benchmarks use
``benchmark.pedantic`` with explicit rounds and one explicit warm-up round (graph tracing),
so no epoch runs uncounted. Each result records samples/s, the device and the settings.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from experiments import registry
from harness.core import device
from harness.experiment import PROFILES, Profile, Settings, Variant
from harness.measure import timing
from harness.session import Session
from harness.train import training
from harness.train.run_cache import Runs

EPOCH = Profile("one-epoch", n_jets=None, epochs=1)
ROUNDS = 5


def record(benchmark, device: dict, samples: int, flops_per_sample: int | None = None, **extra) -> None:
    """Put what a reader needs to compare machines into the result's ``extra_info``."""
    median = benchmark.stats.stats.median
    rate = samples / median
    benchmark.extra_info.update(
        samples_per_second=rate,
        device=device["device"],
        backend=device["backend"],
        keras=device["keras"],
        backend_version=device["backend_version"],
        jit=device["jit"],
        determinism=device["determinism"],
        onednn=device["onednn"],
        threads={k: device.get(k) for k in ("intra_op_threads", "inter_op_threads", "omp_num_threads", "cpu_count")},
        **extra,
    )
    if flops_per_sample:
        benchmark.extra_info["achieved_gflops"] = rate * flops_per_sample / 1e9


def plain_model(optimizer: str) -> keras.Model:
    """The notebook's model written directly in Keras: the reference the harness must keep up with."""
    model = keras.Sequential(
        [
            keras.Input(shape=(16,)),
            keras.layers.Dense(64, name="fc1"),
            keras.layers.Activation("relu"),
            keras.layers.Dense(32, name="fc2"),
            keras.layers.Activation("relu"),
            keras.layers.Dense(32, name="fc3"),
            keras.layers.Activation("relu"),
            keras.layers.Dense(5, name="fc4"),
            keras.layers.Activation("softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss=["categorical_crossentropy"], metrics=["accuracy"])
    return model


def plain_epoch(model: keras.Model, split) -> None:
    model.fit(split.X_train, split.y_train, batch_size=1024, epochs=1, validation_split=0.25, shuffle=True, verbose=0)
    device.wait_for_device(model.get_layer("fc4").kernel.value)


def harness_epoch(model: keras.Model, split) -> None:
    training.fit(model, split, EPOCH)
    device.wait_for_device(model.get_layer("fc4").kernel.value)


@pytest.mark.benchmark(group="train-epoch")
@pytest.mark.parametrize("path", ["harness", "plain"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_epoch(benchmark, full_split, device, optimizer, path):
    """One epoch on the 830k-jet surrogate at batch 1024; later rounds continue the same model."""
    training.seed_everything(0)
    if path == "harness":
        model, step = training.compile_model(Variant(optimizer=optimizer), 16, 5), harness_epoch
    else:
        model, step = plain_model(optimizer), plain_epoch
    benchmark.pedantic(step, args=(model, full_split), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    fitted = int(len(full_split.X_train) * (1 - EPOCH.validation_split))
    record(benchmark, device, fitted, timing.mlp_train_flops_per_sample(), profile="full", optimizer=optimizer)


@pytest.mark.benchmark(group="predict")
def test_predict_batch_1024(benchmark, full_split, device):
    model = training.compile_model(Variant(), 16, 5)
    benchmark.pedantic(
        lambda: model.predict(full_split.X_test, batch_size=1024, verbose=0), rounds=ROUNDS, warmup_rounds=1
    )
    record(benchmark, device, len(full_split.X_test), timing.mlp_forward_flops_per_sample(), batch_size=1024)


@pytest.mark.benchmark(group="predict")
def test_predict_batch_1(benchmark, full_split, device):
    model = training.compile_model(Variant(), 16, 5)
    one = full_split.X_test[:1]
    model.predict_on_batch(one)  # trace once, outside the clock
    benchmark(lambda: np.asarray(model.predict_on_batch(one)))
    record(benchmark, device, 1, timing.mlp_forward_flops_per_sample(), batch_size=1)


#: A fixed workload, so results stay comparable when the ``quick`` profile grows: the size
#: ``quick`` had when the reference results in ``baselines/benchmarks/`` were measured.
EXERCISE_RUN = Profile("run-100k-40", n_jets=100_000, epochs=40)


@pytest.mark.benchmark(group="exercise-run")
@pytest.mark.parametrize("plots", [True, False], ids=["with-plots", "no-plots"])
def test_exercise_run(benchmark, device, tmp_path, plots):
    """A whole run of ``sgd`` on 100k jets × 40 epochs: data prep, training, metrics (and plots)."""
    settings = Settings(profile=EXERCISE_RUN)

    def one_run():
        session = Session(settings, artifacts_dir=tmp_path, plots=plots)
        session.metrics("sgd")
        session.finish()

    benchmark.pedantic(one_run, rounds=3, iterations=1, warmup_rounds=0)
    profile = settings.profile
    fitted = int(profile.n_jets * 0.8 * (1 - profile.validation_split)) * profile.epochs
    record(benchmark, device, fitted, profile=profile.name, plots=plots)


@pytest.mark.full_suite
@pytest.mark.benchmark(group="full-suite")
@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")  # the notebook's histogram of a diverged lr=0.1 run
@pytest.mark.parametrize("path", ["notebook", "harness"])
def test_full_suite(benchmark, full_split, device, tmp_path, path):
    """The six exercises at the notebook's settings: ``run_model`` six times vs the harness (~12 min)."""
    from notebook_reference import all_exercises

    profile = PROFILES["full"]

    def harness_suite():
        session = Session(Settings(profile=profile), artifacts_dir=tmp_path)
        for name in session.experiments:
            session.metrics(name)
        session.finish()

    suite = harness_suite if path == "harness" else lambda: all_exercises(full_split, tmp_path, profile.epochs)
    benchmark.pedantic(suite, rounds=1, iterations=1, warmup_rounds=0)
    fitted = int(len(full_split.X_train) * (1 - profile.validation_split)) * profile.epochs * 6
    record(benchmark, device, fitted, timing.mlp_train_flops_per_sample(), profile="full")


#: Rounds of each time-to-accuracy run: enough for a min–max spread, at ~10 s a round on 2 cores
#: (``JET_HARNESS_TTA_ROUNDS`` changes it: PyTorch's rounds take about four times as long).
TTA_ROUNDS = int(os.environ.get("JET_HARNESS_TTA_ROUNDS", "3"))


@pytest.mark.benchmark(group="time-to-accuracy")
@pytest.mark.parametrize("name", list(registry()))
def test_time_to_accuracy(benchmark, device, name):
    """One exercise's quick-profile ``model.fit`` (seed 0, a fresh model each round, compilation included):
    the benchmark's time is the whole fit; ``extra_info`` holds the seconds until the validation accuracy
    first reached the exercise's target (``null``: never reached), the first and the steady epoch."""
    profile, experiment = PROFILES["quick"], registry()[name]
    split = Runs(Settings(profile=profile), registry()).split(experiment.variant.scaled)  # prepared off the clock
    timings: list[timing.Timing] = []

    def one_run():
        run = training.train(experiment, split, profile, seed=0)
        timings.append(timing.timing(run.epoch_ends, run.history["val_accuracy"], experiment.target_accuracy))

    benchmark.pedantic(one_run, rounds=TTA_ROUNDS, iterations=1, warmup_rounds=0)
    reached = [t.time_to_target_s for t in timings if t.time_to_target_s is not None]
    fitted = int(profile.n_jets * 0.8 * (1 - profile.validation_split)) * profile.epochs
    record(
        benchmark,
        device,
        fitted,
        profile=profile.name,
        target_val_accuracy=experiment.target_accuracy,
        time_to_target_s=[t.time_to_target_s for t in timings],
        time_to_target_median_s=float(np.median(reached)) if reached else None,
        reached=f"{len(reached)} of {len(timings)} rounds",
        first_epoch_s=[t.first_epoch_s for t in timings],
        steady_epoch_median_s=float(np.median([t.steady_epoch_s for t in timings if t.steady_epoch_s is not None])),
    )
