"""The exercises as tests: ``test_behaviour[NAME]``, ``test_baseline[NAME]`` and ``test_initial_weights[NAME]``.

``pytest -k adam`` trains ``adam`` and its reference ``sgd`` once and runs both tests of ``adam``.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from experiments import registry
from harness.core.errors import BaselineError, HarnessError
from harness.judge.baseline import fresh_draws
from harness.judge.checks import failure_report

EXERCISES = list(registry().values())

pytestmark = [pytest.mark.training, pytest.mark.exercise]
by_name = pytest.mark.parametrize("experiment", EXERCISES, ids=[e.name for e in EXERCISES])


@by_name
def test_behaviour(experiment, harness_session):
    """The exercise shows what the notebook found, against its reference trained with the same seed."""
    outcomes = harness_session.behaviour(experiment.name)
    profile = harness_session.settings.profile
    if not profile.behaviour:
        shown = "shown" if all(o.passed for o in outcomes) else "not shown"
        pytest.skip(f"the {profile.name} profile trains too little to assert behaviour (plumbing only; {shown} here)")
    if not all(o.passed for o in outcomes):
        pytest.fail(failure_report(experiment, outcomes, harness_session.settings.seed), pytrace=False)


def test_data_unchanged(harness_session, update_baselines):
    """The training data is the baselines' data: every feature's mean and std, every class's share."""
    if update_baselines:
        harness_session.update_data()  # the terminal summary names the file
        return
    fix = f"if the data changed on purpose, update it with: {harness_session.update_command('test_data_unchanged')}"
    try:
        result = harness_session.check_data()
    except BaselineError as exc:
        result = exc  # failed outside the except block: no "during handling of the above exception" chain
    if isinstance(result, BaselineError):
        pytest.fail(f"{result}; {fix}", pytrace=False)
    if result.problems:
        fail(f"the training data differs from {result.path}:", result.problems, fix)


@by_name
def test_baseline(experiment, harness_session, update_baselines, request):
    """Training is unchanged: bit for bit where this environment has an exact record, else by fresh seeds."""
    if update_baselines:
        strong = not request.config.getoption("weak_baseline")
        harness_session.update_baseline(experiment.name, update_baselines, strong=strong)  # the summary says what
        return
    fix = f"create or update it with: {harness_session.update_command(experiment.name)}"
    if request.config.getoption("record_exact"):
        intended = request.config.getoption("intended")
        try:
            result = harness_session.record_exact(experiment.name, intended=intended)
        except HarnessError as exc:
            result = exc
        if isinstance(result, HarnessError):
            pytest.fail(f"{result}; {fix}", pytrace=False)
        if result.problems:
            header = f"{experiment.name}: {result.problems[0]} {result.path}:"
            advice = "If the change is intended, add --intended to record it anyway, or " + fix
            fail(header, [*result.problems[1:], *result.notes], advice)
        return
    try:
        result = harness_session.check_baseline(experiment.name)
    except HarnessError as exc:  # a missing baseline, or options it cannot be judged with
        result = exc  # failed outside the except block: no "during handling of the above exception" chain
    if isinstance(result, HarnessError):
        pytest.fail(f"{result}; {fix}", pytrace=False)
    if result.problems:
        if result.tier == "exact":
            seed = harness_session.settings.seed
            header = f"{experiment.name}: seed {seed} no longer trains to its exact record in {result.path}:"
            record = harness_session.update_command(experiment.name, exact_only=True)
            fix = (
                f"If intended, re-record with: {record} (it records only where fresh seeds still train like "
                f"the baseline; --intended overrides), or {fix}"
            )
        else:
            fresh = fresh_draws(result.verdict.get("seeds", []))
            header = f"{experiment.name}: fresh seeds ({fresh}) train differently from the baseline {result.path}:"
            fix = f"If the change is intended, {fix}"
        fail(header, [*result.problems, *result.notes], fix)


@by_name
def test_initial_weights(experiment, harness_session):
    """The initial kernels are Glorot-uniform: within ±√(6/(fan_in+fan_out)), uniform in shape (no baseline needed)."""
    verdict = harness_session.check_init(experiment.name)
    if verdict.problems:
        fail(f"{experiment.name}: the initial weights are not Glorot-uniform:", verdict.problems, "")


def test_no_orphaned_baselines(harness_session):
    """A baseline whose exercise was renamed or removed would silently stop guarding anything."""
    from harness.judge.baseline import orphans

    stale = orphans(harness_session.baselines_dir, harness_session.settings.label, harness_session.experiments)
    assert not stale, f"baselines for exercises that no longer exist: {', '.join(map(str, stale))}; delete them"


def fail(header: str, problems: list[str], fix: str) -> NoReturn:
    pytest.fail("\n".join([header, *(f"  {p}" for p in problems), *([fix] if fix else [])]), pytrace=False)
