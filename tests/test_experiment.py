"""Exercise definitions are data: checked early, and their names are the test ids users type."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from experiments import registry
from harness.core.errors import ConfigError
from harness.experiment import Experiment, Settings, Variant, by_name, less, more, profile, select

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ("sgd", "scaled", "l1", "lr_1e-05", "lr_0.1", "adam")


def test_the_notebook_exercises_are_registered():
    """The notebook's six, first and in order; exercises a user adds come after them."""
    assert tuple(registry())[: len(NOTEBOOK)] == NOTEBOOK


def test_expectations_read_like_the_exercise():
    assert str(more("accuracy", than="sgd", by=0.03)) == "accuracy > sgd + 0.03"
    assert str(less("fc1.std", than="sgd", times=0.5)) == "fc1.std < 0.5 × sgd"
    assert str(less("fc1.drift", than=0.1)) == "fc1.drift < 0.1"
    assert less("accuracy", than="sgd", by=0.1).bound(0.6) == pytest.approx(0.5)
    assert more("fc1.max_abs", than="sgd", times=5).bound(2.0) == 10.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: more("acuracy", than="sgd"), "unknown metric 'acuracy'"),
        (lambda: Variant(learning_rate=0), "learning_rate must be positive"),
        (lambda: Variant(l1=-1), "l1 must be non-negative"),
        (lambda: by_name([Experiment("a"), Experiment("a")]), "two exercises are named 'a'"),
        (lambda: by_name([Experiment("a", expect=(more("accuracy", than="b"),))]), "unknown exercise 'b'"),
        (lambda: profile("fast"), "unknown profile 'fast': choose one of quick, full, smoke"),
        (lambda: Settings(seed=-1), "--seed must be between 0 and 2**32 - 1, got -1"),
        (lambda: select(registry(), ["adma"]), "unknown exercise(s) adma: choose from sgd, scaled"),
    ],
)
def test_bad_definitions_fail_early_with_one_line(make, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make()


def test_references_are_listed_once_in_order():
    exp = Experiment("x", expect=(more("accuracy", than="sgd"), less("fc1.std", than="sgd"), less("loss", than=1.0)))
    assert exp.references == ("sgd",)


#: What each ``-k`` collection below asks pytest: the notebook's names and a typo.
KEYWORDS = (*NOTEBOOK, "adma")


@pytest.fixture(scope="module")
def collected(request: pytest.FixtureRequest) -> dict[str, set[str]]:
    """``pytest --collect-only -k NAME`` (or the given ``-m exercise -k NAME``) for every name the selected tests ask:
    separate processes, side by side."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    # items of other modules may use a fixture of the same name, without a "name" parameter
    users = [item for item in request.session.items if "collected" in getattr(item, "fixturenames", ())]
    params = [getattr(getattr(item, "callspec", None), "params", {}) for item in users]
    asked = {p["name"] for p in params if "name" in p}
    started = {
        k: subprocess.Popen([*command, "tests/test_exercises.py", "-k", k], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for k in KEYWORDS
        if k in asked
    }
    # the README's way to run one exercise's tests alone, over the whole suite: full ids, every file
    marked = [k for k in asked if k.startswith("-m exercise -k ")]
    started.update(
        {k: subprocess.Popen([*command, *k.split()], cwd=ROOT, stdout=subprocess.PIPE, text=True) for k in marked}
    )
    out = {k: process.communicate(timeout=300)[0] for k, process in started.items()}
    return {
        k: {line if k.startswith("-m") else line.split("::", 1)[1] for line in text.splitlines() if "::" in line}
        for k, text in out.items()
    }


@pytest.mark.parametrize("name", NOTEBOOK)
def test_k_selects_the_exercises_whose_name_contains_it(name, collected):
    """pytest's own rule: ``-k adam`` selects ``adam`` and any exercise whose name contains ``adam``."""
    named = [n for n in registry() if name.lower() in n.lower()]
    assert collected[name] == {
        f"test_{kind}[{n}]" for n in named for kind in ("behaviour", "baseline", "initial_weights")
    }


@pytest.mark.parametrize("name", ["adma"])
def test_k_typo_selects_nothing(name, collected):
    assert collected[name] == set()


@pytest.mark.parametrize("name", ["-m exercise -k adam"])
def test_the_exercise_marker_and_k_select_an_exercises_own_tests_and_no_harness_test(name, collected):
    """The README's ``pytest -m exercise -k adam``, over the whole suite: ``adam``'s three tests (and those of any
    exercise named like it), none of the harness's own tests whose ids hold ``adam`` or ``exercise``."""
    named = [n for n in registry() if "adam" in n.lower()]
    kinds = ("behaviour", "baseline", "initial_weights")
    assert collected[name] == {f"tests/test_exercises.py::test_{kind}[{n}]" for n in named for kind in kinds}
