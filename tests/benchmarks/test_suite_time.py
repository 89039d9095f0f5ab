"""How long the project's own test runs take: the suite budget as a benchmark, never a timed assert.

Targets (2 cores, no optional extras): ``pytest -m "not training"`` ≤ 90 s, the whole default ``pytest``
≤ 5 minutes. ``pytest tests/benchmarks --benchmark-only -k suite_time`` measures both, one round each,
in a subprocess as a user runs them; ``bench compare`` then compares two such files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: What each benchmark runs, and its target in seconds (recorded in extra_info, not asserted).
SUITES = {"harness-tests": (["-m", "not training"], 90.0), "default": ([], 300.0)}


@pytest.mark.full_suite
@pytest.mark.benchmark(group="suite-time")
@pytest.mark.parametrize("suite", list(SUITES))
def test_suite_time(benchmark, tmp_path, suite):
    args, target = SUITES[suite]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, f"--artifacts-dir={tmp_path}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = benchmark.pedantic(
        lambda: subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True),
        rounds=1,
        iterations=1,
        warmup_rounds=0,
    )
    benchmark.extra_info.update({"target_s": target, "command": " ".join(["pytest", *args]), "rc": done.returncode})
    assert done.returncode == 0, done.stdout[-3000:]
