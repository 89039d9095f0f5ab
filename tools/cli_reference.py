"""Write docs/cli.md, the command-line reference, from the parser itself: ``python tools/cli_reference.py``.

``tests/test_docs.py`` fails when the page and the parser disagree, so a renamed option cannot
linger in the reference.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cli.md"


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every (sub)command's words and help text, parents first."""
    found = [(path, parser.format_help())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, (*path, name))
    return found


def render() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: the page must not depend on it
    sys.path.insert(0, str(ROOT))
    from harness.cli import build_parser

    parser = build_parser()
    parser.prog = "python -m harness"
    for action in parser._actions:  # sub-parsers took their prog from the one above when they were made
        if isinstance(action, argparse._SubParsersAction):
            _reprog(action, "python -m harness")
    lines = [
        "# Command-line reference",
        "",
        "`python -m harness` (or `jet-harness`). Generated from the parser by `tools/cli_reference.py`;",
        "`tests/test_docs.py` checks it is current. The pytest options are `pytest --help`'s *jet-harness* group.",
    ]
    for words, text in commands(parser):
        lines += ["", f"## {' '.join(('python -m harness', *words))}", "", "```", text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _reprog(action: argparse._SubParsersAction, prefix: str) -> None:
    for name, sub in action.choices.items():
        usage_prog = f"{prefix} {name}"
        sub.prog = usage_prog
        for inner in sub._actions:
            if isinstance(inner, argparse._SubParsersAction):
                _reprog(inner, usage_prog)


if __name__ == "__main__":
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")
