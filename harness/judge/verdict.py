"""One exercise's verdict: its behaviour, its baseline and its initial weights, judged once.

Every front end reads this type: the exercise tests fail with :attr:`Part.message`, ``harness
run`` prints the table and writes ``--json`` from :meth:`Verdict.as_dict`, and the report shows
the same statuses. The advice that names the command fixing a failure is written here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import BaselineError
from harness.experiment import Experiment
from harness.judge.baseline import fresh_draws
from harness.judge.checks import Outcome
from harness.judge.initial import InitVerdict

PASS, FAIL, MISSING, NOT_ASSERTED, NOT_RUN, RECORDED = "pass", "fail", "missing", "not asserted", "not run", "recorded"
#: A run with no model to convert (diverged, dead): said, never a failure.
NOTHING = "nothing to convert"


@dataclass(frozen=True)
class BaselineResult:
    """``problems``: the regression, one line each; ``tier``: which tier decided (``exact``,
    ``statistical``, or ``None`` for the data baseline); ``notes``: what the reader should know
    (why the exact tier did not apply, a weak baseline, a fresh sample that learned little)."""

    path: Path
    problems: list[str]
    tier: str | None = None
    notes: list[str] = field(default_factory=list)
    verdict: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    """One of an exercise's checks: a status, and where it failed, what failed and how to fix it."""

    status: str
    header: str = ""
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    advice: str = ""
    tier: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in {FAIL, MISSING}

    @property
    def reported(self) -> list[str]:
        """What ``--json`` lists for it: the one-line reason where there was nothing to judge, else each problem."""
        return [self.header] if self.status in {MISSING, NOTHING} else list(self.problems)

    @property
    def message(self) -> str:
        """The failure as a test reports it: the header, each problem and note indented, then the advice."""
        lines = [f"  {line}" for line in (*self.problems, *self.notes)]
        return "\n".join([self.header, *lines, *([self.advice] if self.advice else [])])


def update_advice(command: str) -> str:
    return f"create or update it with: {command}"


def behaviour(experiment: Experiment, outcomes: Sequence[Outcome], asserted: bool, seed: int) -> Part:
    """Every expectation listed, failing ones marked; ``not asserted`` where the profile trains too little."""
    held = all(o.passed for o in outcomes)
    status = NOT_ASSERTED if not asserted else PASS if held else FAIL
    header = f"{experiment.name} (seed {seed}) does not show the expected behaviour:"
    shown = () if asserted else ("shown here" if held else "not shown here",)
    return Part(status, header, tuple(str(o) for o in outcomes), shown)


def _unreadable(error: BaselineError, update: str) -> Part:
    """A baseline missing or refused, with the command that (re)creates it, unless the error already names it."""
    said = str(error)
    return Part(MISSING, said if update in said else f"{said}; {update_advice(update)}")


def baseline(name: str, result: BaselineResult | BaselineError, seed: int, update: str, record: str) -> Part:
    """The regression guard's verdict. ``update`` re-creates the baseline; ``record`` re-records the exact record."""
    if isinstance(result, BaselineError):
        return _unreadable(result, update)
    if not result.problems:
        return Part(PASS, notes=tuple(result.notes), tier=result.tier)
    if result.tier == "exact":
        header = f"{name}: seed {seed} no longer trains to its exact record in {result.path}:"
        advice = (
            f"If intended, re-record with: {record} (it records only where fresh seeds still train like "
            f"the baseline; --intended overrides), or {update_advice(update)}"
        )
    else:
        fresh = fresh_draws(result.verdict.get("seeds", []))
        header = f"{name}: fresh seeds ({fresh}) train differently from the baseline {result.path}:"
        advice = f"If the change is intended, {update_advice(update)}"
    return Part(FAIL, header, tuple(result.problems), tuple(result.notes), advice, result.tier)


def firmware(
    experiment: Experiment,
    outcomes: Sequence[Outcome] | str,
    point: str,
    seed: int,
    moved: Sequence[str] = (),
    note: str | Sequence[str] = (),
    record: str = "",
    tier: str = "exact",
) -> Part:
    """The firmware at ``point``: its expectations, and what moved against its records (``moved``, by ``tier``).

    ``outcomes`` as a string is why the run had nothing to convert: said, never a failure.
    """
    if isinstance(outcomes, str):
        return Part(NOTHING, outcomes)
    failed = moved or not all(o.passed for o in outcomes)
    lines = (*moved, *(str(o) for o in outcomes))
    header = f"{experiment.name} (seed {seed}): its firmware at {point} changed or lost what it should keep:"
    advice = f"If the change is intended, re-record it with: {record}" if moved and record else ""
    notes = (note,) if isinstance(note, str) else tuple(note)
    return Part(FAIL if failed else PASS, header, lines, tuple(n for n in notes if n), advice, tier if moved else None)


def initial(name: str, checked: InitVerdict) -> Part:
    header = f"{name}: the initial weights are not Glorot-uniform:"
    return Part(FAIL if checked.problems else PASS, header, tuple(checked.problems))


def data(result: BaselineResult | BaselineError, update: str) -> Part:
    """The training data against ``_data.json``: no seed moves it, so any deviation is a change."""
    if isinstance(result, BaselineError):
        return _unreadable(result, update)
    if not result.problems:
        return Part(PASS)
    advice = f"if the data changed on purpose, update it with: {update}"
    return Part(FAIL, f"the training data differs from {result.path}:", tuple(result.problems), advice=advice)


@dataclass(frozen=True)
class Verdict:
    """An exercise's three checks; it failed when any one of them did."""

    exercise: str
    behaviour: Part
    baseline: Part
    init: Part
    #: Its hls4ml firmware's verdict, where the firmware stage ran.
    firmware: Part | None = None

    @property
    def failed(self) -> bool:
        parts = (self.behaviour, self.baseline, self.init, *([self.firmware] if self.firmware else []))
        return any(part.failed for part in parts)

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` and artifact form."""
        baseline = self.baseline
        problems = baseline.reported
        if baseline.status == FAIL:
            problems.append(baseline.advice)
        found: dict[str, object] = {
            "behaviour": self.behaviour.status,
            "baseline": baseline.status,
            "expectations": list(self.behaviour.problems),
            "problems": problems,
        }
        if baseline.status != MISSING:
            found.update(tier=baseline.tier, notes=list(baseline.notes))
        found.update(init=self.init.status, init_problems=list(self.init.problems))
        if self.firmware is not None:
            part = self.firmware
            found.update(firmware=part.status, firmware_problems=part.reported, firmware_notes=list(part.notes))
        found["failed"] = self.failed
        return found


def data_dict(part: Part) -> dict[str, object]:
    """``test_data_unchanged``'s verdict in the ``--json`` form."""
    return {"verdict": part.status, "problems": part.reported, "failed": part.failed}
