"""The exercises' firmware over many seeds: ``python tools/firmware_seeds.py --seeds 0-9 [--points 16,6 10,4]``.

Trains each exercise's seeds side by side (as its baselines are trained), converts every seed's
model through hls4ml at each precision point, and prints, per exercise and point, the fixed-point
accuracy and the agreement with float (median [min, max] over the seeds that converted). The
firmware expectations in ``experiments/`` and docs/firmware.md's table come from this.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments import registry
from harness.cli.seeds import seed_list
from harness.core.backend import use
from harness.core.tables import markdown_table
from harness.experiment import Settings, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*")
    parser.add_argument("--seeds", type=seed_list, default=seed_list("0-9"))
    parser.add_argument("--points", nargs="+", default=["16,6"], help="total,integer bits")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--json", type=Path, help="also write every seed's result here")
    args = parser.parse_args()
    settings = Settings(profile=profile(args.profile), seed=args.seeds[0], backend=use("tensorflow"))

    from harness.firmware.config import precision
    from harness.firmware.convert import convert
    from harness.train.run_cache import Runs

    experiments = registry()
    runs = Runs(settings, experiments)
    points = [precision(*map(int, p.split(","))) for p in args.points]
    rows, found = [("exercise", "precision", "seeds", "accuracy (float)", "fixed-point accuracy", "agreement")], []
    work = Path(tempfile.mkdtemp(prefix="firmware-seeds-"))
    for name in args.exercises or list(experiments):
        experiment = experiments[name]
        trained = runs.many(name, args.seeds)
        X_test = runs.split(experiment.variant.scaled).X_test
        for point in points:
            start = time.perf_counter()
            results = [convert(run, experiment, X_test, work / f"{name}-{run.seed}", point) for run in trained]
            found += [r.as_dict() for r in results]
            done = [r for r in results if r.skipped is None]
            rows.append(
                (
                    name,
                    point,
                    f"{len(done)}/{len(results)}",
                    _spread([r.float_accuracy for r in done]),
                    _spread([r.accuracy for r in done]),
                    _spread([r.agreement for r in done]),
                )
            )
            print(" | ".join(rows[-1]), f"({time.perf_counter() - start:.0f} s)", flush=True)
    print("\n".join(markdown_table(rows)))
    if args.json:
        args.json.write_text(json.dumps(found, indent=1, default=str))


def _spread(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


if __name__ == "__main__":
    main()
