"""The exercises as tests: ``test_behaviour[NAME]``, ``test_baseline[NAME]`` and ``test_initial_weights[NAME]``.

``pytest -k adam`` trains ``adam`` and its reference ``sgd`` once and runs both tests of ``adam``.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from experiments import registry
from harness.core.errors import HarnessError
from harness.judge.verdict import NOT_ASSERTED, update_advice

EXERCISES = list(registry().values())

pytestmark = [pytest.mark.training, pytest.mark.exercise]
by_name = pytest.mark.parametrize("experiment", EXERCISES, ids=[e.name for e in EXERCISES])


@by_name
def test_behaviour(experiment, harness_session):
    """The exercise shows what the notebook found, against its reference trained with the same seed."""
    part = harness_session.behaviour_verdict(experiment.name)
    if part.status == NOT_ASSERTED:
        profile = harness_session.settings.profile.name
        pytest.skip(f"the {profile} profile trains too little to assert behaviour (plumbing only; {part.notes[0]})")
    if part.failed:
        pytest.fail(part.message, pytrace=False)


def test_data_unchanged(harness_session, update_baselines):
    """The training data is the baselines' data: every feature's mean and std, every class's share."""
    if update_baselines:
        harness_session.update_data()  # the terminal summary names the file
        return
    part = harness_session.data_verdict()
    if part.failed:
        pytest.fail(part.message, pytrace=False)


@by_name
def test_baseline(experiment, harness_session, update_baselines, request):
    """Training is unchanged: bit for bit where this environment has an exact record, else by fresh seeds."""
    if update_baselines:
        strong = not request.config.getoption("weak_baseline")
        harness_session.update_baseline(experiment.name, update_baselines, strong=strong)  # the summary says what
        return
    fix = update_advice(harness_session.update_command(experiment.name))
    try:
        if request.config.getoption("record_exact"):
            record_exact(experiment.name, harness_session, request.config.getoption("intended"), fix)
            return
        part = harness_session.baseline_verdict(experiment.name)
    except HarnessError as exc:  # options the baseline cannot be judged with
        part = exc  # failed outside the except block: no "during handling of the above exception" chain
    if isinstance(part, HarnessError):
        pytest.fail(f"{part}; {fix}", pytrace=False)
    if part.failed:
        pytest.fail(part.message, pytrace=False)


def record_exact(name: str, session, intended: bool, fix: str) -> None:
    """``--record-exact``: write this machine's record, or say why the statistical tier refused it."""
    result = session.record_exact(name, intended=intended)
    if result.problems:
        header = f"{name}: {result.problems[0]} {result.path}:"
        advice = "If the change is intended, add --intended to record it anyway, or " + fix
        fail(header, [*result.problems[1:], *result.notes], advice)


@by_name
def test_initial_weights(experiment, harness_session):
    """The initial kernels are Glorot-uniform: within ±√(6/(fan_in+fan_out)), uniform in shape (no baseline needed)."""
    part = harness_session.init_verdict(experiment.name)
    if part.failed:
        pytest.fail(part.message, pytrace=False)


def test_no_orphaned_baselines(harness_session):
    """A baseline whose exercise was renamed or removed would silently stop guarding anything."""
    from harness.judge.baseline import orphans

    stale = orphans(harness_session.baselines_dir, harness_session.settings.label, harness_session.experiments)
    assert not stale, f"baselines for exercises that no longer exist: {', '.join(map(str, stale))}; delete them"


def fail(header: str, problems: list[str], fix: str) -> NoReturn:
    pytest.fail("\n".join([header, *(f"  {p}" for p in problems), *([fix] if fix else [])]), pytrace=False)
