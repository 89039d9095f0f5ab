"""The exercises through hls4ml: ``test_firmware[NAME]``, its own step (``pytest -m firmware``).

Each exercise's session run is converted at the course's ``ap_fixed<16,6>`` (Vitis, io_parallel),
its C simulation compiled with g++ and run on the test set, and judged against the run's own
float predictions by the exercise's ``firmware`` expectations (``experiments/``). Without hls4ml
or g++ they skip, and the summary says why once.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from experiments import registry
from harness.experiment import Experiment, Variant, more
from harness.firmware import config
from harness.firmware.convert import nothing_to_convert
from harness.judge.verdict import NOTHING, firmware
from harness.train.training import TrainingRun

pytest_plugins = ["pytester"]
EXERCISES = list(registry().values())
by_name = pytest.mark.parametrize("experiment", EXERCISES, ids=[e.name for e in EXERCISES])


@pytest.mark.firmware
@pytest.mark.training
@by_name
def test_firmware(experiment, harness_session, request):
    """The firmware keeps what the exercise's float model does, and computes what its record holds."""
    if request.config.getoption("record_exact"):
        nothing = harness_session.firmware(experiment.name).skipped
        if nothing:
            pytest.skip(nothing)
        harness_session.record_firmware(experiment.name)  # the summary names the file
        return
    part = harness_session.firmware_verdict(experiment.name)
    if part.status == NOTHING:
        pytest.skip(part.header)
    if part.failed:
        pytest.fail(part.message, pytrace=False)
    done = harness_session.firmware(experiment.name)
    assert any(Path(done.project).rglob("*.so")), f"the compiled HLS project is kept with the run: {done.project}"


@pytest.mark.firmware
@pytest.mark.training
@by_name
def test_precision_scan(experiment, harness_session, request):
    """Accuracy and agreement with float across the precision scan, drawn with the run (``--firmware-scan``)."""
    if not request.config.getoption("firmware_scan"):
        pytest.skip("the precision scan is opt-in: pytest -m firmware --firmware-scan")
    results = [harness_session.firmware(experiment.name, config.precision(*point)) for point in config.SCAN]
    if all(r.skipped for r in results):
        pytest.skip(results[0].skipped)
    path = harness_session.draw_precision_scan(experiment.name)
    assert path is None or path.exists()


@pytest.mark.training
def test_the_rebuilt_model_is_the_trained_one(harness_session):
    """The firmware is built from the run's record: kernels and biases must give back the float predictions."""
    from harness.firmware.convert import rebuild

    run = harness_session.run("scaled")
    experiment = harness_session.experiments["scaled"]
    X_test = harness_session.runs.split(True).X_test
    again = rebuild(run, experiment).predict(X_test, batch_size=1024, verbose=0)
    np.testing.assert_allclose(again, run.y_pred, rtol=1e-5, atol=1e-6)


def test_a_precision_is_read_back_or_refused():
    assert config.bits("ap_fixed<16,6>") == (16, 6)
    assert config.bits(config.precision(10, 4)) == (10, 4)
    for bad in ("ap_fixed<16>", "fixed<16,6>", "16,6"):
        with pytest.raises(ValueError, match="is not a precision"):
            config.bits(bad)
    with pytest.raises(ValueError, match="integer bits"):
        config.precision(8, 9)


def _run(**changes) -> TrainingRun:
    kernels = {"fc1": np.ones((16, 64)), "fc2": np.ones((64, 32)), "fc3": np.ones((32, 32)), "fc4": np.ones((32, 5))}
    base = {
        "experiment": "sgd",
        "seed": 3,
        "history": {},
        "initial_kernels": kernels,
        "kernels": kernels,
        "biases": {k: np.zeros(v.shape[1]) for k, v in kernels.items()},
        "y_test": np.eye(5)[[0, 1, 2]],
        "y_pred": np.eye(5)[[0, 1, 2]],
        "classes": tuple("gqtwz"),
    }
    return TrainingRun(**{**base, **changes})


def test_a_diverged_dead_or_overflowed_run_has_nothing_to_convert():
    assert nothing_to_convert(_run()) is None
    assert "diverged at epoch 4" in nothing_to_convert(_run(diverged_epoch=4))
    overflowed = {**_run().kernels, "fc1": np.full((16, 64), np.inf)}
    assert "not all finite" in nothing_to_convert(_run(kernels=overflowed))
    assert "is dead" in nothing_to_convert(_run(y_pred=np.eye(5)[[2, 2, 2]]))


def test_nothing_to_convert_is_said_and_never_a_failure():
    experiment = Experiment("x", Variant(), firmware=(more("firmware.agreement", than=0.9),))
    part = firmware(experiment, "seed 3 diverged at epoch 4: no finite model to convert", "ap_fixed<16,6>", 3)
    assert part.status == NOTHING and not part.failed and "diverged" in part.message


def test_firmware_expectations_compare_firmware_metrics_with_numbers():
    with pytest.raises(Exception, match="firmware expectations compare"):
        Experiment("x", firmware=(more("accuracy", than=0.9),))
    with pytest.raises(Exception, match="firmware expectations compare"):
        Experiment("x", firmware=(more("firmware.accuracy", than="sgd"),))
    assert math.isclose(more("firmware.agreement", than=0.9).bound(0.9), 0.9)


