"""What a CI guard must survive: killed writers, diverging training."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from harness.judge import baseline, guard

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys
sys.path.insert(0, {root!r})
from harness.judge.baseline import Baseline, Reference, write
i = 0
while True:
    i += 1
    metrics = {{f"m{{k}}": Reference(tuple(float(i + k + s) for s in range(50))) for k in range(400)}}
    write({path!r}, Baseline("adam", "surrogate-quick", tuple(range(50)), metrics, {{}}))
    if i == 1:
        print("ready", flush=True)
"""


def test_killed_update_leaves_every_baseline_valid(tmp_path):
    """``kill -9`` at any moment of ``--update-baselines`` leaves the old or the new file, never half of one."""
    path = tmp_path / "surrogate-quick" / "adam.json"
    script = WRITER.format(root=str(ROOT), path=str(path))
    kills = 0
    for delay in (0.0, 0.05, 0.1, 0.15, 0.2, 0.25):  # after its first file: a loaded machine starts Python slowly
        writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline() == "ready\n"
        time.sleep(delay)
        writer.kill()
        writer.wait()
        writer.stdout.close()
        kills += 1
        if path.exists():
            loaded = baseline.load(path)  # raises BaselineError on a torn file
            assert len(loaded.metrics) == 400
    assert kills == 6 and path.exists()


@pytest.mark.training
def test_divergence_is_a_recorded_outcome_and_plots_still_render(tmp_path):
    from harness.experiment import PROFILES, Experiment, Settings, Variant
    from harness.session import Session

    # an infinite step: NaN on every backend (a large finite one saturates where the cross-entropy clips)
    blowup = Experiment("blowup", Variant(learning_rate=math.inf))
    session = Session(Settings(profile=PROFILES["smoke"]), artifacts_dir=tmp_path, experiments={"blowup": blowup})
    run = session.run("blowup")
    assert run.diverged_epoch == 1
    metrics = session.metrics("blowup")
    assert metrics["fc1.max_abs"] == math.inf and math.isnan(metrics["loss"])
    session.finish()
    folder = tmp_path / "latest" / "blowup"
    for name in ("history.png", "weights.png", "confusion.png", "roc.png", "metrics.json"):
        assert (folder / name).stat().st_size > 0
    assert '"diverged_epoch": 1' in (folder / "metrics.json").read_text()


@pytest.mark.training
def test_the_exact_tier_decides_where_it_applies_and_fresh_seeds_decide_elsewhere(tmp_path):
    """A baseline of seeds 100-129 with this environment's exact record of seed 0, judged as the tests judge it."""
    import dataclasses

    from harness.experiment import PROFILES, Settings
    from harness.outputs import report
    from harness.session import Session

    def session(tier: str) -> Session:
        settings = Settings(profile=PROFILES["smoke"])
        return Session(settings, artifacts_dir=tmp_path / "art", baselines_dir=tmp_path, tier=tier, plots=False)

    auto = session("auto")
    path, label = auto.baseline_path("sgd"), auto.settings.label
    trained = auto.train_baseline("sgd", range(100, 130))
    record = auto._exact_record("sgd")

    def store(stored: baseline.Baseline) -> None:
        baseline.write(path, stored)

    store(dataclasses.replace(trained, exact=(record,)))
    result = auto.check_baseline("sgd")
    assert (result.tier, result.problems) == ("exact", [])
    assert report.collect(auto.output_dir, {"sgd": auto.experiments["sgd"]}, tmp_path, label)[0].regression == "pass"

    _, metrics = record.seeds[0]
    tampered = dataclasses.replace(record, seeds={0: ("0" * 64, {**metrics, "accuracy": metrics["accuracy"] + 0.01})})
    store(dataclasses.replace(trained, exact=(tampered,)))
    result = auto.check_baseline("sgd")
    assert result.tier == "exact" and [p.split(":")[0] for p in result.problems] == ["accuracy"]

    statistical = session("statistical")
    result = statistical.check_baseline("sgd")
    assert (result.tier, result.problems) == ("statistical", [])
    # the session seed's own run, then members after it that the baseline does not hold
    assert result.verdict["seeds"] == list(range(guard.FRESH_SEEDS)), "fresh members: never the baseline's"

    shifted = dict(trained.metrics)
    shifted["accuracy"] = dataclasses.replace(
        shifted["accuracy"], values=tuple(v + 0.3 for v in shifted["accuracy"].values)
    )
    store(dataclasses.replace(trained, metrics=shifted))
    result = statistical.check_baseline("sgd")
    assert [p.split(" (")[0] for p in result.problems] == ["accuracy"]
    assert result.notes[0].startswith("exact tier skipped")


