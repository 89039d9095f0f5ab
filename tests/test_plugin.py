"""The pytest plugin end to end, as a user meets it: missing baseline, update, pass, drift, regenerate."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from run_cli import pythonpath

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.training, pytest.mark.usefixtures("keras_before_pytester")]


def run(project: pytest.Pytester, *extra: str, subprocess: bool = False) -> pytest.RunResult:
    base = project.path
    select = () if "-k" in extra else ("-k", "test_baseline and sgd")
    options = ["--profile", "smoke", "-p", "no:cacheprovider", *select]
    options += ["--baselines-dir", str(base / "baselines"), "--artifacts-dir", str(base / "artifacts")]
    runner = project.runpytest_subprocess if subprocess else project.runpytest
    return runner(*options, *extra)


def test_missing_then_update_then_pass_then_drift(project):
    """Every run here is ``--no-plots``: the checks do not read figures, and drawing them took a quarter of the time."""
    from harness.core.backend import DEFAULT, active
    from harness.judge.baseline import own_label
    from harness.train.side_by_side import TRAINER

    shared_file = project.path / "baselines" / "surrogate-smoke" / "sgd.json"
    baseline_file = project.path / "baselines" / own_label("surrogate-smoke", active()) / "sgd.json"  # written
    on = "" if active() == DEFAULT else f" --backend={active()}"  # a pasted command trains on this backend

    missing = run(project, "--no-plots")
    missing.assert_outcomes(failed=1)
    update = f"pytest --update-baselines -k sgd --profile=smoke{on} --baselines-dir={project.path / 'baselines'}"
    missing.stdout.fnmatch_lines([f"*{shared_file}: no baseline; create or update it with: {update}"])

    # the printed command, pasted as it stands (it selects test_data_unchanged's baseline too)
    pasted = project.runpytest(*shlex.split(update)[1:], "-p", "no:cacheprovider", "--no-plots")
    pasted.assert_outcomes(passed=2, skipped=1)
    stored = json.loads(baseline_file.read_text())
    assert stored["seeds"] == list(range(40)) and stored["trainer"] == TRAINER

    exact = run(project, "--no-plots")  # this environment's exact record of seed 0 decides
    exact.assert_outcomes(passed=1)
    exact.stdout.fnmatch_lines(["sgd       0.* not asserted  pass (exact)", "metrics.json (--no-plots): *"])
    assert not list((project.path / "artifacts").rglob("*.png")), "--no-plots drew a figure"

    # the exact record no longer matches: what moved, and the command that re-records it, pasted
    record = stored["exact"][0]["seeds"]["0"]
    record["digest"], record["metrics"]["accuracy"] = "0" * 64, record["metrics"]["accuracy"] + 0.01
    baseline_file.write_text(json.dumps(stored))
    moved = run(project, "--no-plots")
    moved.assert_outcomes(failed=1)
    rerecord = f"pytest --record-exact -k sgd --profile=smoke{on} --baselines-dir={project.path / 'baselines'}"
    moved.stdout.fnmatch_lines(
        [
            f"*sgd: seed 0 no longer trains to its exact record in {baseline_file}:*",
            "*accuracy: recorded *, now *",
            f"*If intended, re-record with: {rerecord} (it records only where fresh seeds still train like*",
        ]
    )
    rerecorded = project.runpytest(*shlex.split(rerecord)[1:], "-p", "no:cacheprovider", "--no-plots")
    rerecorded.assert_outcomes(passed=2, skipped=1)
    rerecorded.stdout.fnmatch_lines([f"jet-harness wrote {baseline_file}: record *: seed 0 digest 000000000000 -> *"])
    run(project, "--no-plots").assert_outcomes(passed=1)

    # every stored seed far above what fresh seeds reach: the statistical tier flags it
    stored = json.loads(baseline_file.read_text())
    stored["metrics"]["accuracy"]["values"] = [0.99 + 1e-4 * i for i in range(40)]
    baseline_file.write_text(json.dumps(stored))
    run(project, "--no-plots").assert_outcomes(passed=1)  # bit for bit, seed 0 still trains as recorded
    drift = run(project, "--no-plots", "--tier", "statistical")
    drift.assert_outcomes(failed=1)
    drift.stdout.fnmatch_lines(
        [
            f"*sgd: fresh seeds (0's own run and 40-48) train differently from the baseline {baseline_file}:*",
            "*accuracy (*seeds): fresh median * vs stored median 0.99* (p = *, flagged at ≤ *",
            f"*If the change is intended, create or update it with: {update}",
        ]
    )
    assert "Traceback" not in drift.stdout.str()

    # re-recording while fresh seeds train differently would accept the change: refused, the file untouched
    stored = json.loads(baseline_file.read_text())
    stored["exact"][0]["seeds"]["0"]["digest"] = "0" * 64
    baseline_file.write_text(json.dumps(stored))
    before = baseline_file.read_text()
    refused = project.runpytest(*shlex.split(rerecord)[1:], "-p", "no:cacheprovider", "--no-plots")
    refused.assert_outcomes(failed=1, passed=1, skipped=1)
    refused.stdout.fnmatch_lines(
        [
            f"*sgd: not recorded: fresh seeds (0's own run and 40-48) train differently from the baseline"
            f" {baseline_file}:*",
            "*accuracy (*seeds): fresh median * vs stored median 0.99*",
            "*If the change is intended, add --intended to record it anyway, or create or update it with:*",
        ]
    )
    assert baseline_file.read_text() == before and "jet-harness wrote" not in refused.stdout.str()
    intended = project.runpytest(*shlex.split(rerecord)[1:], "--intended", "-p", "no:cacheprovider", "--no-plots")
    intended.assert_outcomes(passed=2, skipped=1)
    intended.stdout.fnmatch_lines([f"jet-harness wrote {baseline_file}: record *: seed 0 digest 000000000000 -> *"])

    weak = run(project, "--no-plots", "--update-baselines", "--baseline-seeds", "2")
    assert weak.ret == pytest.ExitCode.USAGE_ERROR
    weak.stderr.fnmatch_lines(
        ["*a baseline of 2 seeds flags a 4σ shift with 0% probability; the guard needs at least *"]
    )
    fewer_fresh = run(project, "--no-plots", "--update-baselines", "--baseline-seeds", "12", "--fresh-seeds", "5")
    assert fewer_fresh.ret == pytest.ExitCode.USAGE_ERROR  # 12 seeds suffice for 10 fresh seeds, not for 5
    fewer_fresh.stderr.fnmatch_lines(["*a baseline of 12 seeds flags *; the guard needs at least 29 *"])
    run(project, "--no-plots", "--update-baselines", "--baseline-seeds", "2", "--weak-baseline").assert_outcomes(
        passed=1
    )
    weakened = run(project, "--no-plots", "--tier", "statistical")
    weakened.assert_outcomes(passed=1)
    weakened.stdout.fnmatch_lines(
        ["jet-harness note: weak baseline: 2 learning seeds flag a 4σ shift of one metric with 0% *"]
    )


def test_artifacts_are_announced_in_the_summary(project):
    """Baseline seeds train side by side and leave no artifacts; the checked run (``model.fit``), whose exact
    record an update stores, leaves them."""
    run(project, "--update-baselines", "--baseline-seeds", "2", "--weak-baseline").assert_outcomes(passed=1)
    latest = project.path / "artifacts" / "latest"
    assert [p.name for p in latest.iterdir() if p.is_dir()] == ["sgd"]
    assert json.loads((latest / "sgd" / "metrics.json").read_text())["seed"] == 0
    result = run(project)
    result.stdout.fnmatch_lines(
        [
            "*jet-harness: surrogate-smoke, seed 0*",
            "exercise  accuracy  behaviour*baseline",
            "sgd       0.* not asserted  pass (exact)",
            f"plots and metrics.json: {project.path}/artifacts/runs/*-surrogate-smoke*-seed0/surrogate-smoke/",
            f"latest run: {project.path}/artifacts/latest/ (this one)",
        ]
    )
    assert (project.path / "artifacts" / "latest" / "sgd" / "roc.png").exists()


def test_bad_option_is_one_line(project):
    result = project.runpytest("--profile", "fast", "-k", "sgd", "-p", "no:cacheprovider")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: jet-harness: unknown profile 'fast': choose one of quick, full, smoke"])


def test_xdist_shares_runs_between_workers_and_matches_serial(project):
    """``-n 2`` trains each run once in all (``sgd`` is needed by both tests) and gives the serial numbers."""
    select = ("-k", "test_behaviour and (adam or scaled)")
    artifacts = project.path / "artifacts" / "latest"

    def metrics() -> dict:
        return {
            n: json.loads((artifacts / n / "metrics.json").read_text())["metrics"] for n in ("sgd", "adam", "scaled")
        }

    # In a process of its own: pytest-xdist gives its workers the sys.path their controller started with,
    # which in this process lacks this checkout (the copied conftest.py is elsewhere), so they imported an
    # installed copy's harness.
    parallel = run(project, *select, "-n", "2", subprocess=True)
    parallel.stdout.fnmatch_lines(["jet-harness: 3 training runs shared between workers, each once"])
    both = parallel.stdout.str() + parallel.stderr.str()
    assert "cuInit" not in both and "E0000" not in both, "TensorFlow's start-up noise reached the terminal"
    drawn_by_controller = artifacts / "compare" / "sgd_vs_adam.png"
    assert drawn_by_controller.exists(), "the controller draws comparisons from the workers' runs"
    from_workers = metrics()
    serial = run(project, *select)
    verdicts = ("passed", "failed", "errors")
    assert [serial.parseoutcomes().get(v) for v in verdicts] == [parallel.parseoutcomes().get(v) for v in verdicts]
    assert metrics() == from_workers


def test_k_typo_says_which_names_exist(project):
    result = run(project, "-k", "adma")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["jet-harness: -k 'adma' selects no test; exercises: sgd, scaled, l1, lr_1e-05, *"])


def test_unwritable_artifacts_dir_stops_before_training(project):
    result = run(project, "--artifacts-dir", "/proc/forbidden")
    assert result.ret == 4
    result.stdout.fnmatch_lines(["*jet-harness: artifacts directory /proc/forbidden is not writable*"])


def test_a_bad_dataset_file_is_one_line_once(project):
    bad = project.path / "jets.csv"
    bad.write_text("j_mass_mmdt,class\n1,q\n")
    result = run(project, "-k", "sgd", f"--dataset={bad}")
    assert result.ret == 4
    out = result.stdout.str() + result.stderr.str()
    assert out.count("missing column(s)") == 1 and "Traceback" not in out and "passed" not in out
    result.stderr.fnmatch_lines([f"ERROR: jet-harness: {bad}: missing column(s) j_zlogz, *"])


def test_an_unwritable_baselines_dir_stops_an_update_before_training(project):
    result = run(project, "--update-baselines", "--baselines-dir=/proc/forbidden")
    assert result.ret == 4
    result.stdout.fnmatch_lines(["*jet-harness: baselines directory /proc/forbidden/surrogate-smoke is not writable*"])
    assert "epoch" not in result.stdout.str()


def test_orphaned_baseline_fails_with_its_path(project):
    project.makepyfile(test_copied_exercises=(ROOT / "tests" / "test_exercises.py").read_text())
    orphan = project.path / "baselines" / "surrogate-smoke" / "dropout.json"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}")
    result = run(project, "-k", "orphaned")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*baselines for exercises that no longer exist: {orphan}; delete them*"])
    assert orphan.read_text() == "{}"


def _pytest_here(*args: str, env: dict[str, str] | None = None):
    """``pytest ARGS`` in this checkout, as a user types it."""
    import os
    import subprocess
    import sys

    environ = {**os.environ, "PYTHONPATH": pythonpath(), **(env or {})}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600)


def test_a_k_that_selects_only_harness_tests_says_no_exercise_ran():
    """``pytest -k adma`` selects the harness's own tests whose ids hold "adma": green, but never silent."""
    done = _pytest_here("-k", "adma")
    assert done.returncode == 0, done.stdout[-2000:]
    assert (
        "jet-harness: -k 'adma' selects none of the exercises (sgd, scaled, l1, lr_1e-05, lr_0.1, adam)" in done.stdout
    )


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--dataset=/tmp/jet-harness-no-such.csv"], {}, "jet-harness: /tmp/jet-harness-no-such.csv: no such dataset"),
        (["--profile=ful"], {}, "jet-harness: unknown profile 'ful'"),
        ([], {"KERAS_MAX_EPOCHS": "5"}, "jet-harness: KERAS_MAX_EPOCHS=5 changes what the exercises train; unset it"),
        ([], {"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}, "jet-harness: TF_SET_ONEDNN_FPMATH_MODE=BF16 changes what"),
    ],
    ids=["missing-dataset", "profile-typo", "keras-max-epochs", "bf16-fpmath"],
)
def test_a_bad_setting_stops_pytest_before_any_test_in_one_line(args, env, message):
    done = _pytest_here("-k", "adam", *args, env=env)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:]
    out = done.stdout + done.stderr
    assert message in out and "passed" not in out and "Traceback" not in out and "!!!" not in out, out[-2000:]


def test_too_few_fresh_seeds_fail_in_one_line_before_any_fresh_seed_trains():
    done = _pytest_here("-k", "test_baseline and sgd", "--tier=statistical", "--fresh-seeds=3")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-2000:]
    assert "--fresh-seeds 3 can never flag a change against 40 stored seeds" in done.stdout
    assert "use at least 4" in done.stdout and "Traceback" not in done.stdout
    assert "fresh seeds (40-" not in done.stdout, "no fresh seed was judged"
    refused = _pytest_here("-k", "sgd", "--fresh-seeds=1")
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR and "--fresh-seeds 1 can never flag" in refused.stderr
