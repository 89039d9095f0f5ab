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
from harness.core.errors import BaselineError, HarnessError
from harness.experiment import Experiment, Variant, more
from harness.firmware import config
from harness.firmware.convert import nothing_to_convert
from harness.judge.verdict import NOTHING, firmware
from harness.train.record import TrainingRun

pytest_plugins = ["pytester"]
EXERCISES = list(registry().values())
by_name = pytest.mark.parametrize("experiment", EXERCISES, ids=[e.name for e in EXERCISES])


@pytest.mark.firmware
@pytest.mark.training
@by_name
def test_firmware(experiment, harness_session, request, update_baselines):
    """The firmware keeps what the exercise's float model does, and computes what its records hold."""
    if update_baselines:  # the stored seeds' firmware; the summary names the file
        try:
            harness_session.record_firmware_seeds(experiment.name)
        except HarnessError as exc:  # no training baseline of this backend's to take the seeds of: one line
            pytest.fail(str(exc), pytrace=False)
    if update_baselines or request.config.getoption("record_exact"):
        nothing = harness_session.firmware(experiment.name).skipped
        if nothing:
            pytest.skip(nothing)
        _, refused = harness_session.record_firmware(experiment.name, intended=request.config.getoption("intended"))
        if refused:  # a write is named in the summary; a refusal fails here
            pytest.fail("\n".join([*refused, "If the change is intended, add --intended to record it anyway"]), False)
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
    drawn = harness_session.draw_firmware_profile(experiment.name)
    if path is not None and not results[0].skipped:
        assert sorted(p.name for p in drawn) == ["firmware_activations.png", "firmware_weights.png"]


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


def test_the_probe_is_exact_on_its_precision_grid():
    """Every probe number is an integer times the point's step: float32 and the fixed-point type hold it exactly."""
    from harness.firmware import probe

    for point in ("ap_fixed<16,6>", "ap_fixed<8,3>"):
        total, integer = config.bits(point)
        step, top = 2.0 ** (integer - total), 2.0 ** (integer - 1)
        drawn = probe.draw(point)
        numbers = [drawn.X, *(a for pair in drawn.weights.values() for a in pair)]
        for a in numbers:
            assert a.dtype == np.float32 and np.array_equal(np.round(a / step) * step, a)
            assert np.all(a >= -top) and np.all(a < top)
        assert [k.shape for k, _ in drawn.weights.values()] == [(16, 64), (64, 32), (32, 32), (32, 5)]
        large = np.abs(drawn.X).max(axis=1) > probe.INPUT
        assert 0.05 < large.mean() < 0.15, "a tenth of the rows pass the types' overflow"
        assert drawn.digest == probe.draw(point).digest
    assert probe.draw("ap_fixed<16,6>").digest != probe.draw("ap_fixed<16,8>").digest


@pytest.mark.firmware
@pytest.mark.training
def test_the_firmware_probe(harness_session, request):
    """The probe's firmware computes its record: on every machine, whatever trained the exercises."""
    if request.config.getoption("record_exact"):
        _, refused = harness_session.record_probe(intended=request.config.getoption("intended"))
        if refused:
            pytest.fail("\n".join([*refused, "If the change is intended, add --intended to record it anyway"]), False)
        return
    said, moved = harness_session.probe_check()
    assert "bit-identical" in said and not moved, "\n".join([said, *moved])


@pytest.mark.firmware
def test_the_probe_is_the_same_however_the_compiler_targets_the_cpu(tmp_path):
    """The probe's digest must not depend on code generation: -O0, and -Ofast with -march=native, give its bits."""
    import contextlib
    import ctypes
    import io
    import shutil

    import hls4ml

    from harness.firmware import probe
    from harness.firmware.convert import outputs_digest

    drawn = probe.draw()
    model = probe.model(drawn)
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model = hls4ml.converters.convert_from_keras_model(
            model,
            hls_config=config.hls_config(model),
            output_dir=str(tmp_path),
            backend=config.BACKEND,
            io_type=config.IO_TYPE,
        )
        hls_model.compile()

    def digest() -> str:
        return outputs_digest(np.asarray(hls_model.predict(drawn.X), dtype=np.float64).reshape(len(drawn.X), -1))

    script, built = tmp_path / "build_lib.sh", digest()
    default = 'CFLAGS="-O3 -fPIC"'
    assert default in script.read_text(), "hls4ml's build flags changed: look again at what the probe assumes"
    for i, flags in enumerate(("-O0 -fPIC", "-Ofast -fPIC -march=native")):
        script.write_text(script.read_text().replace(default, f'CFLAGS="{flags}"'))
        library = Path(hls_model.config.backend.compile(hls_model))  # rebuilt with these flags
        copy = tmp_path / f"rebuilt{i}.so"  # loaded under a new name: never the handle of the first build
        shutil.copyfile(library, copy)
        hls_model._top_function_lib = ctypes.cdll.LoadLibrary(str(copy))
        assert digest() == built, f"the probe's firmware differs when built with {flags}"
        default = f'CFLAGS="{flags}"'


