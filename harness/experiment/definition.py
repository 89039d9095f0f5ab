"""An exercise's definition: what it changes in the notebook's run and what it expects.

An exercise is data: a :class:`Variant` of the notebook's run plus the :class:`Expectation`
it must meet against a reference exercise. The definitions live in ``experiments/``; this
module only says what a definition may contain and checks it early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from harness.core.backend import BACKENDS
from harness.core.errors import ConfigError
from harness.experiment.vocabulary import is_metric


@dataclass(frozen=True)
class Variant:
    """What an exercise changes in the notebook's ``run_model``; the defaults are the notebook's.

    ``learning_rate=None`` keeps Keras's default for the optimizer (SGD 0.01, Adam 0.001).
    """

    optimizer: str = "sgd"
    learning_rate: float | None = None
    scaled: bool = False
    l1: float = 0.0
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.l1 < 0:
            raise ConfigError(f"l1 must be non-negative, got {self.l1}")


@dataclass(frozen=True)
class Expectation:
    """``metric`` is above (``op='>'``) or below (``'<'``) a bound.

    The bound is ``times * reference + by`` (``- by`` for ``'<'``), where the reference is
    the same metric of another exercise trained with the same seed, or a fixed number.
    ``backends`` names the Keras backends on which it holds, where they train differently
    (empty: every backend); it is data, so a test never branches on the backend itself.
    """

    metric: str
    op: str
    than: str | float
    by: float = 0.0
    times: float = 1.0
    backends: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.op not in {"<", ">"}:
            raise ConfigError(f"op must be '<' or '>', got {self.op!r}")
        if not is_metric(self.metric):
            raise ConfigError(f"unknown metric {self.metric!r} in expectation")
        unknown = [b for b in self.backends if b not in BACKENDS]
        if unknown:
            raise ConfigError(f"unknown backend(s) {', '.join(unknown)} in expectation: choose from {BACKENDS}")

    def holds_on(self, backend: str) -> bool:
        """Whether this expectation is asserted when training on ``backend``."""
        return not self.backends or backend in self.backends

    @property
    def reference(self) -> str | None:
        """The exercise this expectation compares against, if any."""
        return self.than if isinstance(self.than, str) else None

    def bound(self, reference_value: float) -> float:
        margin = self.by if self.op == ">" else -self.by
        return self.times * reference_value + margin

    def __str__(self) -> str:
        if self.reference is None:
            return f"{self.metric} {self.op} {self.than:g}"
        scaled = self.reference if self.times == 1 else f"{self.times:g} × {self.reference}"
        margin = f" {'+' if self.op == '>' else '-'} {self.by:g}" if self.by else ""
        only = f" [{', '.join(self.backends)}]" if self.backends else ""
        return f"{self.metric} {self.op} {scaled}{margin}{only}"


def more(metric: str, than: str | float, by: float = 0.0, times: float = 1.0, on: tuple[str, ...] = ()) -> Expectation:
    """``metric`` must exceed ``times * than + by`` (on the backends ``on`` names; empty: all)."""
    return Expectation(metric, ">", than, by, times, on)


def less(metric: str, than: str | float, by: float = 0.0, times: float = 1.0, on: tuple[str, ...] = ()) -> Expectation:
    """``metric`` must stay below ``times * than - by`` (on the backends ``on`` names; empty: all)."""
    return Expectation(metric, "<", than, by, times, on)


@dataclass(frozen=True)
class Experiment:
    """One exercise: a name (the test id), a variant, and what it must show.

    Exercises that share a ``figure`` are drawn on one comparison plot with their references.
    """

    name: str
    variant: Variant = field(default_factory=Variant)
    expect: tuple[Expectation, ...] = ()
    question: str = ""
    figure: str | None = None
    #: Validation accuracy at whose first reaching the benchmarks' time-to-accuracy clock stops (chance is
    #: 0.2): below what the quick baseline's learning seeds typically end at, so a run that learns reaches it;
    #: not below every seed's (a slow ``lr_1e-05`` seed, or an ``lr_0.1`` seed that died, may never reach it).
    target_accuracy: float | None = None
    #: What its hls4ml firmware must show at the course's precision (``firmware.*`` metrics), where it converts.
    firmware: tuple[Expectation, ...] = ()

    def __post_init__(self) -> None:
        odd = [str(e) for e in self.firmware if not e.metric.startswith("firmware.") or e.reference]
        if odd:
            raise ConfigError(f"exercise {self.name!r}: firmware expectations compare firmware.* with a number: {odd}")

    @property
    def references(self) -> tuple[str, ...]:
        """Every exercise compared against, on any backend (so a report redrawn elsewhere finds them)."""
        return tuple(dict.fromkeys(e.reference for e in self.expect if e.reference))

    def expectations(self, backend: str) -> tuple[Expectation, ...]:
        """What this exercise must show when trained on ``backend``."""
        return tuple(e for e in self.expect if e.holds_on(backend))


def by_name(experiments: Iterable[Experiment]) -> dict[str, Experiment]:
    """Exercises by name, checked: unique names, references that exist (the course's: ``experiments.registry``)."""
    by_name: dict[str, Experiment] = {}
    for exp in experiments:
        if exp.name in by_name:
            raise ConfigError(f"two exercises are named {exp.name!r}")
        by_name[exp.name] = exp
    for exp in by_name.values():
        for ref in exp.references:
            if ref not in by_name:
                raise ConfigError(f"exercise {exp.name!r} compares against unknown exercise {ref!r}")
    return by_name


def select(experiments: Mapping[str, Experiment], names: Iterable[str]) -> list[Experiment]:
    """The named exercises, or a one-line error listing the known names."""
    names = list(names)
    unknown = [n for n in names if n not in experiments]
    if unknown:
        raise ConfigError(f"unknown exercise(s) {', '.join(unknown)}: choose from {', '.join(experiments)}")
    return [experiments[n] for n in names]