def test_workers_checking_one_artifacts_dir_at_once_do_not_trip_each_other(tmp_path):
    """Every pytest-xdist worker checks the artifacts folder as it starts: their probes must not collide."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.outputs.folders import ensure_writable

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: ensure_writable(tmp_path), range(400))) == {tmp_path}
    assert list(tmp_path.iterdir()) == []


def _special(kind: str, shape: tuple[int, ...], rng) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0, 0.2, shape).astype(np.float32)
    if kind == "huge":  # finite float32 whose squares and ranges are not
        return (rng.choice([-1, 1], shape) * rng.uniform(1e37, 3.4e38, shape)).astype(np.float32)
    if kind == "nan":
        return np.full(shape, np.nan, np.float32)
    if kind == "mixed":
        w = rng.normal(0, 1, shape).astype(np.float32)
        w.flat[::3] = np.inf
        w.flat[1::3] = np.nan
        return w
    if kind == "constant":
        return np.full(shape, 0.25, np.float32)
    return np.zeros(shape, np.float32)


KINDS = ["normal", "huge", "nan", "mixed", "constant", "zero"]
CURVE_VALUES = [0.0, 1.0, 0.5, 1e30, 3.4e38, math.nan, math.inf, -math.inf]


def degenerate_runs():
    from hypothesis import strategies as st

    return st.tuples(
        st.lists(st.sampled_from(KINDS), min_size=4, max_size=4),
        st.sampled_from(KINDS),
        st.lists(st.sampled_from(CURVE_VALUES), min_size=0, max_size=6),
        st.integers(0, 2**16),
    )


@pytest.mark.filterwarnings("error")
def test_every_plot_metric_and_the_report_survive_any_run_outcome(tmp_path):
    """Huge finite, NaN, infinite, constant, zero or empty weights, predictions and curves: nothing crashes or warns.

    A warning is an error in this suite, so a plot that only warned (an overflow in ``np.std``, a log
    axis with nothing positive) fails here as it failed ``pytest --seed 4`` and a run with linear ReLUs.
    """
    from hypothesis import given, settings

    from experiments import registry
    from harness.experiment import PROFILES, Settings
    from harness.measure.metrics import LAYERS, compute
    from harness.outputs import artifacts, report
    from harness.train.record import TrainingRun

    experiments = registry()
    run_settings = Settings(profile=PROFILES["smoke"])

    @settings(max_examples=8, deadline=None)
    @given(degenerate_runs())
    def check(case):
        kernel_kinds, pred_kind, curve, seed = case
        rng = np.random.default_rng(seed)
        shapes = dict(zip(LAYERS, itertools.pairwise([16, 64, 32, 32, 5]), strict=True))  # fc1 … fc4
        y_test = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 40)]
        runs = {}
        for name in ("sgd", "l1", "lr_0.1", "lr_1e-05"):
            run = TrainingRun(
                experiment=name,
                seed=0,
                history={k: list(curve) for k in ("loss", "val_loss", "accuracy", "val_accuracy")},
                initial_kernels={layer: _special("normal", shapes[layer], rng) for layer in LAYERS},
                kernels={
                    layer: _special(kind, shapes[layer], rng) for layer, kind in zip(LAYERS, kernel_kinds, strict=True)
                },
                y_test=y_test,
                y_pred=_special(pred_kind, (40, 5), rng),
                classes=("g", "q", "t", "w", "z"),
                diverged_epoch=len(curve) or None,
                steps_per_epoch=3,
            )
            compute(run)
            runs[name] = run
        root = tmp_path / f"case{seed}"
        drawn = list(runs)[seed % len(runs)]
        for name, run in runs.items():
            artifacts.save_run(run, root, run_settings, with_plots=name == drawn)
        artifacts.save_comparisons(artifacts.plan_comparisons(experiments), runs, root, run_settings)
        artifacts.save_session(root, run_settings)
        report.write(root / run_settings.label, experiments, tmp_path / "no-baselines", run_settings.label)

    check()
