"""``bench``: benchmark result files of many machines in one table; several runs' artifacts side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.bench import results as bench
from harness.core.errors import HarnessError
from harness.outputs import folders

#: ``bench compare --fail-above``'s exit status when a benchmark regressed.
FAILED = 1


def register(commands: argparse._SubParsersAction) -> None:
    """``bench compare`` and ``bench runs``."""
    bench = commands.add_parser("bench", help="benchmark tools")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True)
    compare = bench_commands.add_parser(
        "compare", help="one table from pytest-benchmark JSON files of one or more machines"
    )
    compare.add_argument("files", nargs="+", type=Path, metavar="FILE", help="pytest-benchmark --benchmark-json files")
    compare.add_argument("--markdown", action="store_true", help="a Markdown table, e.g. for a CI job summary")
    compare.add_argument(
        "--reference", metavar="FILE", help="the file (or its number) the others are timed against (default: the first)"
    )
    compare.add_argument("--plot", type=Path, metavar="PNG", help="also draw time to accuracy per exercise and file")
    compare.add_argument(
        "--fail-above",
        metavar="PCT",
        help="two files A B: exit 1 when a benchmark's median in B is more than PCT (e.g. 10%%) above A's "
        "and each median lies outside the other's interquartile range (noise is not a regression)",
    )
    compare.set_defaults(func=compare_command)
    runs = bench_commands.add_parser(
        "runs", help="one table from several runs' artifacts: the same exercises on other backends or machines"
    )
    runs.add_argument(
        "folders", nargs="+", metavar="RUN", help="run ids (report --list), latest, or folders (artifacts/runs/<id>)"
    )
    runs.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), help="where run ids are looked up")
    runs.add_argument("--markdown", action="store_true", help="Markdown tables")
    runs.set_defaults(func=runs_command)


def compare_command(args: argparse.Namespace) -> int:

    if args.fail_above is not None:
        limit = bench.threshold(args.fail_above)
        if len(args.files) != 2:
            raise HarnessError(f"--fail-above compares exactly two files, A and B; got {len(args.files)}")
        if args.reference is not None:
            raise HarnessError("--fail-above judges B against A, the files' order; leave out --reference")
    machines = [bench.load(path) for path in args.files]
    reference = bench.reference_index(machines, args.reference)
    rows = bench.compare(machines)
    print(bench.render(machines, rows, markdown=args.markdown, reference=reference))
    if args.plot:
        print(f"figure: {bench.plot(machines, rows, args.plot)}")
    if args.fail_above is None:
        return 0
    found = bench.changes(*machines, limit)
    print()
    print(bench.render_changes(*machines, found))
    return FAILED if any(c.regressed for c in found) else 0


def runs_command(args: argparse.Namespace) -> int:
    from harness.outputs import matrix  # matplotlib (through the report): only for bench runs

    paths = [run_folder(text, args.artifacts_dir) for text in args.folders]
    print(matrix.render([matrix.load(folder) for folder in paths], markdown=args.markdown))
    return 0


def run_folder(text: str, artifacts_dir: Path) -> Path:
    """A run given as a folder, or as a run id (``report --list``) or ``latest`` in ``artifacts_dir``."""
    given = Path(text)
    if given.exists() or given.is_absolute() or len(given.parts) > 1:
        return given  # a path: matrix.find says what is wrong with it, if anything
    for candidate in (artifacts_dir / folders.RUNS / text, artifacts_dir / text):
        if candidate.is_dir():
            return candidate
    raise HarnessError(f"no run folder or run id {text!r} in {artifacts_dir} (report --list shows the run ids)")
