"""What a training ran on: versions, backend and the processor features that decide its bits.

Recorded in every baseline, shard and session file. :data:`EXACT_KEYS` names the entries
that can change the numbers a seed trains to (the backend and its version, Keras, NumPy,
scikit-learn's split and scaler, the instruction set its kernels were chosen for, oneDNN, the
thread count and thread settings); seeds trained
where these differ are not merged into one baseline. The CPU's model name is recorded but
not compared: the same packages on an AMD EPYC and an Intel Xeon gave the same bits. The
instruction set is: capping oneDNN at AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``) on the AVX-512 Xeon these
baselines were recorded on moved seed 0's ``adam`` accuracy from 0.72075 to 0.72545.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

EXACT_KEYS: tuple[str, ...] = (
    "python",
    "backend",
    "backend_version",
    "keras",
    "numpy",
    "scikit-learn",
    "isa",
    "onednn",
    "threads",
    "thread_env",
)


def fingerprint() -> dict[str, str]:
    """Versions and machine a run was measured with: a drift report starts here.

    Versions come from package metadata, so recording them never imports TensorFlow.
    """
    keras = sys.modules.get("keras")
    backend = keras.backend.backend() if keras else os.environ.get("KERAS_BACKEND", "tensorflow")
    env = {"python": platform.python_version(), "backend": backend}
    env["backend_version"] = _version(backend)
    for package in ("keras", "numpy", "scikit-learn"):
        env[package] = _version(package)
    env["machine"] = f"{platform.system()} {platform.machine()}"
    env["cpu"], env["isa"] = _cpu()
    env["onednn"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default") if backend == "tensorflow" else "n/a"
    if "ONEDNN_MAX_CPU_ISA" in os.environ:  # caps the kernels oneDNN picks: AVX2 on this Xeon changed seed 0's bits
        env["onednn"] += f" max_isa={os.environ['ONEDNN_MAX_CPU_ISA']}"
    env["threads"] = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    names = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
    env["thread_env"] = " ".join(f"{n}={os.environ[n]}" for n in names if n in os.environ) or "unset"
    env["commit"] = commit()
    return env


def differences(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """``key: a vs b`` for each :data:`EXACT_KEYS` entry the two environments disagree on."""
    return [f"{key}: {a.get(key, '?')} vs {b.get(key, '?')}" for key in EXACT_KEYS if a.get(key) != b.get(key)]


@functools.cache
def commit() -> str:
    """The checkout's commit when this process first asked, ``+dirty`` when its tracked files differed from it.

    Asked once: a long training records the code it started with, not whatever is checked out when it ends.
    """
    folder = Path(__file__).parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, cwd=folder
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=folder,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = head.stdout.strip()
    return f"{sha}+dirty" if sha and dirty.stdout.strip() else sha or "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _cpu() -> tuple[str, str]:
    """The processor's model name and the widest vector instruction set its kernels can use."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() in {"flags", "Features"}:
                flags = set(value.split())
                break
    except OSError:
        pass
    for isa in ("avx512f", "avx2", "sse4_2", "asimd"):
        if isa in flags:
            return model, isa
    return model, platform.machine()
