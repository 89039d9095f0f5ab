"""Another machine, nothing changed: CI stays green, on every backend's committed records.

Each case runs ``pytest`` on one exercise's baseline, as a user's CI would (in this process, through
pytester), with this machine made to look like another one: an AMD EPYC's identity in
``/proc/cpuinfo`` (what XLA and MKL dispatch on), or a committed record's fingerprint computing
other bits (the numerics probe of a machine the fingerprint cannot tell apart). The exact tier must step aside
for fresh seeds there, in one note, and the run must pass; where the backend's kernels are known
to give the recorder's bits on that CPU (TensorFlow's oneDNN, measured), the exact tier still decides.
Each backend's cases run in that backend's suite: TensorFlow's in ``pytest``, JAX's in CI's JAX step
(``pytest --backend jax tests/test_machines.py``), PyTorch's in ``tox -e torch``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harness.core.backend import active

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("keras_before_pytester")

#: An AMD EPYC's identity in ``/proc/cpuinfo`` (what XLA and MKL dispatch on): (cpu, cpu_model, isa, isa_flags).
EPYC = (
    "AMD EPYC 9R14 96-Core Processor",
    "AuthenticAMD 25 17",
    "avx512f",
    "avx avx2 avx512_bf16 avx512bw avx512cd avx512dq avx512f avx512vl fma sse sse2 sse4_1 sse4_2 ssse3",
)
FAKES = ("epyc", "other-bits")
CASES = [(backend, fake) for backend in ("tensorflow", "jax", "torch") for fake in FAKES]


@pytest.mark.training
@pytest.mark.parametrize("backend, fake", CASES, ids=[f"{b}-{f}" for b, f in CASES])
def test_a_clean_run_on_another_machine_passes(project: pytest.Pytester, monkeypatch, backend, fake):
    """``epyc``: another CPU identity, whose tier and note the records decide (for TensorFlow, a
    recorder's ``isa`` with the recorder's bits stays exact). ``other-bits``: the fingerprint of a
    committed record with a numerics probe no machine computes, so the key matches and the bits do not."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    if backend != active():  # each backend's case runs in that backend's suite (CI's JAX step, tox -e torch)
        pytest.skip(f"runs in the {backend} suite (pytest --backend {backend} tests/test_machines.py)")
    from harness.core import environment
    from harness.judge import exact
    from harness.train import numerics

    records = _records(backend)
    if fake == "epyc":
        monkeypatch.setattr(environment, "_cpu", lambda: EPYC)
        record, why = exact.find(records, environment.fingerprint(), numerics.probe(), 0)
        if "computes other bits" in why:  # a record's key, this machine's bits: the other-bits case, a minute again
            pytest.skip("here the EPYC identity matches a record's key and computes other bits: the other-bits case")
        tier, note = ("exact", None) if record else ("statistical", why.split(" (")[0])
    else:
        key = {k: v for k, v in records[0].environment.items() if k in environment.exact_keys(backend)}
        real = environment.fingerprint
        monkeypatch.setattr(environment, "fingerprint", lambda: {**real(), **key})
        monkeypatch.setattr(numerics, "probe", lambda: "0" * 64)
        tier, note = "statistical", "computes other bits"
    result = project.runpytest(
        *("-p", "no:cacheprovider", "-k", "test_baseline and sgd", f"--backend={backend}", "--fresh-seeds=4"),
        f"--baselines-dir={ROOT / 'baselines'}",
        f"--artifacts-dir={project.path / 'artifacts'}",
        "--no-plots",  # the verdict is the subject; figures would add seconds, not checks
    )
    out = result.stdout.str()
    assert result.ret == 0, out[-3000:]
    assert f"pass ({tier})" in out, out[-3000:]
    if note:
        assert note in out, out[-3000:]


def _records(backend: str) -> list:
    """The committed ``sgd`` baseline's exact records made on ``backend`` (its file holds every backend's)."""
    from harness.judge import baseline

    path = baseline.resolve(ROOT / "baselines", "surrogate-quick", "sgd", backend)
    records = [r for r in baseline.load(path).exact if r.environment.get("backend") == backend]
    if not records:
        pytest.skip(f"{path} holds no exact record")
    return records
