"""The arithmetic floor of one seed on this machine: ``python tools/compute_floor.py [K ...]`` (JAX).

The statistical tier's cost is seeds × the cost of a seed, so its speed targets are bounded by what one
seed's arithmetic costs here, whatever trains it. This times only that arithmetic: the notebook's MLP
(16 → 64 → 32 → 32 → 5), forward, backward and an SGD update on one batch of 1024, as bare XLA
(``jax.jit`` of ``value_and_grad``; with K > 1, ``jax.vmap`` over K independent models), for the
quick profile's 59 × 60 steps. No Keras, no data pipeline, no validation, no prediction: any trainer of
those seeds, Keras's included, costs at least this. The figures are in docs/measurements.md.
"""

from __future__ import annotations

import math
import sys
import time

from harness.data.prepare import TEST_SIZE
from harness.experiment import PROFILES

#: fc1 … fc4's kernel shapes.
SHAPES = ((16, 64), (64, 32), (32, 32), (32, 5))
QUICK = PROFILES["quick"]
BATCH = QUICK.batch_size
#: The quick profile's steps: the rows ``fit`` trains on (its jets less the test set and the validation
#: split: 60,000) in batches of 1024, the last one partial, timed here as a whole one; 60 epochs.
STEPS = math.ceil(QUICK.n_jets * (1 - TEST_SIZE) * (1 - QUICK.validation_split) / BATCH) * QUICK.epochs


def seconds_per_seed(k: int, timed_steps: int = STEPS // 10) -> float:
    """Wall seconds of the quick profile's training steps per seed, K models at once (``timed_steps`` timed)."""
    import jax  # JAX is this tool's subject: imported when it runs
    import jax.numpy as jnp

    def init(key):
        params = []
        for fan_in, fan_out in SHAPES:
            key, sub = jax.random.split(key)
            params.append((jax.random.uniform(sub, (fan_in, fan_out), minval=-0.1, maxval=0.1), jnp.zeros(fan_out)))
        return params

    def loss(params, x, y):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            h = jax.nn.relu(h) if i < len(params) - 1 else jax.nn.log_softmax(h)
        return -jnp.mean(jnp.sum(y * h, axis=-1))

    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads), value

    keys = jax.random.split(jax.random.PRNGKey(0), k)
    params = jax.vmap(init)(keys)
    x, y = jnp.ones((k, BATCH, 16)), jnp.full((k, BATCH, 5), 0.2)
    train = jax.jit(jax.vmap(step))
    params, value = train(params, x, y)  # compiles
    jax.block_until_ready(value)
    start = time.perf_counter()
    for _ in range(timed_steps):
        params, value = train(params, x, y)
    jax.block_until_ready(value)
    return (time.perf_counter() - start) * STEPS / timed_steps / k


def gflops_per_second(seconds: float) -> float:
    """Forward, backward and update of one seed's quick-profile steps: 6 FLOPs per weight per row."""
    return BATCH * 6 * sum(a * b for a, b in SHAPES) * STEPS / seconds / 1e9


def main(argv: list[str]) -> None:
    for k in [int(a) for a in argv] or [1, 10, 40]:
        seconds = seconds_per_seed(k)
        rate = gflops_per_second(seconds)
        print(f"K={k}: {seconds:.2f} s a seed (the quick profile's training steps), {rate:.1f} GFLOP/s")


if __name__ == "__main__":
    main(sys.argv[1:])
