"""TensorFlow's start-up chatter stays off stderr, where a user looks for what went wrong; real errors do not."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from run_cli import harness_process, pythonpath

pytest_plugins = ["pytester"]

#: What TensorFlow 2.21 printed on every run on a machine without a GPU, written out here rather than
#: taken from harness.core.quiet, so that a pattern dropped there is seen here.
CHATTER = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cuda drivers|cuInit|NodeDef mentions attribute|^[IWE]\d{4} "
    r"|triggered tf.function retracing",
    re.MULTILINE,
)

FILTERED = """
import os, sys
from harness.core.quiet import tensorflow_noise_filtered
with tensorflow_noise_filtered():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"E0000 00:00:1795695240.405656    2990 cuda_platform.cc:52] failed call to cuInit: INTERNAL\\n")
    os.write(2, b"E0000 00:00:1795695240.613317    2990 op_kernel.cc:1830] OP_REQUIRES failed: out of memory\\n")
    print("Traceback: a real error", file=sys.stderr)
    os.write(2, b"\\r[sgd] epoch 1/3")
print("after", file=sys.stderr)
"""


def test_only_known_chatter_is_dropped_and_everything_else_arrives():
    done = subprocess.run(
        [sys.executable, "-c", FILTERED],
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": pythonpath()},
    )
    assert done.returncode == 0
    assert done.stderr == (
        b"E0000 00:00:1795695240.613317    2990 op_kernel.cc:1830] OP_REQUIRES failed: out of memory\n"
        b"Traceback: a real error\n\r[sgd] epoch 1/3after\n"
    )


@pytest.mark.training
def test_run_and_report_print_no_tensorflow_chatter(tmp_path):
    """``report`` needs no TensorFlow at all; a run keeps stderr for its progress and real errors.

    All six exercises: TensorFlow advises against retracing from the fifth model on.
    """
    options = ("--profile=smoke", f"--artifacts-dir={tmp_path / 'a'}", f"--baselines-dir={tmp_path}")
    ran = harness_process("run", *options, cwd=tmp_path)
    assert ran.returncode == 1 and "missing" in ran.stdout  # no baselines in tmp_path
    assert not CHATTER.search(ran.stderr), ran.stderr
    redrawn = harness_process("report", f"--artifacts-dir={tmp_path / 'a'}", cwd=tmp_path)
    assert redrawn.returncode == 0 and redrawn.stderr == ""
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "harness", "report", f"--artifacts-dir={tmp_path / 'a'}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": pythonpath()},
    )
    assert imports.returncode == 0 and "harness.outputs.report" in imports.stderr
    assert not re.search(r"\| (tensorflow|keras)\b", imports.stderr)


@pytest.mark.training
def test_a_failing_tests_captured_output_has_no_tensorflow_chatter(project: pytest.Pytester):
    """A missing baseline fails ``test_baseline[sgd]``: its report shows the failure, not TensorFlow's start-up."""
    base = project.path
    result = project.runpytest_subprocess(
        "--profile=smoke",
        "-k",
        "test_baseline and sgd",
        "-p",
        "no:cacheprovider",
        f"--baselines-dir={base / 'baselines'}",
        f"--artifacts-dir={base / 'artifacts'}",
        timeout=300,
    )
    result.assert_outcomes(failed=1)
    output = "\n".join(result.outlines + result.errlines)
    assert "no baseline" in output
    assert not CHATTER.search(output), output
