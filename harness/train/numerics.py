"""A numerics probe: the bits this machine's backend kernels compute for one fixed step of a fixed MLP.

An exact record is keyed by a fingerprint (:mod:`harness.core.environment`), but no list of versions and
CPU flags is sure to name everything that picks a kernel. So every record also stores this probe's
digest: one forward and backward pass of the exercises' architecture, with fixed weights on fixed
data, through the same matrix products, reductions and exponentials training runs, compiled the way
Keras compiles a train step on this backend. Where a key matches but the probe does not, the machine
computes other bits: the exact tier steps aside for the statistical one instead of failing a clean run.

The probe is deliberately independent of the exercises and of Keras's own training code (layers,
losses, optimizers): the backward pass is written out by hand. A change of training, such as another
activation or a patched Adam epsilon, leaves the probe alone and still fails the exact tier.
"""

from __future__ import annotations

import functools
import hashlib
import itertools

import numpy as np

from harness.train.training import keras  # imported once, after the backend is chosen, its start-up noise filtered

#: The exercises' widths, and a batch the size of theirs.
WIDTHS: tuple[int, ...] = (16, 64, 32, 32, 5)
BATCH = 1024


def _inputs() -> list[np.ndarray]:
    """Fixed data on the jet features' scale (unscaled ones reach a few hundred) and Glorot-sized weights."""
    rng = np.random.default_rng(20261201)
    x = (rng.standard_normal((BATCH, WIDTHS[0])) * rng.uniform(0.1, 100.0, WIDTHS[0])).astype(np.float32)
    y = np.eye(WIDTHS[-1], dtype=np.float32)[rng.integers(0, WIDTHS[-1], BATCH)]
    arrays = [x, y]
    for n_in, n_out in itertools.pairwise(WIDTHS):
        limit = np.sqrt(6.0 / (n_in + n_out))
        arrays.append(rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32))
        arrays.append(rng.uniform(-0.1, 0.1, n_out).astype(np.float32))
    return arrays


def _step(x, y, *params):
    """Loss and every parameter's gradient, by hand: Dense, ReLU, softmax cross-entropy."""
    ops = keras.ops
    kernels, biases = params[0::2], params[1::2]
    activations, h = [x], x
    for i, (w, b) in enumerate(zip(kernels, biases, strict=True)):
        z = ops.add(ops.matmul(h, w), b)
        h = ops.relu(z) if i < len(kernels) - 1 else ops.softmax(z, axis=-1)
        activations.append(h)
    p = ops.clip(h, 1e-7, 1.0 - 1e-7)
    loss = ops.mean(ops.negative(ops.sum(ops.multiply(y, ops.log(p)), axis=-1)))
    grads, delta = [], ops.divide(ops.subtract(h, y), float(BATCH))
    for i in reversed(range(len(kernels))):
        grads[:0] = [ops.matmul(ops.transpose(activations[i]), delta), ops.sum(delta, axis=0)]
        if i:
            delta = ops.multiply(ops.matmul(delta, ops.transpose(kernels[i])), ops.cast(activations[i] > 0, "float32"))
    return [loss, *grads]


def _compiled(fn):
    """``fn`` as Keras's trainer runs a step here: XLA-jitted on JAX, a graph on TensorFlow, eager on PyTorch."""
    name = keras.backend.backend()
    if name == "jax":
        import jax  # the backend's own library: only when it is the one in use

        return jax.jit(fn)
    if name == "tensorflow":
        import tensorflow as tf  # the backend's own library: only when it is the one in use

        return tf.function(fn)
    return fn


@functools.cache
def probe() -> str:
    """SHA-256 of the probe's loss and gradients on this machine and backend (computed once per process)."""
    outputs = _compiled(_step)(*(keras.ops.convert_to_tensor(a) for a in _inputs()))
    h = hashlib.sha256(keras.backend.backend().encode())
    for value in outputs:
        h.update(np.ascontiguousarray(keras.ops.convert_to_numpy(value), dtype=np.float32).tobytes())
    return h.hexdigest()
