"""The metrics' names: what an exercise may expect, and what every baseline, plot and table reads.

:mod:`harness.measure.metrics` computes them from a run:

=====================  ===================================================================
``accuracy``           test accuracy (argmax of the softmax against the true class)
``loss``, ``val_loss``  final-epoch training and validation loss
``val_accuracy``       final-epoch validation accuracy
``loss_roughness``     :func:`~harness.measure.metrics.roughness` of the training-loss curve
``val_loss_roughness`` :func:`~harness.measure.metrics.roughness` of the validation-loss curve
``steps_per_epoch``    optimizer steps Keras ran per epoch: the same for every seed, it pins
                       how much data was fitted (``validation_split``, batch size, jets)
``epochs``             epochs trained: the profile's, or fewer when the loss diverged
``<layer>.<stat>``     kernel statistics of ``fc1`` … ``fc4``: ``min max mean std`` (what the
                       notebook prints), ``max_abs`` (infinite once a weight overflowed),
                       ``near_zero`` (fraction with ``|w| < NEAR_ZERO``), ``drift``
                       (relative distance from the initial weights) and ``std_ratio`` (std
                       over the initial kernel's std: what training did to the spread,
                       without the initialisation's own seed-to-seed noise)
``firmware.accuracy``  test accuracy of the model's hls4ml firmware (C simulation, fixed point)
``firmware.agreement`` share of test jets whose firmware class is the float model's
``firmware.accuracy_loss``  float accuracy minus firmware accuracy
=====================  ===================================================================
"""

from __future__ import annotations

LAYERS: tuple[str, ...] = ("fc1", "fc2", "fc3", "fc4")
WEIGHT_STATS: tuple[str, ...] = ("min", "max", "mean", "std", "max_abs", "near_zero", "drift", "std_ratio")
RUN_METRICS: tuple[str, ...] = (
    "accuracy",
    "loss",
    "val_loss",
    "val_accuracy",
    "loss_roughness",
    "val_loss_roughness",
    "steps_per_epoch",
    "epochs",
)


#: What the firmware stage measures (``Experiment.firmware`` expects them).
FIRMWARE_METRICS: tuple[str, ...] = ("firmware.accuracy", "firmware.agreement", "firmware.accuracy_loss")


def is_metric(name: str) -> bool:
    if name in RUN_METRICS or name in FIRMWARE_METRICS:
        return True
    layer, _, stat = name.partition(".")
    return layer in LAYERS and stat in WEIGHT_STATS
