"""``run``: train exercises, print the notebook's summary and the verdict, write ``--json``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

from experiments import registry
from harness import options
from harness.core.backend import use
from harness.core.environment import check_training_settings, lock_drift
from harness.core.errors import HarnessError
from harness.core.files import write_text
from harness.core.progress import Progress
from harness.data import dataset
from harness.experiment import Settings, profile, select
from harness.firmware import missing as missing_firmware
from harness.judge.baseline import DEFAULT_BASELINES
from harness.judge.verdict import data_dict
from harness.outputs import folders
from harness.outputs.text import summary, to_json, verdict_table

#: ``run``'s exit status when a behaviour or baseline check failed (2: a usage or input error; 130: interrupted).
FAILED = 1


def register(commands: argparse._SubParsersAction) -> None:
    """``run`` and its options."""
    run = commands.add_parser("run", help="train exercises, write artifacts, print the notebook's summary")
    run.add_argument("exercises", nargs="*", metavar="EXERCISE", help="exercise names (default: all)")
    options.add(run.add_argument, ("--profile", "--dataset", "--seed", "--backend"))
    run.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    options.add(run.add_argument, ("--artifacts-dir", "--no-plots"))
    options.add(run.add_argument, ("--baselines-dir", "--tier", "--fresh-seeds"))
    run.add_argument(
        "--firmware",
        action="store_true",
        help="also convert each exercise's model with hls4ml and judge its firmware (docs/firmware.md)",
    )
    run.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:

    # Every check a user's mistake can fail runs before TensorFlow is imported: errors come at once.
    settings = Settings(dataset=args.dataset, profile=profile(args.profile), seed=args.seed, backend=use(args.backend))
    check_training_settings()
    experiments = registry()
    chosen = select(experiments, args.exercises or experiments)
    folders.ensure_writable(args.artifacts_dir)
    if args.json:
        _check_writable(args.json)
    if args.firmware and (why := missing_firmware()):
        raise HarnessError(f"--firmware: {why}")
    dataset.load(settings.dataset)

    from harness.outputs.artifacts import run_timing  # matplotlib: after the checks above, so a mistake fails at once
    from harness.session import Session  # imports Keras: only after --backend is applied

    progress = Progress(sys.stderr, interval=10.0)
    session = Session(
        settings,
        artifacts_dir=args.artifacts_dir,
        baselines_dir=args.baselines_dir or DEFAULT_BASELINES,
        experiments=experiments,
        plots=not args.no_plots,
        on_epoch=progress.epoch,
        tier=args.tier,
        fresh_seeds=args.fresh_seeds,
    )
    results = {}
    for experiment in chosen:
        run = session.run(experiment.name)
        progress.done()
        metrics = session.metrics(experiment.name)
        print(summary(experiment.name, metrics, run.diverged_epoch), flush=True)
        results[experiment.name] = {
            "metrics": metrics,
            "history": run.history,
            "diverged_epoch": run.diverged_epoch,
            "timing": run_timing(run),
        }
    for experiment in chosen:  # trains the references and any fresh seeds the checks need
        results[experiment.name]["verdict"] = session.verdict(experiment.name, firmware=args.firmware).as_dict()
        progress.done()
    data = data_dict(session.data_verdict())
    written = session.finish()
    print(verdict_table(settings, results, data))
    note = session.shared_baselines_note(list(results))
    if note:
        print(note)
    if drift := lock_drift(session.baselines_dir, settings.backend):
        print(f"note: {drift}")
    if args.json:
        _write_json(args.json, settings, results, data)
    print(f"artifacts: {session.output_dir}/")
    for path in written:
        if path.name.startswith("report."):
            print(f"report: {path}")
    return FAILED if data["failed"] or any(r["verdict"]["failed"] for r in results.values()) else 0


def _write_json(path: Path, settings, results: Mapping[str, Mapping], data: Mapping | None = None) -> None:
    write_text(path, json.dumps(to_json(settings, results, data), indent=2) + "\n")
    print(f"results: {path}")


def _check_writable(path: Path) -> None:
    """Fail before training, not after an hour of it."""
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise HarnessError(f"cannot write --json file {path} ({exc.strerror})") from None
