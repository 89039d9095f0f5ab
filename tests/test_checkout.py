"""``pytest`` in a checkout tests that checkout, even with another copy of the project installed."""

from __future__ import annotations

import os
import subprocess
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
