"""What a run's time went to, and what one sample costs in floating-point operations."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def mlp_train_flops_per_sample(widths: Sequence[int] = (16, 64, 32, 32, 5)) -> int:
    """Floating-point operations to train on one sample: forward ``2·MACs``, backward ``4·MACs``.

    Biases, activations and the optimizer update are O(parameters / batch) and left out.
    """
    macs = sum(a * b for a, b in itertools.pairwise(widths))
    return 6 * macs


def mlp_forward_flops_per_sample(widths: Sequence[int] = (16, 64, 32, 32, 5)) -> int:
    return mlp_train_flops_per_sample(widths) // 3


@dataclass(frozen=True)
class Timing:
    """Where a run's wall time went: the first epoch (tracing and compilation included), the steady
    epochs after it, and the time until the validation accuracy first reached the exercise's target."""

    first_epoch_s: float
    steady_epoch_s: float | None
    target: float | None
    time_to_target_s: float | None
    target_epoch: int | None

    @property
    def warmup_s(self) -> float | None:
        """What the first epoch cost beyond a steady one: tracing, compilation, first-call allocation."""
        return None if self.steady_epoch_s is None else max(0.0, self.first_epoch_s - self.steady_epoch_s)

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "first_epoch_s": self.first_epoch_s,
            "steady_epoch_s": self.steady_epoch_s,
            "warmup_s": self.warmup_s,
            "target_val_accuracy": self.target,
            "time_to_target_s": self.time_to_target_s,
            "target_epoch": self.target_epoch,
        }


def timing(epoch_ends: Sequence[float], val_accuracy: Sequence[float], target: float | None) -> Timing | None:
    """:class:`Timing` of a run from its epoch end times (seconds since ``fit`` began); ``None`` without epochs."""
    if not epoch_ends:
        return None
    epochs = [b - a for a, b in itertools.pairwise([0.0, *epoch_ends])]
    steady = statistics.median(epochs[1:]) if len(epochs) > 1 else None
    reached = next((i for i, acc in enumerate(val_accuracy) if target is not None and acc >= target), None)
    seconds = epoch_ends[reached] if reached is not None else None
    return Timing(epochs[0], steady, target, seconds, None if reached is None else reached + 1)
