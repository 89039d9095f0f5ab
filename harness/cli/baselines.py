"""``baselines``: the machines (and firmware toolchains) a baselines folder holds exact records of; prune one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import options
from harness.judge import records
from harness.judge.baseline import DEFAULT_BASELINES


def register(commands: argparse._SubParsersAction) -> None:
    """``baselines list`` and ``baselines prune``."""
    stored = commands.add_parser("baselines", help="the machines a baselines folder holds exact records of")
    stored_commands = stored.add_subparsers(dest="baselines_command", required=True)
    listed = stored_commands.add_parser(
        "list", help="one line per machine (and firmware toolchain): id, backend, processor, probe, files"
    )
    pruned = stored_commands.add_parser(
        "prune", help="remove one machine's (or firmware toolchain's) exact records from every baseline"
    )
    pruned.add_argument("record", metavar="RECORD", help="a record id from 'baselines list'")
    for sub in (listed, pruned):
        options.add(sub.add_argument, ("--baselines-dir",))
        sub.add_argument("--label", action="append", default=[], help="only this <dataset>-<profile> folder")
    listed.set_defaults(func=listing_command)
    pruned.set_defaults(func=prune_command)


def _baselines_root(args: argparse.Namespace) -> Path:

    return args.baselines_dir or DEFAULT_BASELINES


def listing_command(args: argparse.Namespace) -> int:

    root = _baselines_root(args)
    skipped: list[str] = []
    rows = records.listing(root, args.label, skipped)
    print("\n".join(records.table(rows, root)) if rows else f"no exact records in {root}")
    for why in skipped:
        print(f"skipped: {why}", file=sys.stderr)
    return 0


def prune_command(args: argparse.Namespace) -> int:

    root = _baselines_root(args)
    for path in records.prune(root, args.record, args.label):
        print(f"removed exact record {args.record} from {path}")
    return 0
