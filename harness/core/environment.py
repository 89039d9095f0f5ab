"""What a training ran on: versions, backend, device and the processor features that decide its bits.

Recorded in every baseline, shard and session file. :func:`exact_keys` names, per backend, the
entries that can change the numbers a seed trains to; seeds trained where these differ are not
merged into one baseline, and an exact record applies only where they all match.

The processor is described as finely as each backend's kernels choose their code:

* TensorFlow's oneDNN kernels dispatch on the instruction-set level (``isa``); the same packages on
  an AMD EPYC and an Intel Xeon gave the same bits, so the CPU model is recorded but not compared.
  Capping oneDNN (``ONEDNN_MAX_CPU_ISA`` or ``DNNL_MAX_CPU_ISA``) is compared: AVX2 on an AVX-512
  Xeon moved seed 0's ``adam`` accuracy from 0.72075 to 0.72545.
* XLA (JAX) compiles for the host CPU through LLVM, which picks its code from the CPU's name
  (vendor, family, model) and feature flags, so both are compared (``cpu_model``, ``isa_flags``).
* PyTorch dispatches its own kernels on ``torch.backends.cpu.get_cpu_capability()`` and its matmuls
  to MKL, which chooses code paths by vendor and microarchitecture: the same two keys, plus the
  capability. JAX's and PyTorch's records made on a Xeon failed on an EPYC with the coarse key.

Even so a key can match where the bits do not; :mod:`harness.train.numerics` records a probe for that.
Settings that change *what* is trained rather than where (:func:`training_settings_problem`) are
not an environment at all: they are refused.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from harness.core.errors import ConfigError
from harness.core.quiet import tensorflow_noise_filtered

#: Compared on every backend.
COMMON_KEYS: tuple[str, ...] = (
    "python",
    "backend",
    "backend_version",
    "keras",
    "numpy",
    "scikit-learn",
    "device",
    "threads",
    "thread_env",
)

#: Compared on one backend only: how that backend's kernels are chosen (module docstring).
BACKEND_KEYS: dict[str, tuple[str, ...]] = {
    "tensorflow": ("isa", "onednn", "tf_xla_flags"),
    "jax": ("jaxlib", "cpu_model", "isa_flags", "xla_flags", "jax_env"),
    "torch": ("cpu_model", "isa_flags", "torch_cpu"),
}

#: The CPU flags that name instruction-set extensions a compiler or kernel library may use. The rest of
#: ``/proc/cpuinfo``'s flags (mitigations, virtualisation, power management) change with the kernel and
#: microcode, not with the code a library runs, and would split identical machines into two environments.
ISA_FLAG = re.compile(
    r"^(sse\w*|ssse3|avx\w*|fma\w*|f16c|bmi\d|amx\w*|adx|aes|vaes|pclmulqdq|vpclmulqdq|gfni|sha_ni|movbe|popcnt|"
    r"abm|lzcnt|xsave\w*|asimd\w*|sve\w*|fp16|fphp|bf16|i8mm|neon)$"
)

#: Settings Keras, TensorFlow or oneDNN read that change what is trained: (variable, value it may have).
#: ``None`` means the variable must not be set at all.
TRAINING_SETTINGS: dict[str, str | None] = {
    "KERAS_MAX_EPOCHS": None,  # keras/src/backend/config.py: caps every fit's epochs
    "KERAS_MAX_STEPS_PER_EPOCH": None,  # likewise, steps per epoch
    "TF_SET_ONEDNN_FPMATH_MODE": "STRICT",  # BF16/TF32 lets oneDNN round float32 matmuls' inputs
}

#: keras.json entries the exercises assume (Keras's own defaults); another value trains another model.
KERAS_CONFIG: dict[str, object] = {"floatx": "float32", "epsilon": 1e-07}


def exact_keys(backend: str) -> tuple[str, ...]:
    """The fingerprint entries that must match for one seed to reproduce its bits on ``backend``."""
    return COMMON_KEYS + BACKEND_KEYS.get(backend, ())


#: Every entry some backend compares (for tests and listings).
EXACT_KEYS: tuple[str, ...] = COMMON_KEYS + tuple(dict.fromkeys(k for keys in BACKEND_KEYS.values() for k in keys))


def fingerprint() -> dict[str, str]:
    """Versions, device and machine a run was measured with: a drift report starts here.

    Versions come from package metadata, so recording them never imports TensorFlow; the device
    is asked of the backend only once Keras has imported it.
    """
    keras = sys.modules.get("keras")
    backend = keras.backend.backend() if keras and hasattr(keras, "backend") else os.environ.get("KERAS_BACKEND")
    backend = backend or "tensorflow"
    env = {"python": platform.python_version(), "backend": backend}
    env["backend_version"] = _distribution_version(backend)
    for package in ("keras", "numpy", "scikit-learn"):
        env[package] = _version(package)
    env["device"] = device(backend)
    env["machine"] = f"{platform.system()} {platform.machine()}"
    cpu = _cpu()
    env["cpu"], env["cpu_model"], env["isa"], env["isa_flags"] = cpu
    env["threads"] = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    names = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    env["thread_env"] = _env_line(names)
    # every backend's entries are recorded (a listing reads them); only the backend's own are compared
    env["onednn"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")
    for cap in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):  # oneDNN reads both spellings
        if cap in os.environ:
            env["onednn"] += f" max_isa={os.environ[cap]}"
    env["tf_xla_flags"] = os.environ.get("TF_XLA_FLAGS", "unset")
    env["jaxlib"] = _version("jaxlib")
    env["xla_flags"] = os.environ.get("XLA_FLAGS", "unset")
    env["jax_env"] = _env_line(("JAX_ENABLE_X64", "JAX_DEFAULT_MATMUL_PRECISION"))
    env["torch_cpu"] = _torch_cpu_capability()
    env["commit"] = commit()
    return env


def differences(a: Mapping[str, str], b: Mapping[str, str]) -> list[str]:
    """``key: a vs b`` for each compared entry (:func:`exact_keys` of either's backend) the two disagree on.

    Flag lists show only the flags one side has and the other lacks.
    """
    keys = dict.fromkeys((*exact_keys(str(a.get("backend"))), *exact_keys(str(b.get("backend")))))
    moved = []
    for key in keys:
        x, y = str(a.get(key, "?")), str(b.get(key, "?"))
        if x == y:
            continue
        if key == "isa_flags" and "?" not in (x, y):
            only_a, only_b = sorted(set(x.split()) - set(y.split())), sorted(set(y.split()) - set(x.split()))
            moved.append(f"{key}: {' '.join(only_a) or 'nothing'} vs {' '.join(only_b) or 'nothing'} only")
        else:
            moved.append(f"{key}: {x} vs {y}")
    return moved


def training_settings_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """One line naming a setting that changes what the exercises train, or ``None``.

    Such a setting is not another environment to record but another training; it is refused
    before anything trains, so no baseline is ever judged or written under it.
    """
    environ = os.environ if environ is None else environ
    for name, allowed in TRAINING_SETTINGS.items():
        value = environ.get(name)
        if value is not None and (allowed is None or value.strip().upper() != allowed):
            keep = f"unset it or set it to {allowed}" if allowed else "unset it"
            return f"{name}={value} changes what the exercises train; {keep}"
    path = keras_config_path(environ)
    try:
        config = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return None  # Keras itself falls back to its defaults on an unreadable file
    for key, default in KERAS_CONFIG.items():
        if key in config and config[key] != default:
            return f"{path} sets {key}={config[key]!r}, which changes what the exercises train (they use {default!r})"
    return None


def check_training_settings() -> None:
    """Raise :class:`~harness.core.errors.ConfigError` on a setting :func:`training_settings_problem` refuses."""
    if problem := training_settings_problem():
        raise ConfigError(problem)


def keras_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where Keras reads ``keras.json``: ``$KERAS_HOME``, else ``~/.keras`` (keras/src/backend/config.py)."""
    environ = os.environ if environ is None else environ
    home = environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "keras.json"


def device(backend: str) -> str:
    """``cpu``, or the accelerator Keras trains on (``gpu NVIDIA H200``), once the backend is imported.

    Before that, the device is not known; the entry says so, and never matches a record.
    """
    try:
        if backend == "tensorflow" and "tensorflow" in sys.modules:
            tf = sys.modules["tensorflow"]
            with tensorflow_noise_filtered():  # the first device query calls cuInit, which logs its failure
                gpus = tf.config.list_physical_devices("GPU")
            if not gpus:
                return "cpu"
            return f"gpu {tf.config.experimental.get_device_details(gpus[0]).get('device_name', gpus[0].name)}"
        if backend == "jax" and "jax" in sys.modules:
            first = sys.modules["jax"].devices()[0]
            return "cpu" if first.platform == "cpu" else f"{first.platform} {first.device_kind}"
        if backend == "torch" and "torch" in sys.modules:
            torch = sys.modules["torch"]
            return f"gpu {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    except Exception as exc:  # a broken driver is an environment too, and must not stop a record
        return f"unknown ({type(exc).__name__})"
    return "not yet imported"


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


def _env_line(names: tuple[str, ...]) -> str:
    return " ".join(f"{n}={os.environ[n]}" for n in names if n in os.environ) or "unset"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _distribution_version(module: str) -> str:
    """The version of the distribution that installs ``module``: ``2.21.0`` for ``tensorflow`` itself,
    ``tensorflow-cpu 2.21.0`` or ``tf-nightly 2.22.0.dev…`` for another build of the same module."""
    names = _distributions().get(module, [])
    for name in dict.fromkeys(names):
        version = _version(name)
        if version != "absent":
            return version if name.lower() == module else f"{name} {version}"
    return _version(module)


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Module -> the distributions installing it, read once: it scans every installed package (a quarter
    second here), and the fingerprint asks on every check and record."""
    return importlib.metadata.packages_distributions()


def _torch_cpu_capability() -> str:
    """ATen's kernel dispatch level (``AVX512``, ``AVX2``, ``DEFAULT``), once torch is imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return "not yet imported"
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:  # older torch
        return "unknown"


@functools.cache
def _cpu() -> tuple[str, str, str, str]:
    """The processor's model name; vendor, family and model numbers; widest vector ISA; ISA flags."""
    model, flags, ident = platform.processor() or platform.machine(), set(), {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip() and (flags or ident):
                break  # the end of the first processor's block
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name":
                model = value.strip()
            elif key in {"vendor_id", "cpu family", "model", "CPU implementer", "CPU variant", "CPU part"}:
                ident.setdefault(key, value.strip())
            elif key in {"flags", "Features"}:
                flags = set(value.split())
    except OSError:
        pass
    cpu_model = " ".join(ident.values()) or platform.machine()
    isa_flags = " ".join(sorted(f for f in flags if ISA_FLAG.match(f)))
    for isa in ("avx512f", "avx2", "sse4_2", "asimd"):
        if isa in flags:
            return model, cpu_model, isa, isa_flags
    return model, cpu_model, platform.machine(), isa_flags


#: The lock file beside the exact records (tools/lock.py writes it).
CONSTRAINTS = "constraints.txt"

#: The packages whose versions every backend's records compare, and each backend's own (the lock pins more).
LOCKED_PACKAGES: tuple[str, ...] = ("keras", "numpy", "scikit-learn")
BACKEND_PACKAGES: dict[str, tuple[str, ...]] = {
    "tensorflow": ("tensorflow",),
    "jax": ("jax", "jaxlib"),
    "torch": ("torch",),
}


def lock_drift(baselines_dir: Path, backend: str = "tensorflow") -> str | None:
    """One line when the installed packages are not the ones ``baselines_dir``'s records were made with.

    Then no committed exact record can apply and the statistical tier decides every exercise: the
    user is told once why, and how a CI job gets the exact tier back.
    """
    path = Path(baselines_dir) / CONSTRAINTS
    if not path.is_file():
        return None
    pins = {}
    for line in path.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[name.strip().lower()] = version.strip()
    moved = []
    for package in (*LOCKED_PACKAGES, *BACKEND_PACKAGES.get(backend, ())):
        installed = _distribution_version(package).split()[-1]  # tensorflow-cpu's version is TensorFlow's
        if package in pins and installed != "absent" and installed.split("+")[0] != pins[package]:
            moved.append(f"{package} {installed}, not {pins[package]}")
    if not moved:
        return None
    return (
        f"installed packages differ from {path} ({'; '.join(moved)}): the exact records cannot apply and "
        f"fresh seeds decide; for the exact tier, install with pip install -c {path} ..."
    )
