"""The README and every docs page: short where it must be, links that resolve, and commands that still exist.

Every ``pytest``, ``python -m harness`` and ``jet-harness`` command shown (in a code span or a code
block) is checked against what the code defines today. Its subcommands and ``--options`` must
exist, a complete CLI command must parse, its test paths must exist, and its ``-k`` must select a
collected test. The quick ones run. So a renamed option, command, test file or exercise fails here
instead of in a reader's terminal.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression
from run_cli import harness, pythonpath

from harness.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: The start of a command; ``jet-harness:`` and ``jet-harness note`` are what it prints, not commands.
START = r"(?:pytest|python -m harness|jet-harness(?![:\w-]| note| wrote))"
#: Placeholders and the usage-line notation: such a command is checked word by word, not parsed whole.
META = re.compile(r"[\[\]…]|\.\.\.|\\\||\b[A-Z][A-Z_]+\b")
#: Exercises a page shows how to add (the README's example): not collected in this checkout.
ADDED = re.compile(r'Experiment\(\s*"([^"]+)"')


def commands() -> list[tuple[str, str]]:
    """(page, command) for every command shown, once each, a trailing ``# comment`` dropped."""
    found: dict[tuple[str, str], None] = {}
    for page in PAGES:
        text = page.read_text()
        spans = re.findall(rf"`({START}\b[^`]*)`", text)
        blocks = [line for block in re.findall(r"```\n(.*?)```", text, re.S) for line in block.splitlines()]
        for command in [*spans, *(line for line in blocks if re.match(START, line.strip()))]:
            command = " ".join(command.split("#")[0].split())
            found[(page.name, command)] = None
    return list(found)


COMMANDS = commands()
CLI = [(page, c) for page, c in COMMANDS if not c.startswith("pytest")]
PYTEST = [(page, c) for page, c in COMMANDS if c.startswith("pytest")]


def test_the_readme_fits_on_a_screen():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 120


def test_every_link_between_pages_resolves():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://")) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_cli_reference_is_the_parser_s_own_help():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import cli_reference
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert (ROOT / "docs" / "cli.md").read_text() == cli_reference.render(), "run: python tools/cli_reference.py"


def test_the_pages_show_enough_commands_for_this_check_to_mean_something():
    assert len(CLI) > 20 and len(PYTEST) > 30


def cli_problem(command: str) -> str | None:
    """Why ``command`` would fail as ``python -m harness`` parses it today, or ``None``."""
    words = shlex.split(command.replace("\\|", "|"))
    words = words[3:] if words[:3] == ["python", "-m", "harness"] else words[1:]
    parser, consumed = build_parser(), 0
    for word in words:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or word.startswith("-"):
            break
        if word not in sub.choices:
            return f"no command {word!r}; there are {', '.join(sub.choices)}"
        parser, consumed = sub.choices[word], consumed + 1
    known = set(parser._option_string_actions)
    unknown = [w.split("=")[0] for w in words if w.startswith("--") and w.split("=")[0] not in known]
    if unknown:
        return f"no option {', '.join(unknown)}"
    if META.search(command) or consumed == len(words):
        return None  # a placeholder, or a command named in a sentence: its words are checked above
    try:
        build_parser().parse_args(words)
    except SystemExit:
        return "does not parse"
    return None


@pytest.mark.parametrize(("page", "command"), CLI, ids=[f"{p}: {c}"[:90] for p, c in CLI])
def test_each_cli_command_shown_exists(page, command, capsys):
    assert cli_problem(command) is None, f"{page}: {command}"


@pytest.fixture(scope="module")
def collected_ids() -> list[str]:
    """Every test id a plain ``pytest`` and ``pytest tests/benchmarks --benchmark-only`` collect (side by side:
    the benchmarks' collection imports TensorFlow, ~6 s of CPU; the plain one does not)."""
    collections = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": pythonpath()},
        )
        for extra in ((), ("tests/benchmarks", "--benchmark-only"))
    ]
    ids = []
    for collection in collections:
        out, err = collection.communicate(timeout=300)
        assert collection.returncode == 0, out[-2000:] + err[-2000:]
        ids += [line for line in out.splitlines() if "::" in line]
    return ids


def pytest_problem(command: str, known: set[str], ids: list[str], added: set[str]) -> str | None:
    words = shlex.split(command)[1:]
    unknown = [w.split("=")[0] for w in words if w.startswith("-") and w.split("=")[0] not in known]
    if unknown:
        return f"no pytest option {', '.join(unknown)}"
    paths = [w for w in words if w.startswith("tests")]
    missing = [p for p in paths if not (ROOT / p.split("::")[0]).exists()]
    if missing:
        return f"no test path {', '.join(missing)}"
    if "-k" in words and words.index("-k") + 1 < len(words):
        keyword = words[words.index("-k") + 1]
        if keyword in added or META.search(keyword):
            return None
        expression = Expression.compile(keyword)
        chosen = [i for i in ids if any(i.startswith(p) for p in paths)] if paths else ids
        if not any(expression.evaluate(lambda name, i=i: name.lower() in i.lower()) for i in chosen):
            return f"-k {keyword!r} selects no test"
    return None


@pytest.mark.training  # collects every test module, importing Keras
def test_each_pytest_command_shown_exists(pytestconfig, collected_ids):
    groups = pytestconfig._parser._groups  # every option pytest and its plugins (ours included) define
    known = {name for group in groups for option in group.options for name in option.names()}
    added = {name for page in PAGES for name in ADDED.findall(page.read_text())}
    problems = [f"{p}: {c}: {why}" for p, c in PYTEST if (why := pytest_problem(c, known, collected_ids, added))]
    assert problems == []


def test_the_pytest_check_fails_on_a_renamed_option_path_or_exercise():
    """The check above, against commands broken on purpose: each must be refused."""
    ids = ["tests/test_exercises.py::test_baseline[adam]", "tests/test_metrics.py::test_x"]
    known = {"-k", "-m", "--profile"}
    assert pytest_problem("pytest --profile=full -k adam", known, ids, set()) is None
    assert pytest_problem("pytest --profiles=full", known, ids, set()) == "no pytest option --profiles"
    assert pytest_problem("pytest tests/test_nothing.py", known, ids, set()) == "no test path tests/test_nothing.py"
    assert pytest_problem("pytest -k adma", known, ids, set()) == "-k 'adma' selects no test"
    assert pytest_problem("pytest -k adam_fast", known, ids, {"adam_fast"}) is None


def test_the_cli_check_fails_on_a_renamed_command_or_option():
    assert cli_problem("python -m harness run adam --json=out.json") is None
    assert cli_problem("python -m harness runs adam") is not None
    assert cli_problem("python -m harness run --jsn=out.json") == "no option --jsn"
    assert cli_problem("python -m harness seeds train --seeds 0-x --out=d") == "does not parse"


QUICK = [
    (p, c)
    for p, c in CLI
    if c == "python -m harness baselines list" or (c.endswith("--markdown") and not META.search(c))
]


@pytest.mark.parametrize(("page", "command"), QUICK, ids=[c for _, c in QUICK])
def test_the_quick_commands_shown_run(page, command):
    words = shlex.split(command)[3:]
    done = harness(*words, cwd=ROOT)
    assert done.returncode == 0, f"{page}: {command}: {done.stderr}"
