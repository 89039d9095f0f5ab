"""The firmware's precision config: one fixed-point type everywhere we set one, hls4ml's defaults elsewhere.

``config_from_keras_model(granularity="name")`` leaves many types ``auto``. hls4ml then widens fc4's
output (``ap_fixed<38,18>`` here), and the Vitis softmax lookup table breaks on it: accuracy falls
to chance (fastmachinelearning/hls4ml#1512). So every ``auto`` type (each layer's result, weight,
bias and accumulator) is set to the precision point. The softmax's and ReLU's own table types,
table sizes, reuse factor, strategy and implementation stay at hls4ml's defaults.
:func:`defaults_left` names those, and they are recorded with every firmware result, so a change
in any of them shows as a change of the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: The course's precision point.
PRECISION = "ap_fixed<16,6>"
BACKEND = "Vitis"
IO_TYPE = "io_parallel"
#: The precision scan: (total bits, integer bits), the course's point first.
SCAN: tuple[tuple[int, int], ...] = ((16, 6), (16, 8), (16, 10), (12, 4), (12, 6), (10, 4), (8, 3))

_TYPE = re.compile(r"^ap_fixed<(\d+),(-?\d+)>$")
_AUTO_INPUT = re.compile(r"^input_layer(_\d+)?$")


def precision(total: int, integer: int) -> str:
    if not 0 < integer <= total:
        raise ValueError(f"ap_fixed<{total},{integer}>: integer bits must be between 1 and the total")
    return f"ap_fixed<{total},{integer}>"


def bits(text: str) -> tuple[int, int]:
    """``ap_fixed<16,6>`` → ``(16, 6)``; a one-line error for anything else."""
    found = _TYPE.match(text.replace(" ", ""))
    if not found:
        raise ValueError(f"{text!r} is not a precision such as ap_fixed<16,6>")
    return int(found.group(1)), int(found.group(2))


def hls_config(model: Any, point: str = PRECISION) -> dict[str, Any]:
    """hls4ml's per-layer config for ``model``, every ``auto`` type set to ``point``."""
    import hls4ml  # optional: only where the firmware stage runs

    bits(point)
    config = hls4ml.utils.config_from_keras_model(model, granularity="name", default_precision=point, backend=BACKEND)
    for layer in config["LayerName"].values():
        types = layer.get("Precision")
        if isinstance(types, dict):
            for key, value in types.items():
                if value == "auto":
                    types[key] = point
    return config


def defaults_left(config: Mapping[str, Any], point: str) -> dict[str, str]:
    """Every setting of ``config`` that is not the precision point: what hls4ml chose, not us."""
    left: dict[str, str] = {}
    for raw, layer in config["LayerName"].items():
        name = _AUTO_INPUT.sub("input_layer", raw)  # Keras numbers each model's input layer anew
        for key, value in layer.items():
            if key == "Precision" and isinstance(value, dict):
                left.update({f"{name}.{k}": str(v) for k, v in value.items() if v != point})
            elif key != "Precision":
                left[f"{name}.{key}"] = str(value)
    left.update({f"Model.{k}": str(v) for k, v in config.get("Model", {}).items() if k != "Precision"})
    return dict(sorted(left.items()))
