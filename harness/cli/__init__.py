"""``python -m harness``: the main job outside pytest, one module per command family.

``run`` trains exercises, prints the notebook's summary and a verdict, and exits 0 when every
check passed, 1 when a behaviour or baseline check failed (or a baseline is missing), 2 on a
user's mistake (one ``error:`` line, never a traceback) and 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.cli import baselines, bench, report, run, seeds
from harness.core.errors import HarnessError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: artifacts of finished exercises are kept", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    prog = "python -m harness" if Path(sys.argv[0]).name == "__main__.py" else Path(sys.argv[0]).name
    description = "The jet-tagging exercises outside pytest: train, judge, report, compare seeds and benchmarks."
    epilog = "run exits 0 when every check passed, 1 when one failed, 2 on a usage or input error, 130 if interrupted."
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (run, report, seeds, baselines, bench):
        command.register(commands)
    return parser
