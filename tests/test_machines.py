"""Another machine, nothing changed: CI stays green, on every backend's committed records.

Each case runs ``pytest`` on one exercise's baseline in a subprocess, as a user's CI would, with
a plugin that makes this machine look like another one: an AMD EPYC's identity in
``/proc/cpuinfo`` (what XLA and MKL dispatch on), or the same identity computing other bits (the
numerics probe of a machine the fingerprint cannot tell apart). The exact tier must step aside
for fresh seeds there, in one note, and the run must pass; where the backend's kernels are known
to give the recorder's bits on that CPU (TensorFlow's oneDNN, measured), the exact tier still decides.
Each backend's cases run in that backend's suite: TensorFlow's in ``pytest``, JAX's in CI's JAX step
(``pytest --backend jax tests/test_machines.py``), PyTorch's in ``tox -e torch``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from subprocess_cli import pythonpath

from harness.backend import active

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = textwrap.dedent(
    """
    import pytest

    EPYC = ("AMD EPYC 9R14 96-Core Processor", "AuthenticAMD 25 17", "avx512f",
            "avx avx2 avx512_bf16 avx512bw avx512cd avx512dq avx512f avx512vl fma sse sse2 sse4_1 sse4_2 ssse3")

    @pytest.hookimpl(trylast=True)  # after the root conftest.py chose the backend
    def pytest_configure(config):
        import os
        from harness import environment
        if os.environ["FAKE_MACHINE"] == "epyc":
            environment._cpu = lambda: EPYC
        else:
            from harness import numerics
            numerics.probe = lambda: "0" * 64
    """
)

CASES = [
    # backend, fake, tier that must decide, the note that says why
    ("tensorflow", "epyc", "exact", None),
    ("tensorflow", "other-bits", "statistical", "computes other bits"),
    ("jax", "epyc", "statistical", "cpu_model: GenuineIntel"),
    ("torch", "epyc", "statistical", "cpu_model: GenuineIntel"),
]


@pytest.mark.training
@pytest.mark.parametrize("backend, fake, tier, note", CASES, ids=[f"{b}-{f}" for b, f, _, _ in CASES])
def test_a_clean_run_on_another_machine_passes(tmp_path, backend, fake, tier, note):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    if backend != active():  # each backend's case runs in that backend's suite (CI's JAX step, tox -e torch)
        pytest.skip(f"runs in the {backend} suite (pytest --backend {backend} tests/test_machines.py)")
    if note and "cpu_model: GenuineIntel" in note and not _recorded_on_intel(backend):
        pytest.skip("the committed records were not made on an Intel processor")
    if tier == "exact" and not _this_machine_is_recorded(backend):
        pytest.skip("this machine holds no exact record of its own: the exact tier cannot decide here")
    (tmp_path / "fake_machine.py").write_text(PLUGIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), pythonpath()]), "FAKE_MACHINE": fake}
    command = [
        *(sys.executable, "-m", "pytest", "-p", "fake_machine", "-p", "no:cacheprovider", "-q"),
        *("tests/test_exercises.py", "-k", "test_baseline and sgd", f"--backend={backend}", "--fresh-seeds=4"),
        f"--artifacts-dir={tmp_path / 'artifacts'}",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert f"pass ({tier})" in out, out[-3000:]
    if note:
        assert note in out, out[-3000:]


def _this_machine_is_recorded(backend: str) -> bool:
    """Whether the committed ``sgd`` baseline holds a record of this very machine (key and probe) for seed 0."""
    from harness import backend as backends
    from harness import baseline, environment, exact

    if backends.active() != backend:
        return False  # the probe of another backend cannot be computed in this process
    from harness import numerics

    path = baseline.resolve(ROOT / "baselines", "surrogate-quick", "sgd", backend)
    record, _ = exact.find(baseline.load(path).exact, environment.fingerprint(), numerics.probe(), 0)
    return record is not None


def _recorded_on_intel(backend: str) -> bool:
    """The fake is an AMD identity: it differs from the recorder's only where the recorder was Intel."""
    from harness import baseline

    path = baseline.resolve(ROOT / "baselines", "surrogate-quick", "sgd", backend)
    return any("GenuineIntel" in r.environment.get("cpu_model", "") for r in baseline.load(path).exact)
