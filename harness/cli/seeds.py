"""``seeds``: many seeds side by side — baselines and their shards, merges, seed studies, two-sample comparisons."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from experiments import registry
from harness import options
from harness.core.backend import use
from harness.core.environment import check_training_settings
from harness.core.errors import BaselineError, HarnessError
from harness.core.progress import Progress
from harness.core.tables import aligned
from harness.data import dataset
from harness.experiment import Settings, profile, select
from harness.judge import baseline, equivalence
from harness.judge.baseline import DATA, seed_span
from harness.judge.checks import check_behaviour
from harness.judge.firmware import PROBE_FILE
from harness.judge.guard import strength_problem, weakness
from harness.measure.metrics import compute
from harness.outputs import folders
from harness.outputs.text import render_equivalence


def register(commands: argparse._SubParsersAction) -> None:
    """``seeds train``, ``merge``, ``study`` and ``compare``."""
    seeds = commands.add_parser("seeds", help="many seeds side by side: baselines, their shards, seed studies")
    seeds_commands = seeds.add_subparsers(dest="seeds_command", required=True)
    train = seeds_commands.add_parser(
        "train", help="train seeds side by side and write a baseline (or one shard of it) per exercise"
    )
    many_seeds(train, "e.g. 0-39 or 0-19,40 (default 0-39)")
    train.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="writes DIR/<dataset>-<profile>/<exercise>.json (DIR=baselines updates the repository's)",
    )
    train.add_argument("--chunk", type=int, default=None, help="members per model.fit (default 10)")
    train.add_argument(
        "--shard",
        action="store_true",
        help="write exactly these seeds, a part of a baseline to merge later (else: refuse too few seeds, and "
        "train more where too few train without diverging or dying, as --update-baselines does)",
    )
    train.set_defaults(func=train_command)
    merge = seeds_commands.add_parser(
        "merge", help="merge shards written by 'seeds train' into one baseline per exercise"
    )
    merge.add_argument("shards", nargs="+", type=Path, metavar="SHARD", help="--out folders of 'seeds train' runs")
    merge.add_argument(
        "--into", type=Path, required=True, metavar="DIR", help="baselines root to write, e.g. baselines"
    )
    merge.add_argument(
        "--weak-baseline", action="store_true", help="write it even where too few seeds train for the guard's power"
    )
    merge.add_argument(
        "--keep-exact",
        action="store_true",
        help="keep the exact records of the files written over: the seeds were re-trained, not the training changed "
        "(else they are dropped, and said so)",
    )
    merge.set_defaults(func=merge_command)
    study = seeds_commands.add_parser(
        "study", help="does each exercise's behaviour hold over many seeds? (trained side by side with its references)"
    )
    many_seeds(study, "e.g. 60-100 (default 0-39)")
    study.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="also draw every seed's plots and comparison figures into DIR/seed<N>/<dataset>-<profile>/",
    )
    study.set_defaults(func=study_command)
    same = seeds_commands.add_parser(
        "compare", help="two-sample tests: did two baseline folders' seeds train the same distribution?"
    )
    same.add_argument("a", type=Path, metavar="A", help="a baseline folder, e.g. baselines/surrogate-quick")
    same.add_argument("b", type=Path, metavar="B", help="another one; the exercises both hold are compared")
    same.add_argument("--alpha", type=float, default=0.05, help="family-wise level over every test (default 0.05)")
    same.add_argument("--markdown", action="store_true", help="a Markdown table")
    same.set_defaults(func=compare_command)


def many_seeds(parser: argparse.ArgumentParser, seeds_help: str) -> None:
    """What a many-seed command trains: exercises, seeds, profile, dataset."""
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help="exercise names (default: all)")
    parser.add_argument("--seeds", type=seed_list, default=seed_list("0-39"), help=seeds_help)
    options.add(parser.add_argument, ("--profile", "--dataset", "--backend"))


def seed_list(text: str) -> list[int]:
    """``0-39``, ``0-19,40,45-49``: distinct seeds in the order given (an argparse type)."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            low, high = int(low), int(high) if dash else int(low)
            if high < low:
                raise argparse.ArgumentTypeError(f"{part.strip()!r} is an empty range: write LOW-HIGH")
            if low < 0 or high >= 2**32 or high - low >= 100_000:
                raise argparse.ArgumentTypeError(f"{part.strip()!r}: seeds run from 0 to 2**32 - 1, 100,000 at most")
            seeds += range(low, high + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed list such as 0-39 or 0-19,40") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: seeds must be distinct")
    return seeds


