"""``report``: redraw a run's ``report.html`` and ``report.md`` from its files, or list the runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments import registry
from harness import options
from harness.core.errors import HarnessError
from harness.core.files import read_json
from harness.outputs import folders


def register(commands: argparse._SubParsersAction) -> None:
    """``report`` and its options."""
    report = commands.add_parser("report", help="redraw a run's report.html and report.md, or list the runs")
    options.add(report.add_argument, ("--artifacts-dir",))
    report.add_argument("--run", default="latest", metavar="RUN", help="a run id from --list (default: the latest)")
    report.add_argument("--list", action="store_true", help="list the runs in the artifacts directory")
    report.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    """Redraw one run's report from its own files, judged against the baselines that run was judged against."""

    found = folders.runs(args.artifacts_dir)
    if not found:
        raise HarnessError(f"no run found in {args.artifacts_dir}: run pytest or python -m harness run first")
    if args.list:
        latest = (Path(args.artifacts_dir) / folders.LATEST).resolve()
        for folder in found:
            session = read_json(folder / "session.json", HarnessError, "run record")
            mark = "  (latest)" if folder.resolve() == latest else ""
            print(f"{folder.parent.name}  {session.get('generated', '?')}  seed {session.get('seed', '?')}{mark}")
        return 0
    by_id = {folder.parent.name: folder for folder in found}
    if args.run == "latest":
        folder = (
            (Path(args.artifacts_dir) / folders.LATEST).resolve()
            if (Path(args.artifacts_dir) / folders.LATEST).exists()
            else found[-1]
        )
    elif args.run in by_id:
        folder = by_id[args.run]
    else:
        raise HarnessError(f"no run {args.run!r} in {args.artifacts_dir}; --list shows {len(found)} run(s)")
    session = read_json(folder / "session.json", HarnessError, "run record")
    baselines = session.get("baselines_dir")
    if not baselines or not Path(baselines).is_dir():
        raise HarnessError(f"{folder}: the baselines this run was judged against ({baselines}) are gone")

    from harness.outputs import report as pages  # matplotlib: only where a report is drawn

    for path in pages.write(folder, registry(), Path(baselines), folder.name):
        print(f"report: {path}")
    return 0
