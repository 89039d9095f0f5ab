"""The pytest plugin end to end, as a user meets it: missing baseline, update, pass, drift, regenerate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Imported here, before pytester snapshots sys.modules: numpy and TensorFlow load once per process.
import harness.session  # noqa: F401

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.training


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A copy of this repository's conftest and exercise tests in an empty folder."""
    pytester.makeconftest((ROOT / "conftest.py").read_text())
    pytester.makepyfile(test_exercises=(ROOT / "tests" / "test_exercises.py").read_text())
    return pytester


def run(project: pytest.Pytester, *extra: str) -> pytest.RunResult:
    base = project.path
    return project.runpytest(
        "--profile",
        "smoke",
        "-k",
        "test_baseline and sgd",
        "-p",
        "no:cacheprovider",
        "--baselines-dir",
        str(base / "baselines"),
        "--artifacts-dir",
        str(base / "artifacts"),
        *extra,
    )


def test_missing_then_update_then_pass_then_drift(project):
    baseline_file = project.path / "baselines" / "surrogate-smoke" / "sgd.json"

    missing = run(project)
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(
        [f"*{baseline_file}: no baseline; create or update it with: pytest --update-baselines -k sgd --profile smoke*"]
    )

    run(project, "--update-baselines", "--baseline-seeds", "2").assert_outcomes(passed=1)
    stored = json.loads(baseline_file.read_text())
    assert stored["seeds"] == [0, 1] and len(stored["metrics"]["accuracy"]["values"]) == 2

    run(project).assert_outcomes(passed=1)

    stored["metrics"]["accuracy"]["values"] = [0.99, 0.991]
    baseline_file.write_text(json.dumps(stored))
    drift = run(project)
    drift.assert_outcomes(failed=1)
    drift.stdout.fnmatch_lines(
        [
            f"*sgd: training differs from the baseline {baseline_file}:*",
            "*accuracy: observed *, expected 0.9905 ± *(4σ, σ=* over 2 seeds)*",
            "*If the change is intended, create or update it with: pytest --update-baselines -k sgd --profile smoke*",
        ]
    )
    assert "Traceback" not in drift.stdout.str()

    run(project, "--update-baselines", "--baseline-seeds", "2").assert_outcomes(passed=1)
    run(project).assert_outcomes(passed=1)


def test_artifacts_are_announced_in_the_summary(project):
    result = run(project, "--update-baselines", "--baseline-seeds", "2")
    result.stdout.fnmatch_lines(
        ["*jet-harness artifacts*", f"plots and metrics.json: {project.path}/artifacts/surrogate-smoke/"]
    )
    assert (project.path / "artifacts" / "surrogate-smoke" / "sgd" / "roc.png").exists()


def test_bad_option_is_one_line(project):
    result = project.runpytest("--profile", "fast", "-k", "sgd", "-p", "no:cacheprovider")
    assert result.ret == 4
    result.stdout.fnmatch_lines(["*jet-harness: unknown profile 'fast': choose one of quick, full, smoke*"])
