"""The options both front ends take, each defined once: the pytest plugin and ``python -m harness``.

As pytest-benchmark's ``add_display_options(addoption, prefix)`` serves its plugin and its CLI,
:func:`add` hands the same definitions to pytest's ``group.addoption`` or argparse's
``add_argument``, so a choice, a default or a help text cannot drift between the two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.backend import BACKENDS, DEFAULT
from harness.experiment.profiles import PROFILES
from harness.judge.guard import FRESH_SEEDS

#: Profiles and backends are checked by :func:`~harness.experiment.profiles.profile` and
#: :func:`~harness.core.backend.use`, not by ``choices``: both front ends then say it in the same one line.
#: pytest reads a bare existing path outside the repository as a test path, before it knows its options.
EQUALS = "; outside the repository write --option=PATH (with a space pytest takes PATH for a test path)"


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    settings: dict[str, Any] = field(default_factory=dict)
    #: A path: pytest users are told to write ``--option=PATH``.
    path: bool = False


def _profiles() -> str:
    return ", ".join(
        f"{p.name} ({p.n_jets or 'all'} jets × {p.epochs} epochs{'' if p.behaviour else ', behaviour not asserted'})"
        for p in PROFILES.values()
    )


OPTIONS: dict[str, Option] = {
    option.flag: option
    for option in (
        Option(
            "--profile",
            f"data size and epochs: {_profiles()}; default quick",
            {"default": "quick"},
        ),
        Option(
            "--dataset",
            "surrogate (default), openml, or a .csv/.parquet/.npz path",
            {"default": "surrogate"},
            path=True,
        ),
        Option("--seed", "training seed (default 0)", {"type": int, "default": 0}),
        Option(
            "--backend",
            f"Keras backend: {', '.join(BACKENDS)} (default: $KERAS_BACKEND, else {DEFAULT})",
            {"default": None},
        ),
        Option(
            "--artifacts-dir",
            "where runs and reports go (default artifacts/)",
            {"type": Path, "default": Path("artifacts")},
            path=True,
        ),
        Option(
            "--no-plots",
            "write each run's metrics.json only: no plots, no report (training and checks unchanged)",
            {"action": "store_true"},
        ),
        Option(
            "--baselines-dir",
            "baselines root (default: the repository's baselines/)",
            {"type": Path, "default": None},
            path=True,
        ),
        Option(
            "--tier",
            "auto: the exact tier decides where this environment has a record, else fresh seeds; "
            "statistical: always fresh seeds (default auto)",
            {"default": "auto", "choices": ("auto", "statistical")},
        ),
        Option(
            "--fresh-seeds",
            f"fresh seeds expected to train (not diverge or die) per exercise (default {FRESH_SEEDS})",
            {"type": int, "default": FRESH_SEEDS},
        ),
    )
}


def add(addoption: Callable[..., Any], flags: Iterable[str], pytest: bool = False) -> None:
    """Define the named options through ``addoption``: pytest's ``group.addoption`` or ``parser.add_argument``."""
    for flag in flags:
        option = OPTIONS[flag]
        note = EQUALS if pytest and option.path else ""
        addoption(option.flag, help=option.help + note, **option.settings)