def train_command(args: argparse.Namespace) -> int:

    settings = Settings(
        dataset=args.dataset, profile=profile(args.profile), seed=args.seeds[0], backend=use(args.backend)
    )
    check_training_settings()
    experiments = registry()
    chosen = select(experiments, args.exercises or experiments)
    if args.chunk is not None and args.chunk < 1:
        raise HarnessError(f"--chunk must be at least 1, got {args.chunk}")

    if not args.shard and (problem := strength_problem(len(args.seeds), n_exercises=len(experiments))):
        raise HarnessError(f"{problem}; pass --shard to write part of a baseline and merge it later")
    folders.ensure_writable(args.out / settings.label, "output directory", "--out")
    dataset.load(settings.dataset)

    from harness.session import Session  # imports Keras: only after --backend is applied
    from harness.train.side_by_side import DEFAULT_CHUNK  # imports Keras: only after --backend is applied

    progress = Progress(sys.stderr, interval=10.0)
    session = Session(
        settings, artifacts_dir=None, baselines_dir=args.out, experiments=experiments, on_epoch=progress.epoch
    )
    session.runs.chunk = args.chunk or DEFAULT_CHUNK
    print(f"wrote {session.update_data().path}")
    for experiment in chosen:
        start = time.perf_counter()
        stored = session.train_baseline(experiment.name, args.seeds)
        if not args.shard:
            stored = session.grown(experiment.name, stored, cap=4 * len(args.seeds))
        path = session.own_baseline_path(experiment.name)
        baseline.write(path, stored)
        progress.done()
        print(f"wrote {path}: {describe(stored)}, {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def describe(stored) -> str:
    """``40 seeds (0-39), accuracy 0.52 [0.47, 0.56], 9 diverged``: a baseline in one line."""
    acc = sorted(v for v in stored.metrics["accuracy"].values if math.isfinite(v))
    text = f"{len(stored.seeds)} seeds ({seed_span(stored.seeds)})"
    if acc:
        text += f", accuracy median {acc[len(acc) // 2]:.3f} [{acc[0]:.3f}, {acc[-1]:.3f}]"
    diverged = sum(1 for v in stored.metrics["loss"].values if not math.isfinite(v))
    return f"{text}, {diverged} diverged" if diverged else text


def study_command(args: argparse.Namespace) -> int:
    """Exit 0 when every expectation held for every seed, 1 otherwise."""

    settings = Settings(
        dataset=args.dataset, profile=profile(args.profile), seed=args.seeds[0], backend=use(args.backend)
    )
    check_training_settings()
    experiments = registry()
    chosen = select(experiments, args.exercises or experiments)
    if args.plots:
        folders.ensure_writable(args.plots, "plots directory", "--plots")
    dataset.load(settings.dataset)

    from harness.session import Session  # imports Keras: only after --backend is applied

    progress = Progress(sys.stderr, interval=10.0)
    session = Session(settings, artifacts_dir=None, experiments=experiments, on_epoch=progress.epoch)
    needed = list(dict.fromkeys(n for e in chosen for n in (*e.references, e.name)))
    runs = {name: {run.seed: run for run in session.runs.many(name, args.seeds)} for name in needed}
    metrics = {name: {seed: compute(run) for seed, run in by_seed.items()} for name, by_seed in runs.items()}
    rows = [("exercise", "expectation", "held", "measured over the seeds")]
    failed = 0
    for experiment in chosen:
        own = metrics[experiment.name]
        per_seed = {
            s: check_behaviour(experiment, own[s], {r: metrics[r][s] for r in experiment.references}, settings.backend)
            for s in args.seeds
        }
        for i, expectation in enumerate(experiment.expectations(settings.backend)):
            held = sum(per_seed[s][i].passed for s in args.seeds)
            failed += held < len(args.seeds)
            ref = expectation.reference
            effects = [_effect(expectation, own[s], metrics[ref][s] if ref else None) for s in args.seeds]
            shown = sorted(e for e in effects if not math.isnan(e))
            measured = f"{shown[0]:.4g} – {shown[-1]:.4g}" if shown else "no number"
            if len(shown) < len(effects):
                measured += f" ({len(effects) - len(shown)} seeds without a number)"
            measured = f"{_effect_name(expectation)} {measured}"
            rows.append((experiment.name, str(expectation), f"{held}/{len(args.seeds)}", measured))
    progress.done()
    how = f"side by side in model.fit on {settings.backend}"
    print(f"== seed study: {settings.label}, seeds {seed_span(args.seeds)} ({len(args.seeds)}), {how}")
    print("\n".join(aligned(rows)), flush=True)
    if args.plots:
        _draw_study(args.plots, settings, {name: experiments[name] for name in needed}, runs)
    return 1 if failed else 0


def _draw_study(root: Path, settings, experiments: Mapping, runs: Mapping[str, Mapping[int, object]]) -> None:
    """Each seed's plots and comparison figures, laid out as a run's, whatever the seed did."""
    from harness.outputs.artifacts import (  # matplotlib: only where figures are drawn
        plan_comparisons,
        save_comparisons,
        save_run,
    )

    plans = plan_comparisons(experiments)
    seeds = next(iter(runs.values())).keys()
    for seed in seeds:
        folder = Path(root) / f"seed{seed}"
        for by_seed in runs.values():
            save_run(by_seed[seed], folder, settings)
        save_comparisons(plans, {name: by_seed[seed] for name, by_seed in runs.items()}, folder, settings)
    print(f"plots: {Path(root) / 'seed<N>' / settings.label}/ for seeds {seed_span(seeds)}")


def _effect(expectation, metrics: Mapping[str, float], reference: Mapping[str, float] | None) -> float:
    """What the expectation measures: the metric, its difference from the reference's, or their ratio."""
    observed = metrics[expectation.metric]
    if reference is None:
        return observed
    base = reference[expectation.metric]
    if expectation.times == 1:
        return observed - base

    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(observed) / np.float64(base))