@pytest.fixture
def probe_only(harness_session, monkeypatch, tmp_path):
    """The session judged against a baselines folder that holds the probe's record and no exercise's."""
    import shutil

    from harness.judge import firmware as guard

    shutil.copy(guard.probe_path(Path(harness_session.baselines_dir)), tmp_path / guard.PROBE_FILE)
    monkeypatch.setattr(harness_session, "baselines_dir", tmp_path)
    monkeypatch.setattr(harness_session, "_probe", {})
    monkeypatch.setattr(harness_session, "_wrote", lambda path, what: None)  # no write of a test in the summary
    return tmp_path


@pytest.mark.firmware
@pytest.mark.training
def test_where_no_record_of_the_float_model_applies_the_probe_guards_the_firmware(
    harness_session, probe_only, monkeypatch
):
    from hls4ml.model.graph import ModelGraph

    from harness.judge import firmware as guard

    part = harness_session.firmware_verdict("scaled")
    assert not part.failed and "the probe is bit-identical to its record" in " ".join(part.notes), part.message
    true_predict = ModelGraph.predict
    monkeypatch.setattr(ModelGraph, "predict", lambda self, x: np.round(true_predict(self, x), 2))
    monkeypatch.setattr(harness_session, "_probe", {})
    part = harness_session.firmware_verdict("scaled")
    assert part.failed and part.tier == "exact" and "outputs at ap_fixed<16,6> moved" in part.message
    assert "--record-exact --intended -k test_the_firmware_probe" in part.message, part.message
    before = guard.probe_path(probe_only).read_text()
    _, refused = harness_session.record_probe()
    assert (
        refused[0] == "not recorded: the probe's firmware changed"
        and guard.probe_path(probe_only).read_text() == before
    )
    harness_session.record_probe(intended=True)
    assert harness_session.probe_check()[1] == [], "recorded as intended, the changed probe is its record"


def _firmware_metrics(rng: np.random.Generator, n: int, shift: float = 0.0) -> list[dict[str, float]]:
    """Seeds' firmware metrics as ``scaled``'s stored ones spread (agreement 0.955–0.991), ``shift`` σ off."""
    agreement = 0.97 + 0.01 * (rng.standard_normal(n) + shift)
    accuracy = 0.711 + 0.0025 * rng.standard_normal(n)
    return [
        {"firmware.accuracy": a, "firmware.agreement": g, "firmware.accuracy_loss": 0.0002 * g}
        for a, g in zip(accuracy, agreement, strict=True)
    ]


def _stored(results):
    from harness.judge import firmware as guard

    return guard.Seeds("ap_fixed<16,6>", "keras-replicas", "tensorflow", {}, dict(enumerate(results)), "t")


def test_the_firmware_rank_tests_are_scipys_exact_two_sided_mann_whitney():
    """Each p-value is scipy's exact two-sided Mann–Whitney: a one-sided or asymptotic rule would differ."""
    from scipy.stats import mannwhitneyu

    from harness.judge import firmware as guard

    rng = np.random.default_rng(7)
    stored, fresh = _firmware_metrics(rng, 20), _firmware_metrics(rng, 10, shift=1.0)
    judged = guard.statistical(_stored(stored), fresh, list(range(10)), 0.05)
    for test in judged.tests:
        f, s = [m[test.name] for m in fresh], [m[test.name] for m in stored]
        assert math.isclose(test.pvalue, mannwhitneyu(f, s, alternative="two-sided", method="exact").pvalue)
    assert [t.name for t in judged.tests] == ["firmware.accuracy", "firmware.agreement", "firmware.accuracy_loss"]


def test_the_firmware_tier_flags_a_shift_at_its_level_and_passes_the_same_distribution():
    """At the level fixed first (the firmware step's 1e-3 over six exercises and three metrics), 10 fresh seeds
    against 20 stored: a 4σ loss of agreement is flagged, the same distribution passes."""
    from harness.judge import firmware as guard

    alpha = guard.per_test_alpha(6)
    assert math.isclose(alpha, 1e-3 / 6 / 3)
    rng = np.random.default_rng(11)
    stored = _stored(_firmware_metrics(rng, 20))
    same = guard.statistical(stored, _firmware_metrics(rng, 10), list(range(10)), alpha)
    assert same.passed, same.problems
    worse = guard.statistical(stored, _firmware_metrics(rng, 10, shift=-4.0), list(range(10)), alpha)
    assert [p.split(":")[0] for p in worse.problems] == ["firmware.agreement", "firmware.accuracy_loss"]
    few = guard.statistical(stored, _firmware_metrics(rng, 1, shift=-4.0), [0], alpha)
    assert few.passed and "too few for any test to reject" in few.notes[0]


def test_a_firmware_file_keeps_its_seeds_and_its_records(tmp_path):
    from harness.judge import firmware as guard

    path = tmp_path / "scaled.json"
    seeds = _stored([*_firmware_metrics(np.random.default_rng(1), 2), "seed 2 diverged at epoch 4"])
    guard.write(path, "scaled", (), seeds)
    record = guard.Record("abc", 0, "ap_fixed<16,6>", "d1", 0.7, 0.96, {"hls4ml": "1.3.0"})
    guard.write(path, "scaled", (record,))  # a record written later keeps the seeds
    assert guard.load(path) == (record,) and guard.load_seeds(path) == seeds
    assert len(seeds.converted()) == 2
    path.write_text('{"experiment": "scaled", "records": [], "seeds": {"precision": "ap_fixed<16,6>"}}')
    with pytest.raises(BaselineError, match=r"scaled.json: its seeds are not a firmware baseline \('results'\)"):
        guard.load_seeds(path)


