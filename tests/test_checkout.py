"""``pytest`` in a checkout tests that checkout, even with another copy of the project installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
#: Test modules that import harness and experiments but start no pytest of their own.
LIGHT_TESTS = ("tests/test_experiment.py", "tests/test_metrics.py", "-k", "not k_selects and not k_typo")
DECOY = 'raise ImportError("the other checkout\'s {name} was imported")\n'


def test_pytest_imports_this_checkouts_code_not_an_installed_copy(tmp_path):
    """A second checkout installed in the environment (here: first on PYTHONPATH) must not be what is tested.

    It once was: a ``filterwarnings`` entry naming one of our classes made pytest import
    ``harness`` while reading its configuration, before conftest.py put this checkout first.
    ``python -m pytest`` hides the problem (``-m`` puts the working folder first), so this runs
    the ``pytest`` script, as a user types it.
    """
    script = Path(sysconfig.get_path("scripts")) / "pytest"
    if not script.exists():
        pytest.skip(f"no pytest script at {script}")
    for name in ("harness", "experiments"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(DECOY.format(name=name))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [str(script), "-q", "-p", "no:cacheprovider", "-x", *LIGHT_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "the other checkout" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout[-2000:]


def readme_exercise() -> str:
    """The exercise the README's "Adding an exercise" step pastes, as written there."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n", readme.index("Adding an exercise is a few lines")) + 10
    return readme[start : readme.index("```", start)].strip()


def copy_project(dest: Path, root: Path = ROOT) -> Path:
    for name in ("harness", "experiments", "tests", "baselines"):
        shutil.copytree(root / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("conftest.py", "pyproject.toml", "README.md"):
        shutil.copy(root / name, dest / name)
    return dest


def add_exercise(project: Path, snippet: str) -> str:
    """Paste ``snippet`` into ``project``'s exercises as the README says; renamed if that name is taken
    (a checkout that already followed the README), so the paste tests the step, not a duplicate."""
    name = re.search(r'Experiment\(\s*"([^"]+)"', snippet).group(1)
    exercises = project / "experiments" / "exercises.py"
    if f'"{name}"' in exercises.read_text():
        snippet, name = snippet.replace(f'"{name}"', f'"{name}_again"', 1), f"{name}_again"
    exercises.write_text(exercises.read_text() + f"\nEXERCISES = (*EXERCISES, {snippet})\n")
    return name


def pytest_in(project: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)


def test_adding_an_exercise_as_the_readme_shows_keeps_the_harness_tests_green(tmp_path):
    """The README's example, pasted into a copy of the project: its own tests still pass."""
    copy = copy_project(tmp_path / "project")
    add_exercise(copy, readme_exercise())
    done = pytest_in(copy, "tests/test_experiment.py", "tests/test_exercises.py", "-k", SELECTION)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 passed" in done.stdout


#: The harness tests an added exercise could break: the registry, -k, orphaned baselines.
SELECTION = "registered or (k_selects and adam) or orphaned"


def test_a_checkout_that_followed_the_readme_stays_green(tmp_path):
    """A user who added the README's exercise: the paste above, repeated in their checkout, still registers.

    (It once pasted a second ``adam_fast``: "two exercises are named 'adam_fast'", red for that user.)
    """
    user = copy_project(tmp_path / "user")
    first = add_exercise(user, readme_exercise())  # the user's step
    second = add_exercise(user, readme_exercise())  # what the test above does in a copy of their checkout
    code = "from experiments import registry; print(' '.join(registry()))"
    done = subprocess.run([sys.executable, "-c", code], cwd=user, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == [first, second] and first != second


def test_under_xdist_a_pytest_a_test_starts_is_no_worker(pytester: pytest.Pytester, monkeypatch):
    """``pytest -n 2`` of this suite: a ``pytest --benchmark-only`` that a test starts (tests/test_docs.py) must
    benchmark. It inherited ``PYTEST_XDIST_WORKER``, and pytest-benchmark there refused ``--benchmark-only``.
    The pytest here runs as an xdist worker is told it is one (a real ``-n 2`` costs three more Pythons)."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(
        test_bench="def test_fast(benchmark):\n    benchmark(sum, [1, 2])\n",
        test_starts="""
        import subprocess, sys

        def test_a_started_pytest_benchmarks():
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "--benchmark-only", "-q", "-p", "no:cacheprovider", "test_bench.py"],
                capture_output=True, text=True, timeout=120,
            )
            assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_starts.py")
    result.assert_outcomes(passed=1)