def test_the_config_leaves_no_type_auto_and_names_what_it_left_to_hls4ml():
    pytest.importorskip("hls4ml", reason="hls4ml is not installed")
    from harness.firmware.convert import rebuild

    model = rebuild(_run(), Experiment("sgd", Variant()))
    found = config.hls_config(model, "ap_fixed<10,4>")
    types = [v for layer in found["LayerName"].values() for v in layer.get("Precision", {}).values()]
    assert "auto" not in types and "ap_fixed<10,4>" in types
    left = config.defaults_left(found, "ap_fixed<10,4>")
    assert "softmax.exp_table" in left and "fc1.ReuseFactor" in left and "input_layer.Trace" in left
    assert not any(v == "ap_fixed<10,4>" for v in left.values())


@pytest.fixture(scope="module")
def recorded(harness_session):
    """``scaled``'s firmware and a record of it: what the guard tests below change and judge."""
    from harness.judge import exact
    from harness.judge import firmware as guard

    done = harness_session.firmware("scaled")
    return done, guard.Record.of(exact.digest(harness_session.run("scaled")), done)


def _again(harness_session, tmp_path, point=config.PRECISION):
    from harness.firmware.convert import convert

    X_test = harness_session.runs.split(True).X_test
    return convert(harness_session.run("scaled"), harness_session.experiments["scaled"], X_test, tmp_path, point)


@pytest.mark.firmware
@pytest.mark.training
def test_the_guard_fails_when_the_emulation_computes_other_outputs(harness_session, recorded, monkeypatch, tmp_path):
    from hls4ml.model.graph import ModelGraph

    from harness.judge import exact
    from harness.judge import firmware as guard

    done, record = recorded
    true_predict = ModelGraph.predict
    monkeypatch.setattr(ModelGraph, "predict", lambda self, x: np.roll(true_predict(self, x), 1, axis=1))
    changed = _again(harness_session, tmp_path)
    applies, _, moved = guard.check([record], exact.digest(harness_session.run("scaled")), changed)
    assert applies and moved and "outputs at ap_fixed<16,6> moved" in moved[0] and "accuracy" in moved[0]
    assert moved[1] == "its environment is the recorded one"
    assert guard.check([record], exact.digest(harness_session.run("scaled")), done)[2] == [], "unchanged passes"


@pytest.mark.firmware
@pytest.mark.training
def test_the_guard_names_a_changed_default_left_to_hls4ml(harness_session, recorded, monkeypatch, tmp_path):
    from harness.judge import exact
    from harness.judge import firmware as guard

    _, record = recorded
    ours = config.hls_config

    def smaller_softmax_table(model, point=config.PRECISION):
        found = ours(model, point)
        found["LayerName"]["softmax"]["TableSize"] = 128
        return found

    monkeypatch.setattr("harness.firmware.convert.hls_config", smaller_softmax_table)
    changed = _again(harness_session, tmp_path)
    applies, _, moved = guard.check([record], exact.digest(harness_session.run("scaled")), changed)
    assert applies and moved, "a smaller softmax table computes other outputs"
    assert moved[1] == "in its environment: softmax.TableSize: 1024 -> 128"


def test_without_the_extra_the_firmware_tests_skip_and_say_why_once(pytester, monkeypatch):
    monkeypatch.setattr("harness.plugin.missing_firmware", lambda: "hls4ml is not installed (pip install ...)")
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    marked = "import pytest\n\n@pytest.mark.firmware\n@pytest.mark.parametrize('n', [1, 2])\ndef test_a(n):\n    pass\n"
    pytester.makepyfile(test_x=marked)
    asked = pytester.runpytest("-m", "firmware", "-p", "no:cacheprovider")
    asked.assert_outcomes(skipped=2)
    assert asked.stdout.str().count("firmware tests skipped: hls4ml is not installed") == 1
    plain = pytester.runpytest("-p", "no:cacheprovider")
    plain.assert_outcomes(skipped=2)
    assert "2 firmware tests skipped: the firmware step runs on its own: pytest -m firmware" in plain.stdout.str()


@pytest.mark.firmware
@pytest.mark.training
def test_harness_run_judges_the_firmware_into_the_same_verdict(tmp_path):
    """``python -m harness run --firmware``: a firmware column, and the firmware's verdict in ``--json``."""
    import json

    from run_cli import ROOT, harness

    out = tmp_path / "run.json"
    args = ("run", "scaled", "--profile=smoke", "--firmware", f"--json={out}", f"--artifacts-dir={tmp_path}")
    done = harness(*args, "--baselines-dir", str(tmp_path / "none"), cwd=ROOT)
    assert done.returncode == 1, done.stderr  # no baseline in an empty folder: missing, as without --firmware
    lines = done.stdout.splitlines()
    header = lines[next(i for i, line in enumerate(lines) if line.startswith("== verdict")) + 1]
    assert header.split()[-1] == "firmware", header
    verdict = json.loads(out.read_text())["experiments"]["scaled"]["verdict"]
    assert verdict["firmware"] in {"pass", "fail", "nothing to convert"} and "firmware_problems" in verdict
    assert (tmp_path / "latest").exists() and any(tmp_path.rglob("firmware.json"))
