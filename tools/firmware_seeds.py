"""The exercises' firmware over many seeds: ``python tools/firmware_seeds.py --seeds 0-9 [--points 16,6 10,4]``.

Trains each exercise's seeds side by side (as its baselines are trained), converts every seed's
model through hls4ml at each precision point (one compile per exercise and point,
:mod:`harness.firmware.many`), and prints, per exercise and point, the fixed-point accuracy and
the agreement with float (median [min, max] over the seeds that converted). The firmware
expectations in ``experiments/`` and docs/firmware.md's tables come from this. ``scaled_l1`` and
``scaled_adam`` (L1 or Adam on scaled inputs, not exercises of the course) answer whether L1
tolerates narrower types and where Adam's weights cost bits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments import registry
from harness.cli.seeds import seed_list
from harness.core.backend import use
from harness.core.tables import markdown_table
from harness.experiment import Experiment, Settings, Variant, profile

#: Variants beyond the course's, for the firmware's questions only.
EXTRA = (
    Experiment("scaled_l1", Variant(scaled=True, l1=0.01)),
    Experiment("scaled_adam", Variant(scaled=True, optimizer="adam")),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*", help=f"default: the course's and {', '.join(e.name for e in EXTRA)}")
    parser.add_argument("--seeds", type=seed_list, default=seed_list("0-9"))
    parser.add_argument("--points", nargs="+", default=["16,6"], help="total,integer bits")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--json", type=Path, help="also write every seed's result here")
    args = parser.parse_args()
    settings = Settings(profile=profile(args.profile), seed=args.seeds[0], backend=use("tensorflow"))

    from harness.firmware.config import precision
    from harness.firmware.convert import nothing_to_convert, rebuild, scored
    from harness.firmware.many import simulate_many
    from harness.train.run_cache import Runs

    experiments = {**registry(), **{e.name: e for e in EXTRA}}
    runs = Runs(settings, experiments)
    points = [precision(*map(int, p.split(","))) for p in args.points]
    rows, found = [("exercise", "precision", "seeds", "accuracy (float)", "fixed-point accuracy", "agreement")], []
    for name in args.exercises or list(experiments):
        experiment = experiments[name]
        trained = runs.many(name, args.seeds)
        done = [run for run in trained if nothing_to_convert(run) is None]
        X_test = runs.split(experiment.variant.scaled).X_test
        for point in points:
            start = time.perf_counter()
            outputs, _ = simulate_many([rebuild(run, experiment) for run in done], X_test, point)
            results = [scored(run, fixed, point).as_dict() for run, fixed in zip(done, outputs, strict=True)]
            found += results
            rows.append(
                (
                    name,
                    point,
                    f"{len(done)}/{len(trained)}",
                    *(_spread([r[key] for r in results]) for key in ("float_accuracy", "accuracy", "agreement")),
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
