"""Assertions: does a run show the behaviour its exercise expects?

Each :class:`~harness.experiment.Expectation` becomes one :class:`Outcome`; a test fails
with every outcome listed (:func:`harness.judge.verdict.behaviour`), so the message shows observed
value, bound and reference at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.experiment import Expectation, Experiment

Metrics = Mapping[str, float]


@dataclass(frozen=True)
class Outcome:
    expectation: Expectation
    observed: float
    bound: float

    @property
    def passed(self) -> bool:
        """NaN never passes: a run that produced no number showed no behaviour."""
        if math.isnan(self.observed) or math.isnan(self.bound):
            return False
        return self.observed > self.bound if self.expectation.op == ">" else self.observed < self.bound

    def __str__(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        return f"{mark} {self.expectation}: observed {self.observed:.4g}, bound {self.bound:.4g}"


def check_behaviour(
    experiment: Experiment,
    metrics: Metrics,
    references: Mapping[str, Metrics],
    backend: str,
    expectations: Iterable[Expectation] | None = None,
) -> list[Outcome]:
    """Evaluate the expectations of ``experiment`` that hold on ``backend`` (the one the run trained on);
    ``references`` maps exercise name to its metrics. ``expectations``: others than its behaviour (its firmware's)."""
    outcomes = []
    if expectations is None:
        expectations = experiment.expectations(backend)
    for expectation in (e for e in expectations if e.holds_on(backend)):
        if expectation.reference is None:
            reference_value = float(expectation.than)
        else:
            reference_value = references[expectation.reference][expectation.metric]
        outcomes.append(Outcome(expectation, metrics[expectation.metric], expectation.bound(reference_value)))
    return outcomes
