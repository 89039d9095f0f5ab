"""What the harness's own tests share, beyond the plugin the root ``conftest.py`` loads for users."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# The harness's own property tests (not the user's plugin, which has no use for hypothesis). CI replays the
# same examples every run (a red CI means the code changed, not the draw); locally, hypothesis explores.
# HYPOTHESIS_PROFILE=dev or =ci picks one explicitly.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

#: What pytest-xdist tells a worker about itself. A Python a test starts (a user's ``pytest``, ``python -m
#: harness``) is no worker: pytest-benchmark there reads ``PYTEST_XDIST_WORKER`` and turns itself off.
XDIST_WORKER_VARIABLES = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID")


@pytest.fixture(autouse=True, scope="session")
def _children_are_not_xdist_workers() -> Iterator[None]:
    """Under ``pytest -n 2`` the processes and in-process pytests the tests start run as a user's would."""
    with pytest.MonkeyPatch.context() as patch:
        for name in XDIST_WORKER_VARIABLES:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def keras_before_pytester() -> None:
    """Keras and its backend, loaded before pytester snapshots ``sys.modules``: pytester drops what a test
    imported once it ends, and TensorFlow cannot be imported twice in one process. Module-scoped, so it is
    set up before the function-scoped pytester; a fixture, not a top-level import, so that collecting the
    tests stays free of Keras (``tests/test_layout.py``)."""
    import harness.session  # noqa: F401


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A copy of this repository's conftest and exercise tests in an empty folder (modules that use it load
    the ``pytester`` plugin). A pytest it runs in a subprocess imports this checkout's ``harness``, not an
    installed copy."""
    from run_cli import pythonpath  # beside this file; a copy of this conftest elsewhere never asks for it

    root = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("PYTHONPATH", pythonpath())
    pytester.makeconftest((root / "conftest.py").read_text())
    # Its own module name: the outer session may have imported tests/test_exercises.py already.
    pytester.makepyfile(test_copied_exercises=(root / "tests" / "test_exercises.py").read_text())
    return pytester
