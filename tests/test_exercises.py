"""The exercises as tests: ``test_behaviour[NAME]`` and ``test_baseline[NAME]`` for each one.

``pytest -k adam`` trains ``adam`` and its reference ``sgd`` once and runs both tests of ``adam``.
"""

from __future__ import annotations

import warnings
from typing import NoReturn

import pytest

from harness.baseline import SeedNoise
from harness.checks import failure_report
from harness.errors import BaselineError
from harness.experiment import registry

EXERCISES = list(registry().values())

pytestmark = pytest.mark.training
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
        print(f"wrote {harness_session.update_data().path}")
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
def test_baseline(experiment, harness_session, update_baselines):
    """Every stored metric lies where one more seed of the baseline's training could put it."""
    if update_baselines:
        result = harness_session.update_baseline(experiment.name, update_baselines)
        print(f"wrote {result.path}")
        return
    fix = f"create or update it with: {harness_session.update_command(experiment.name)}"
    try:
        result = harness_session.check_baseline(experiment.name)
    except BaselineError as exc:
        result = exc  # failed outside the except block: no "during handling of the above exception" chain
    if isinstance(result, BaselineError):
        pytest.fail(f"{result}; {fix}", pytrace=False)
    seed = harness_session.settings.seed
    seeds = f"seeds {seed} and {result.confirmation_seed}"
    if result.problems:
        how = f"{seeds} both" if result.confirmation_seed is not None else f"seed {seed}; no seed moves these"
        header = f"{experiment.name}: training differs from the baseline {result.path} ({how}):"
        alone = f"seed {seed} only" if result.confirmation_seed is not None else f"seed {seed}, no second seed run"
        first_only = [f"{p} ({alone})" for p in result.noise]
        fail(header, [*result.problems, *first_only], f"If the change is intended, {fix}")
    if result.noise:
        lines = [f"{experiment.name}: seed noise, not a regression: outside the baseline for one of {seeds}:"]
        warnings.warn("\n".join([*lines, *(f"  {p}" for p in result.noise)]), SeedNoise, stacklevel=1)


def test_no_orphaned_baselines(harness_session):
    """A baseline whose exercise was renamed or removed would silently stop guarding anything."""
    from harness.baseline import orphans

    stale = orphans(harness_session.baselines_dir, harness_session.settings.label, harness_session.experiments)
    assert not stale, f"baselines for exercises that no longer exist: {', '.join(map(str, stale))}; delete them"


def fail(header: str, problems: list[str], fix: str) -> NoReturn:
    pytest.fail("\n".join([header, *(f"  {p}" for p in problems), fix]), pytrace=False)