def _effect_name(expectation) -> str:
    if expectation.reference is None:
        return expectation.metric
    sign = "/" if expectation.times != 1 else "−"
    return f"{expectation.metric} {sign} {expectation.reference}'s"


def merge_command(args: argparse.Namespace) -> int:

    files: dict[Path, dict[Path, Path]] = {}
    for shard in args.shards:
        found = {p.relative_to(shard): p for p in sorted(Path(shard).glob("*/*.json"))}
        if not found:
            raise BaselineError(
                f"{shard}: no shard here (expected <dataset>-<profile>/<exercise>.json from 'seeds train')"
            )
        files[shard] = found
    first, *others = args.shards
    for shard in others:
        if set(files[shard]) != set(files[first]):
            odd = sorted(map(str, set(files[shard]) ^ set(files[first])))
            raise BaselineError(f"cannot merge {shard} with {first}: they hold different exercises ({', '.join(odd)})")

    merged = {}
    for relative in files[first]:
        parts = [(files[shard][relative], baseline.load(files[shard][relative])) for shard in args.shards]
        if relative.stem == baseline.DATA:
            merged[relative] = _same_data(parts)
        else:
            merged[relative] = baseline.merge(parts)

    for relative, stored in merged.items():
        if relative.stem != baseline.DATA and not args.weak_baseline and (weak := weakness(stored.per_seed())):
            raise BaselineError(f"{relative}: {weak}; merge a shard of more seeds, or pass --weak-baseline")
    for label in sorted({relative.parent for relative in merged}):  # the same first complaint every time
        folders.ensure_writable(args.into / label, "baselines directory", "--into")
    for relative, stored in merged.items():  # every check passed before anything is written
        target = args.into / relative
        records = baseline.exact_records(target) if relative.stem != baseline.DATA else ()
        if records and args.keep_exact:
            stored = dataclasses.replace(stored, exact=records)
        baseline.write(target, stored)
        print(f"wrote {target}: {describe(stored) if relative.stem != baseline.DATA else 'data moments'}")
        if records:
            kept = "kept" if args.keep_exact else "dropped (re-record them with pytest --record-exact, or --keep-exact)"
            print(f"  its {len(records)} exact record(s) of the file written over: {kept}")
    return 0


def _same_data(parts):
    """Shards must have trained on the same data: their ``_data.json`` moments agree exactly."""

    (first_path, first), *rest = parts
    for path, part in rest:
        if part.label != first.label or {k: r.values for k, r in part.metrics.items()} != {
            k: r.values for k, r in first.metrics.items()
        }:
            raise BaselineError(f"cannot merge {path} with {first_path}: the shards trained on different data")
    return first


def compare_command(args: argparse.Namespace) -> int:
    """Exit 0 when no test rejects at the family-wise level, 1 when the two sets differ."""

    if not 0 < args.alpha < 1:
        raise HarnessError(f"--alpha must be between 0 and 1, got {args.alpha}")

    a, b = _label_folder(args.a), _label_folder(args.b)
    both = {p.stem for p in a.glob("*.json")} & {p.stem for p in b.glob("*.json")} - {baseline.DATA}
    names = [n for n in registry() if n in both] + sorted(both - set(registry()))
    if not names:
        raise BaselineError(f"{args.a} and {args.b} hold no baseline of the same exercise")
    tests = []
    for name in names:
        first, second = baseline.load(a / f"{name}.json"), baseline.load(b / f"{name}.json")
        if first.label != second.label:
            raise BaselineError(f"{name}: {first.label} and {second.label} are other datasets or profiles")
        tests += equivalence.compare(first, second)
    tests = equivalence.holm(tests, args.alpha)
    print(render_equivalence(tests, args.alpha, markdown=args.markdown))
    return 1 if any(t.rejected for t in tests) else 0


def _label_folder(folder: Path) -> Path:
    """A ``<dataset>-<profile>`` folder as given, or the one such folder inside a baselines root or shard."""

    if any(p.name != PROBE_FILE for p in folder.glob("*.json")):  # the firmware probe's record is no set
        return folder
    # _data.json alone is not a set: a shard trained on JAX keeps its seeds in <label>-jax/, the data in <label>/
    inside = sorted({p.parent for p in folder.glob("*/*.json") if p.stem != DATA})
    if len(inside) > 1:
        names = ", ".join(p.name for p in inside)
        raise HarnessError(f"{folder} holds several baseline sets ({names}): name one, e.g. {inside[0]}")
    return inside[0] if inside else folder
