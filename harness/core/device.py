"""Where a number was measured: the backend, its versions and compiler, the CPU and any accelerator."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from harness.core import backend
from harness.core.environment import fingerprint


def device_info() -> dict[str, object]:
    """Where the numbers were measured: accelerator or CPU, versions, oneDNN and thread settings."""
    import keras  # Keras: only after the backend is chosen

    info: dict[str, object] = {
        "backend": keras.backend.backend(),
        "backend_version": fingerprint()["backend_version"],
        "keras": keras.__version__,
        "jit": _jit(keras.backend.backend()),
        "determinism": backend.determinism(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86)") if _uses_tf() else "n/a",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
    }
    accelerators = _accelerators(info["backend"])
    info["accelerators"] = accelerators
    info["device"] = accelerators[0]["name"] if accelerators else f"{info['cpu']} ({info['cpu_count']} cores)"
    if info["backend"] == "tensorflow":
        import tensorflow as tf  # the backend's own library: only when it is the one in use

        info["tensorflow"] = tf.__version__
        info["intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        info["inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    elif info["backend"] == "jax":
        import jax  # the backend's own library: only when it is the one in use

        info["jax"] = jax.__version__
    elif info["backend"] == "torch":
        import torch  # the backend's own library: only when it is the one in use

        info["torch"] = torch.__version__
        info["intra_op_threads"] = torch.get_num_threads()
        info["inter_op_threads"] = torch.get_num_interop_threads()
    return info


def _jit(backend: str) -> str:
    """How Keras compiles the training step here (``jit_compile="auto"``, keras/src/trainers/trainer.py)."""
    return {
        # auto: no XLA on a CPU-only machine, nor wherever op determinism is on (the harness turns it on)
        "tensorflow": "tf.function graph, no XLA",
        "jax": "jax.jit (XLA)",
        "torch": "eager (auto never uses torch.compile)",
    }.get(backend, "unknown")


def _accelerators(backend: str) -> list[dict[str, object]]:
    if backend == "tensorflow":
        import tensorflow as tf  # the backend's own library: only when it is the one in use

        found = []
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            found.append({"name": details.get("device_name", gpu.name), "kind": "GPU"})
        return found
    if backend == "jax":
        import jax  # the backend's own library: only when it is the one in use

        return [
            {"name": d.device_kind, "kind": d.platform.upper(), "memory_bytes": _jax_memory(d)}
            for d in jax.devices()
            if d.platform != "cpu"
        ]
    if backend == "torch":
        import torch  # the backend's own library: only when it is the one in use

        if not torch.cuda.is_available():
            return []
        return [
            {"name": torch.cuda.get_device_name(i), "kind": "GPU", "memory_bytes": _torch_memory(i)}
            for i in range(torch.cuda.device_count())
        ]
    return []


def _torch_memory(index: int) -> int:
    import torch  # the backend's own library: only when it is the one in use

    return int(torch.cuda.get_device_properties(index).total_memory)


def _jax_memory(device) -> int | None:
    try:
        return int(device.memory_stats()["bytes_limit"])
    except Exception:  # memory_stats is optional per platform
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def wait_for_device(value: object) -> None:
    """Block until an accelerator has finished computing ``value`` (the clock must not stop early)."""
    block = getattr(value, "block_until_ready", None)
    if callable(block):
        block()


def _uses_tf() -> bool:
    import keras  # Keras: only after the backend is chosen

    return keras.backend.backend() == "tensorflow"
