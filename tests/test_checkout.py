"""``pytest`` in a checkout tests that checkout, even with another copy of the project installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
        [str(script), "-q", "-p", "no:cacheprovider", "tests/test_experiment.py", "tests/test_metrics.py", "-x"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "the other checkout" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout[-2000:]


def test_adding_an_exercise_as_the_readme_shows_keeps_the_harness_tests_green(tmp_path):
    """The README's ``adam_fast`` example, pasted into a copy of the project: its own tests still pass."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("Adding an exercise is a few lines")
    snippet = readme[
        readme.index("```python\n", start) + 10 : readme.index("```", readme.index("```python\n", start) + 10)
    ]
    copy = tmp_path / "project"
    for name in ("harness", "experiments", "tests", "baselines"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("conftest.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    exercises = copy / "experiments" / "exercises.py"
    exercises.write_text(exercises.read_text() + f"\nEXERCISES = (*EXERCISES, {snippet.strip()})\n")
    selection = "registered or (k_selects and adam) or orphaned"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_experiment.py",
            "tests/test_exercises.py",
            "-k",
            selection,
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 passed" in done.stdout
