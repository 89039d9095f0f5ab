"""The initial weights' shape, against what Glorot-uniform initialisation guarantees: no baseline, no seed noise.

Keras's default kernel initializer (the notebook's) draws each kernel from U(−L, L) with
``L = √(6 / (fan_in + fan_out))``. Two facts follow for any seed:

- no initial weight lies beyond L (a hard bound: normal and truncated-normal inits break it);
- ``w / L`` pooled over the four kernels (4,256 weights) are independent U(−1, 1) draws, so a
  Kolmogorov–Smirnov test against U(−1, 1) has an exact false-alarm rate. A truncated normal
  (Keras's GlorotNormal, excess kurtosis ≈ −0.63 against the uniform's −1.2) is far from it.

``Dense``'s default bias initializer is ``zeros``: an initial bias that is not 0 is a changed
initializer, whatever the seed (exact, so it costs no share of the false-alarm budget).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from harness.judge import stats

#: Float32 rounding of L and of the draws: a weight may exceed L by a few ulps.
SLACK = 1e-6


def glorot_limit(kernel: np.ndarray) -> float:
    fan_in, fan_out = np.shape(kernel)
    return math.sqrt(6.0 / (fan_in + fan_out))


@dataclass(frozen=True)
class InitVerdict:
    pvalue: float
    alpha: float
    kurtosis: float
    beyond: dict[str, int]
    n: int
    #: Per layer, how many initial biases are not 0 (``Dense``'s ``zeros``); empty where the run kept none.
    biased: dict[str, int] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        lines = [
            f"{layer}: {count} initial weights beyond the Glorot-uniform bound ±√(6/(fan_in+fan_out))"
            for layer, count in self.beyond.items()
            if count
        ]
        lines += [
            f"{layer}: {count} initial biases are not 0 (Dense's default bias initializer is zeros)"
            for layer, count in self.biased.items()
            if count
        ]
        if self.pvalue <= self.alpha:
            lines.append(
                f"the {self.n} initial weights (÷ their bound) are not U(−1, 1): Kolmogorov–Smirnov "
                f"p = {self.pvalue:.2g} ≤ {self.alpha:.2g}; excess kurtosis {self.kurtosis:.3f} (uniform: −1.2)"
            )
        return lines

    def to_json(self) -> dict[str, object]:
        return {
            "pvalue": self.pvalue,
            "alpha": self.alpha,
            "kurtosis": self.kurtosis,
            "beyond": self.beyond,
            "biased": self.biased,
        }


def check(
    initial_kernels: Mapping[str, np.ndarray], alpha: float, initial_biases: Mapping[str, np.ndarray] | None = None
) -> InitVerdict:
    """Compare a run's initial kernels with Glorot-uniform's guarantees at false-alarm rate ``alpha``, and its
    initial biases (where given) with ``zeros``."""
    scaled, beyond = [], {}
    for layer in sorted(initial_kernels):
        kernel = np.asarray(initial_kernels[layer], dtype=np.float64)
        limit = glorot_limit(kernel)
        beyond[layer] = int(np.sum(~(np.abs(kernel) <= limit * (1 + SLACK))))
        scaled.append((kernel / limit).ravel())
    pooled = np.concatenate(scaled) if scaled else np.empty(0)
    biased = {layer: int(np.count_nonzero(np.asarray(b))) for layer, b in sorted((initial_biases or {}).items())}
    return InitVerdict(stats.uniform_pvalue(pooled), alpha, _excess_kurtosis(pooled), beyond, int(pooled.size), biased)


def _excess_kurtosis(values: np.ndarray) -> float:
    if values.size < 4 or not np.all(np.isfinite(values)):
        return math.nan
    centred = values - values.mean()
    variance = float(np.mean(centred**2))
    return float(np.mean(centred**4) / variance**2 - 3) if variance > 0 else math.nan
