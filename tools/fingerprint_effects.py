"""Which settings change the bits a seed trains to? ``python tools/fingerprint_effects.py [--backend B]``.

Each row trains one exercise (quick profile, seed 0) in a fresh process with one environment
variable or file set, and prints whether the run's digest (:func:`harness.judge.exact.digest`) and the
numerics probe (:func:`harness.train.numerics.probe`) moved against a plain run. A setting that moves the
digest belongs in the fingerprint (a library build or a machine) or among the refused training
settings (:data:`harness.core.environment.TRAINING_SETTINGS`); one that moves nothing can be left out.
It trains through :class:`harness.session.Session` directly, past the refusal ``pytest`` and the CLI make.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (row name, backend it applies to or None for all, environment changes, keras.json or None)
ROWS: list[tuple[str, str | None, dict[str, str], dict | None]] = [
    ("plain", None, {}, None),
    ("ONEDNN_MAX_CPU_ISA=AVX2", "tensorflow", {"ONEDNN_MAX_CPU_ISA": "AVX2"}, None),
    ("DNNL_MAX_CPU_ISA=AVX2", "tensorflow", {"DNNL_MAX_CPU_ISA": "AVX2"}, None),
    ("DNNL_MAX_CPU_ISA=AVX512_CORE", "tensorflow", {"DNNL_MAX_CPU_ISA": "AVX512_CORE"}, None),
    ("TF_SET_ONEDNN_FPMATH_MODE=BF16", "tensorflow", {"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}, None),
    ("TF_ENABLE_ONEDNN_OPTS=0", "tensorflow", {"TF_ENABLE_ONEDNN_OPTS": "0"}, None),
    (
        "TF_XLA_FLAGS=--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit",
        "tensorflow",
        {"TF_XLA_FLAGS": "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"},
        None,
    ),
    ("XLA_FLAGS=--xla_cpu_max_isa=AVX2", "jax", {"XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}, None),
    ("XLA_FLAGS=--xla_cpu_max_isa=SSE4_2", "jax", {"XLA_FLAGS": "--xla_cpu_max_isa=SSE4_2"}, None),
    ("XLA_FLAGS=--xla_cpu_enable_fast_math=true", "jax", {"XLA_FLAGS": "--xla_cpu_enable_fast_math=true"}, None),
    ("ATEN_CPU_CAPABILITY=avx2", "torch", {"ATEN_CPU_CAPABILITY": "avx2"}, None),
    ("KERAS_MAX_EPOCHS=5", None, {"KERAS_MAX_EPOCHS": "5"}, None),
    ("KERAS_MAX_STEPS_PER_EPOCH=10", None, {"KERAS_MAX_STEPS_PER_EPOCH": "10"}, None),
    ("keras.json floatx=float64", None, {}, {"floatx": "float64"}),
    ("keras.json epsilon=1e-4", None, {}, {"epsilon": 1e-4}),
]

CHILD = """
import json, sys
from harness.judge import exact
from harness.train import numerics
from harness.experiment import Settings
from harness.session import Session
run = Session(Settings(), artifacts_dir=None).run(sys.argv[1])
print(json.dumps({"digest": exact.digest(run), "probe": numerics.probe()}))
"""


def measure(backend: str, exercise: str, env: dict[str, str], config: dict | None) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as home:
        environ = {**os.environ, **env, "KERAS_BACKEND": backend}
        if config is not None:
            Path(home, "keras.json").write_text(json.dumps({"backend": backend, **config}))
            environ["KERAS_HOME"] = home
        done = subprocess.run(
            [sys.executable, "-c", CHILD, exercise], cwd=ROOT, env=environ, capture_output=True, text=True
        )
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="tensorflow")
    parser.add_argument("--exercise", default="adam")
    args = parser.parse_args()
    plain = None
    print(f"| setting ({args.backend}, {args.exercise}) | training digest | numerics probe |")
    print("|---|---|---|")
    for name, only, env, config in ROWS:
        if only not in (None, args.backend):
            continue
        got = measure(args.backend, args.exercise, env, config)
        plain = plain or got
        if "error" in got:
            print(f"| {name} | error: {got['error']} | |", flush=True)
            continue
        moved = ["same" if got[k] == plain[k] else "moved" for k in ("digest", "probe")]
        print(f"| {name} | {moved[0]} ({got['digest'][:10]}) | {moved[1]} ({got['probe'][:10]}) |", flush=True)


if __name__ == "__main__":
    main()
