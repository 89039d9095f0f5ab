"""``python -m harness`` as a user runs it, on this checkout's code: in this process, or in a new one.

In this process (:func:`harness`) a command costs what it does, not the seconds a new Python
spends importing TensorFlow; it runs on this process's backend. A new process (:func:`harness_process`)
is for what only a process shows: its stderr as the terminal gets it (library chatter), a fresh import.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from harness import cli

ROOT = Path(__file__).resolve().parent.parent


def pythonpath() -> str:
    """This checkout first, then what the caller's ``PYTHONPATH`` held (a ``sitecustomize`` that blocks an import)."""
    return os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    """``contextlib.chdir`` (Python 3.11) for Python 3.10."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m harness ARGS`` in ``cwd``, run by :func:`harness.cli.main` here: its exit status and output."""
    out, err = io.StringIO(), io.StringIO()
    with chdir(cwd), redirect_stdout(out), redirect_stderr(err):
        try:
            status = cli.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            status = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(["python", "-m", "harness", *args], status, out.getvalue(), err.getvalue())


def harness_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m harness ARGS`` in a new Python process, as a terminal runs it."""
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )
