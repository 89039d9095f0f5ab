"""``python -m harness``: the main job outside pytest.

``run`` trains exercises and prints the notebook's summary; a user's mistake is one
``error:`` line and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import HarnessError
from .experiment import PROFILES
from .files import json_number, write_text
from .metrics import LAYERS
from .progress import Progress


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: artifacts of finished exercises are kept", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train exercises, write artifacts, print the notebook's summary")
    run.add_argument("exercises", nargs="*", metavar="EXERCISE", help="exercise names (default: all)")
    run.add_argument("--profile", default="quick", choices=sorted(PROFILES), help="data size and epochs")
    run.add_argument("--dataset", default="surrogate", help="surrogate (default), openml, or a .csv/.parquet/.npz path")
    run.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    run.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    run.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), help="default: artifacts/")
    run.add_argument("--no-plots", action="store_true", help="write metrics.json only")
    run.set_defaults(func=_run)

    report = commands.add_parser("report", help="(re)write report.html and report.md from a run's artifacts")
    report.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), help="default: artifacts/")
    report.add_argument("--baselines-dir", type=Path, default=None, help="default: the repository's baselines/")
    report.set_defaults(func=_report)

    bench = commands.add_parser("bench", help="benchmark tools")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True)
    compare = bench_commands.add_parser(
        "compare", help="one table from pytest-benchmark JSON files of one or more machines"
    )
    compare.add_argument("files", nargs="+", type=Path, metavar="FILE", help="pytest-benchmark --benchmark-json files")
    compare.add_argument("--markdown", action="store_true", help="a Markdown table, e.g. for a CI job summary")
    compare.set_defaults(func=_bench_compare)
    return parser


def _report(args: argparse.Namespace) -> int:
    """A report for every run (``<dataset>-<profile>`` folder) under the artifacts directory."""
    from . import report
    from .experiment import registry
    from .session import DEFAULT_BASELINES

    runs = sorted(p.parent for p in Path(args.artifacts_dir).glob("*/session.json"))
    if not runs:
        raise HarnessError(f"no run found in {args.artifacts_dir}: run pytest or python -m harness run first")
    for run_dir in runs:
        for path in report.write(run_dir, registry(), args.baselines_dir or DEFAULT_BASELINES, run_dir.name):
            print(f"report: {path}")
    return 0


def _bench_compare(args: argparse.Namespace) -> int:
    from . import bench

    machines = [bench.load(path) for path in args.files]
    print(bench.render(machines, bench.compare(machines), markdown=args.markdown))
    return 0


def _run(args: argparse.Namespace) -> int:
    from . import dataset
    from .artifacts import ensure_writable
    from .experiment import Settings, profile, registry, select

    # Every check a user's mistake can fail runs before TensorFlow is imported: errors come at once.
    settings = Settings(dataset=args.dataset, profile=profile(args.profile), seed=args.seed)
    experiments = registry()
    chosen = select(experiments, args.exercises or experiments)
    ensure_writable(args.artifacts_dir)
    if args.json:
        _check_writable(args.json)
    dataset.load(settings.dataset)

    from .session import Session

    progress = Progress(sys.stderr, interval=10.0)
    session = Session(
        settings,
        artifacts_dir=args.artifacts_dir,
        experiments=experiments,
        plots=not args.no_plots,
        on_epoch=progress.epoch,
    )
    results = {}
    for experiment in chosen:
        run = session.run(experiment.name)
        progress.done()
        metrics = session.metrics(experiment.name)
        print(summary(experiment.name, metrics, run.diverged_epoch), flush=True)
        results[experiment.name] = {"metrics": metrics, "history": run.history, "diverged_epoch": run.diverged_epoch}
    written = session.finish()
    if args.json:
        _write_json(args.json, settings, results)
    print(f"artifacts: {session.output_dir}/")
    for path in written:
        if path.name.startswith("report."):
            print(f"report: {path}")
    return 0


def summary(name: str, metrics: Mapping[str, float], diverged_epoch: int | None = None) -> str:
    """The notebook's printout: the accuracy, then ``layer min max mean std`` per layer."""
    lines = [f"== {name}", f"Accuracy: {metrics['accuracy']}"]
    if diverged_epoch:
        lines.append(f"Diverged: loss not finite at epoch {diverged_epoch}")
    for layer in LAYERS:
        lines.append(" ".join([layer, *(f"{metrics[f'{layer}.{s}']:.8g}" for s in ("min", "max", "mean", "std"))]))
    return "\n".join(lines)


def to_json(settings, results: Mapping[str, Mapping]) -> dict:
    """The ``--json`` document: settings, then per exercise accuracy, layer stats and history."""
    experiments = {}
    for name, result in results.items():
        metrics = result["metrics"]
        experiments[name] = {
            "accuracy": json_number(metrics["accuracy"]),
            "layers": {
                layer: {s: json_number(metrics[f"{layer}.{s}"]) for s in ("min", "max", "mean", "std")}
                for layer in LAYERS
            },
            "history": {k: [json_number(v) for v in vs] for k, vs in result["history"].items()},
            "diverged_epoch": result["diverged_epoch"],
        }
    return {
        "dataset": settings.dataset_name,
        "profile": settings.profile.name,
        "seed": settings.seed,
        "experiments": experiments,
    }


def _write_json(path: Path, settings, results: Mapping[str, Mapping]) -> None:
    write_text(path, json.dumps(to_json(settings, results), indent=2) + "\n")
    print(f"results: {path}")


def _check_writable(path: Path) -> None:
    """Fail before training, not after an hour of it."""
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise HarnessError(f"cannot write --json file {path} ({exc.strerror})") from None
