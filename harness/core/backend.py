"""The Keras backend of a run: chosen once per process, before Keras is first imported.

Keras reads ``KERAS_BACKEND`` when it is imported and cannot switch afterwards, so the choice
(``--backend``, else ``KERAS_BACKEND``, else TensorFlow) is applied by :func:`use` before any
harness module that imports Keras is loaded. What each backend needs from the harness that the
others do not is kept here, as data, so no other module asks which backend it runs on by name.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from harness.core.errors import ConfigError

#: Keras backend name -> the package that must be installed for it.
PACKAGES: dict[str, str] = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
BACKENDS: tuple[str, ...] = tuple(PACKAGES)
DEFAULT = "tensorflow"

#: Whether Keras's categorical cross-entropy after a softmax layer is computed from the softmax's logits.
#: TensorFlow's softmax caches its logits on its output (``_keras_logits``, keras/src/backend/tensorflow/nn.py)
#: and the loss uses them; JAX's and PyTorch's losses clip the probabilities to [ε, 1 − ε] (ε = 1e-7), so a
#: softmax saturated beyond ε passes no gradient back. This decides ``lr_0.1``'s fate (docs/backends.md).
LOSS_FROM_SOFTMAX_LOGITS: dict[str, bool] = {"tensorflow": True, "jax": False, "torch": False}

#: Batches per call into the backend, where Keras allows more than one: Keras 3's PyTorch trainer
#: refuses ``steps_per_execution > 1`` ("must be 1 with the PyTorch backend").
MAX_STEPS_PER_EXECUTION: dict[str, int] = {"torch": 1}


def default() -> str:
    """``KERAS_BACKEND`` if set, else TensorFlow (``~/.keras/keras.json`` is not consulted: a run says its backend)."""
    return os.environ.get("KERAS_BACKEND") or DEFAULT


def use(name: str | None = None) -> str:
    """Make ``name`` (default: :func:`default`) the backend Keras imports with; one-line error if it cannot be.

    Call before anything imports Keras. If Keras is already imported with ``name``, nothing changes;
    with another backend, that is an error (Keras cannot switch backends in a running process).
    """
    name = name or default()
    if name not in PACKAGES:
        raise ConfigError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    loaded = imported()
    if loaded is not None and loaded != name:
        raise ConfigError(
            f"backend {name!r} asked for, but Keras was already imported with {loaded!r} in this process; "
            f"start it with KERAS_BACKEND={name}"
        )
    if loaded == name:  # Keras already runs on it: installed, and nothing else to set
        os.environ["KERAS_BACKEND"] = name
        return name
    if importlib.util.find_spec(PACKAGES[name]) is None:
        extra = "" if name == DEFAULT else f' (pip install -e ".[{name}]")'
        raise ConfigError(f"backend {name!r} is not installed: {PACKAGES[name]} cannot be imported{extra}")
    os.environ["KERAS_BACKEND"] = name
    if name == "jax":  # read when JAX starts its GPU backend; CPU kernels are deterministic
        flags = os.environ.get("XLA_FLAGS", "")
        if JAX_DETERMINISM not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {JAX_DETERMINISM}".strip()
    return name


def imported() -> str | None:
    """The backend Keras was imported with in this process, or ``None`` before Keras is imported."""
    keras = sys.modules.get("keras")
    if keras is None or not hasattr(keras, "backend"):
        return None
    return keras.backend.backend()


def active() -> str:
    """The backend this process trains with: Keras's if imported, else the one it will import with."""
    return imported() or default()


#: Asks XLA on a GPU for deterministic reductions and scatters (JAX has no run-time switch).
JAX_DETERMINISM = "--xla_gpu_deterministic_ops=true"


def deterministic() -> None:
    """Ask the active backend for deterministic kernels: same seed, same numbers on the same machine."""
    name = active()
    if name == "tensorflow":
        import tensorflow as tf  # the backend's own library: only when it is the one in use

        tf.config.experimental.enable_op_determinism()
    elif name == "torch":
        import torch  # the backend's own library: only when it is the one in use

        torch.use_deterministic_algorithms(True)


#: PyTorch's intra-op threads when ``OMP_NUM_THREADS`` does not say: for this 4k-weight MLP, two OpenMP threads
#: on two shared cores spent their time waiting on each other (a quick-profile epoch took 4.4 s, 0.7 s with one).
TORCH_THREADS = 1


def tune() -> None:
    """Per-backend settings that make the harness's tiny model train at a sensible speed (after Keras is imported)."""
    if active() == "torch" and "OMP_NUM_THREADS" not in os.environ:
        import torch  # the backend's own library: only when it is the one in use

        torch.set_num_threads(TORCH_THREADS)


def determinism() -> str:
    """How this process asks its backend for determinism, for benchmark and run records."""
    name = active()
    if name == "tensorflow":
        return "tf.config.experimental.enable_op_determinism()"
    if name == "torch":
        return "torch.use_deterministic_algorithms(True)"
    flags = os.environ.get("XLA_FLAGS", "")
    return f"XLA_FLAGS={flags}" if flags else "XLA_FLAGS unset (CPU kernels are deterministic)"


def steps_per_execution(wanted: int, backend: str | None = None) -> int:
    """``wanted``, capped where the backend's Keras trainer allows fewer batches per call."""
    return min(wanted, MAX_STEPS_PER_EXECUTION.get(backend or active(), wanted))