@pytest.mark.firmware
def test_one_compile_computes_each_models_own_firmware(tmp_path, monkeypatch):
    """:func:`simulate_many` against one full compile per model, bit for bit; another architecture compiles alone."""
    import keras

    from harness.firmware import probe
    from harness.firmware.convert import outputs_digest, simulate
    from harness.firmware.many import simulate_many

    drawn = probe.draw()
    models = [probe.model(drawn) for _ in range(3)]
    for scale, model in zip((1.0, 0.5, -1.5), models, strict=True):
        for layer in model.layers:
            layer.set_weights([w * scale for w in layer.get_weights()])
    layers = [keras.Input((16,)), keras.layers.Dense(8, name="fc1"), keras.layers.Dense(5, name="fc2")]
    models.append(keras.Sequential(layers))
    compiled = []

    def counted(model, *args):
        compiled.append(model)
        return simulate(model, *args)

    monkeypatch.setattr("harness.firmware.many.simulate", counted)
    many, environment = simulate_many(models, drawn.X, config.PRECISION, tmp_path / "many")
    assert compiled == [models[0], models[3]], "one compile for the three of one architecture, one for the other"
    alone = [simulate(m, drawn.X, tmp_path / f"alone{i}", config.PRECISION)[0] for i, m in enumerate(models)]
    assert [outputs_digest(a) for a in many] == [outputs_digest(a) for a in alone]
    assert len({outputs_digest(a) for a in many}) == 4 and environment["hls4ml"]


@pytest.mark.firmware
@pytest.mark.training
def test_the_statistical_firmware_tier_passes_a_clean_run_and_fails_a_changed_firmware(
    harness_session, monkeypatch, tmp_path
):
    """Where no record of the float model applies, fresh seeds' firmware is judged against the stored seeds'.

    The change is one the probe is made not to see (its check is held at "bit-identical"): the
    firmware's outputs rounded to one decimal, so tied classes take the first.
    """
    import json
    import shutil

    from hls4ml.model.graph import ModelGraph

    from harness.judge import firmware as guard

    label = harness_session.settings.label
    shutil.copytree(Path(harness_session.baselines_dir) / label, tmp_path / label, ignore=shutil.ignore_patterns("_*"))
    fw = tmp_path / label / "firmware" / "scaled.json"
    fw.write_text(json.dumps({**json.loads(fw.read_text()), "records": []}))  # no record: not the exact tier
    monkeypatch.setattr(harness_session, "baselines_dir", tmp_path)
    monkeypatch.setattr(harness_session, "probe_check", lambda point: ("the probe is bit-identical to its record", []))
    part = harness_session.firmware_verdict("scaled")
    assert not part.failed, part.message
    said = " ".join(part.notes)
    assert "no firmware record of this float model" in said and "fresh seeds converted" in said, said
    assert guard.load_seeds(fw) is not None
    true_predict = ModelGraph.predict
    monkeypatch.setattr(ModelGraph, "predict", lambda self, x: np.round(true_predict(self, x), 1))
    part = harness_session.firmware_verdict("scaled")
    assert part.failed and part.tier == "statistical", part.message
    assert "firmware.agreement: fresh" in part.message and "compiled once for many" in part.message, part.message
    assert "pytest -m firmware --update-baselines -k scaled" in part.message, part.message


def test_stale_or_foreign_seeds_firmware_is_said_and_judges_nothing(harness_session, monkeypatch, tmp_path):
    """Seeds' firmware of a training baseline since re-recorded, or of another backend, is never judged against."""
    import json
    import shutil

    label = harness_session.settings.label
    shutil.copytree(Path(harness_session.baselines_dir) / label, tmp_path / label, ignore=shutil.ignore_patterns("_*"))
    monkeypatch.setattr(harness_session, "baselines_dir", tmp_path)
    path = tmp_path / label / "firmware" / "scaled.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "seeds": {**doc["seeds"], "training": "0" * 16}}))
    judged, notes = harness_session.firmware_statistical("scaled")
    assert judged is None and "a training baseline since re-recorded" in notes[0], notes
    assert "pytest -m firmware --update-baselines -k scaled" in notes[0], notes
    path.write_text(json.dumps({**doc, "seeds": {**doc["seeds"], "backend": "jax"}}))
    judged, notes = harness_session.firmware_statistical("scaled")
    assert judged is None and "jax's keras-replicas seeds" in notes[0], notes
    path.write_text(json.dumps({**doc, "seeds": {**doc["seeds"], "results": {"0": {"firmware.accuracy": 0.7}}}}))
    judged, notes = harness_session.firmware_statistical("scaled")
    assert judged is None and "its seeds are not a firmware baseline ('firmware.agreement')" in notes[0], notes
