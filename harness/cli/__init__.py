"""``python -m harness``: the main job outside pytest.

``run`` trains exercises, prints the notebook's summary and a verdict, and exits 0 when every
check passed, 1 when a behaviour or baseline check failed (or a baseline is missing), 2 on a
user's mistake (one ``error:`` line, never a traceback) and 130 when interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from experiments import registry
from harness.bench import results as bench
from harness.core.backend import BACKENDS, DEFAULT, use
from harness.core.environment import check_training_settings, lock_drift
from harness.core.errors import BaselineError, HarnessError
from harness.core.files import json_number, read_json, write_text
from harness.core.progress import Progress
from harness.core.tables import aligned, markdown_table
from harness.data import dataset
from harness.experiment import PROFILES, Settings, profile, select
from harness.judge import baseline, equivalence, records
from harness.judge.baseline import DATA, DEFAULT_BASELINES, seed_span
from harness.judge.checks import check_behaviour
from harness.judge.equivalence import detectable_shift
from harness.judge.guard import FRESH_SEEDS, strength_problem, weakness
from harness.measure.metrics import LAYERS, compute
from harness.outputs import folders


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
    prog = "python -m harness" if Path(sys.argv[0]).name == "__main__.py" else Path(sys.argv[0]).name
    description = "The jet-tagging exercises outside pytest: train, judge, report, compare seeds and benchmarks."
    epilog = "run exits 0 when every check passed, 1 when one failed, 2 on a usage or input error, 130 if interrupted."
    parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train exercises, write artifacts, print the notebook's summary")
    run.add_argument("exercises", nargs="*", metavar="EXERCISE", help="exercise names (default: all)")
    run.add_argument("--profile", default="quick", choices=sorted(PROFILES), help="data size and epochs")
    run.add_argument("--dataset", default="surrogate", help="surrogate (default), openml, or a .csv/.parquet/.npz path")
    run.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    _backend_option(run)
    run.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    run.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), help="default: artifacts/")
    run.add_argument("--no-plots", action="store_true", help="write metrics.json only")
    run.add_argument("--baselines-dir", type=Path, default=None, help="default: the repository's baselines/")
    run.add_argument(
        "--tier",
        default="auto",
        choices=("auto", "statistical"),
        help="auto: the exact tier decides where this environment has a record, else fresh seeds; "
        "statistical: always fresh seeds (default auto)",
    )
    run.add_argument(
        "--fresh-seeds",
        type=int,
        default=FRESH_SEEDS,
        help=f"fresh seeds expected to train (not diverge or die) per exercise ({FRESH_SEEDS})",
    )
    run.set_defaults(func=_run)

    report = commands.add_parser("report", help="redraw a run's report.html and report.md, or list the runs")
    report.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), help="default: artifacts/")
    report.add_argument("--run", default="latest", metavar="RUN", help="a run id from --list (default: the latest)")
    report.add_argument("--list", action="store_true", help="list the runs in the artifacts directory")
    report.set_defaults(func=_report)

    seeds = commands.add_parser("seeds", help="many seeds side by side: baselines, their shards, seed studies")
    seeds_commands = seeds.add_subparsers(dest="seeds_command", required=True)
    train = seeds_commands.add_parser(
        "train", help="train seeds side by side and write a baseline (or one shard of it) per exercise"
    )
    _many_seeds(train, "e.g. 0-39 or 0-19,40 (default 0-39)")
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
    train.set_defaults(func=_seeds_train)
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
    merge.set_defaults(func=_seeds_merge)
    study = seeds_commands.add_parser(
        "study", help="does each exercise's behaviour hold over many seeds? (trained side by side with its references)"
    )
    _many_seeds(study, "e.g. 60-100 (default 0-39)")
    study.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="also draw every seed's plots and comparison figures into DIR/seed<N>/<dataset>-<profile>/",
    )
    study.set_defaults(func=_seeds_study)
    same = seeds_commands.add_parser(
        "compare", help="two-sample tests: did two baseline folders' seeds train the same distribution?"
    )
    same.add_argument("a", type=Path, metavar="A", help="a baseline folder, e.g. baselines/surrogate-quick")
    same.add_argument("b", type=Path, metavar="B", help="another one; the exercises both hold are compared")
    same.add_argument("--alpha", type=float, default=0.05, help="family-wise level over every test (default 0.05)")
    same.add_argument("--markdown", action="store_true", help="a Markdown table")
    same.set_defaults(func=_seeds_compare)

    stored = commands.add_parser("baselines", help="the machines a baselines folder holds exact records of")
    stored_commands = stored.add_subparsers(dest="baselines_command", required=True)
    listed = stored_commands.add_parser("list", help="one line per machine: id, backend, processor, probe, files")
    pruned = stored_commands.add_parser("prune", help="remove one machine's exact records from every baseline")
    pruned.add_argument("record", metavar="RECORD", help="a record id from 'baselines list'")
    for sub in (listed, pruned):
        sub.add_argument("--baselines-dir", type=Path, default=None, help="default: the repository's baselines/")
        sub.add_argument("--label", action="append", default=[], help="only this <dataset>-<profile> folder")
    listed.set_defaults(func=_baselines_list)
    pruned.set_defaults(func=_baselines_prune)

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
    compare.set_defaults(func=_bench_compare)
    runs = bench_commands.add_parser(
        "runs", help="one table from several runs' artifacts: the same exercises on other backends or machines"
    )
    runs.add_argument(
        "folders", nargs="+", metavar="RUN", help="run ids (report --list), latest, or folders (artifacts/runs/<id>)"
    )
    runs.add_argument("--artifacts-dir", type=Path, default=Path("artifacts"), help="where run ids are looked up")
    runs.add_argument("--markdown", action="store_true", help="Markdown tables")
    runs.set_defaults(func=_bench_runs)
    return parser


def _many_seeds(parser: argparse.ArgumentParser, seeds_help: str) -> None:
    """What a many-seed command trains: exercises, seeds, profile, dataset."""
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help="exercise names (default: all)")
    parser.add_argument("--seeds", type=seed_list, default=seed_list("0-39"), help=seeds_help)
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES), help="data size and epochs")
    parser.add_argument(
        "--dataset", default="surrogate", help="surrogate (default), openml, or a .csv/.parquet/.npz path"
    )
    _backend_option(parser)


def _backend_option(parser: argparse.ArgumentParser) -> None:
    """``--backend``: applied by :func:`harness.core.backend.use` before anything imports Keras."""

    parser.add_argument(
        "--backend",
        default=None,
        choices=BACKENDS,
        help=f"Keras backend (default: $KERAS_BACKEND, else {DEFAULT})",
    )


def _report(args: argparse.Namespace) -> int:
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

    from harness.outputs import report  # matplotlib: only where a report is drawn

    for path in report.write(folder, registry(), Path(baselines), folder.name):
        print(f"report: {path}")
    return 0


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


def _seeds_train(args: argparse.Namespace) -> int:

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


def _seeds_study(args: argparse.Namespace) -> int:
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


def _seeds_merge(args: argparse.Namespace) -> int:

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


def _seeds_compare(args: argparse.Namespace) -> int:
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

    if any(folder.glob("*.json")):
        return folder
    # _data.json alone is not a set: a shard trained on JAX keeps its seeds in <label>-jax/, the data in <label>/
    inside = sorted({p.parent for p in folder.glob("*/*.json") if p.stem != DATA})
    if len(inside) > 1:
        names = ", ".join(p.name for p in inside)
        raise HarnessError(f"{folder} holds several baseline sets ({names}): name one, e.g. {inside[0]}")
    return inside[0] if inside else folder


def render_equivalence(tests, alpha: float, markdown: bool = False) -> str:
    """Per exercise: seeds, tests, the smallest p, the largest |standardized mean difference|, what differs."""

    rows = [("exercise", "seeds A / B", "tests", "smallest p", "largest SMD (abs)", "differs (Holm)")]
    for exercise in dict.fromkeys(t.exercise for t in tests):
        own = [t for t in tests if t.exercise == exercise]
        metrics = [t for t in own if t.kind == "Mann-Whitney U"]
        smallest = min(own, key=lambda t: t.p)
        smd = max((abs(t.smd) for t in metrics if math.isfinite(t.smd)), default=math.nan)
        sizes = next(t.n for t in own if t.kind == "Fisher exact")  # every seed, diverged or not
        differs = ", ".join(t.quantity for t in own if t.rejected) or "nothing"
        rows.append(
            (
                exercise,
                f"{sizes[0]} / {sizes[1]}",
                str(len(own)),
                f"{smallest.p:.3g} ({smallest.quantity})",
                f"{smd:.2f}",
                differs,
            )
        )
    n_a, n_b = next(t.n for t in tests if t.kind == "Fisher exact")
    shift = detectable_shift(n_a, n_b, alpha / len(tests)), detectable_shift(n_a, n_b, alpha)
    notes = [
        f"{len(tests)} tests, family-wise level {alpha:g} (Holm). With {n_a} vs {n_b} seeds a single metric's shift",
        f"is found with 90 % power from {shift[0]:.2f} σ at the family's level, {shift[1]:.2f} σ at {alpha:g} alone.",
    ]

    if markdown:
        return "\n".join([*markdown_table(rows), "", *notes])
    return "\n".join([*aligned(rows), *notes])


def _bench_compare(args: argparse.Namespace) -> int:

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


def _bench_runs(args: argparse.Namespace) -> int:
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


def _baselines_root(args: argparse.Namespace) -> Path:

    return args.baselines_dir or DEFAULT_BASELINES


def _baselines_list(args: argparse.Namespace) -> int:

    root = _baselines_root(args)
    skipped: list[str] = []
    rows = records.listing(root, args.label, skipped)
    print("\n".join(records.table(rows, root)) if rows else f"no exact records in {root}")
    for why in skipped:
        print(f"skipped: {why}", file=sys.stderr)
    return 0


def _baselines_prune(args: argparse.Namespace) -> int:

    root = _baselines_root(args)
    for path in records.prune(root, args.record, args.label):
        print(f"removed exact record {args.record} from {path}")
    return 0


def _run(args: argparse.Namespace) -> int:

    # Every check a user's mistake can fail runs before TensorFlow is imported: errors come at once.
    settings = Settings(dataset=args.dataset, profile=profile(args.profile), seed=args.seed, backend=use(args.backend))
    check_training_settings()
    experiments = registry()
    chosen = select(experiments, args.exercises or experiments)
    folders.ensure_writable(args.artifacts_dir)
    if args.json:
        _check_writable(args.json)
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
        results[experiment.name]["verdict"] = judge(session, experiment.name)
        progress.done()
    data = judge_data(session)
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


#: ``run``'s exit status when a behaviour or baseline check failed (2: a usage or input error; 130: interrupted).
FAILED = 1


def judge(session, name: str) -> dict:
    """Behaviour and baseline verdicts of one exercise, by the same rules as its two tests."""

    outcomes = session.behaviour(name)  # as the test does: computed on every profile, asserted where it holds
    verdict: dict = {"behaviour": "pass" if all(o.passed for o in outcomes) else "fail", "baseline": "pass"}
    if not session.settings.profile.behaviour:
        verdict["behaviour"] = "not asserted"
    verdict.update(expectations=[str(o) for o in outcomes], problems=[])
    try:
        result = session.check_baseline(name)
    except BaselineError as exc:
        fix = f"create or update it with: {session.update_command(name)}"
        verdict.update(baseline="missing", problems=[f"{exc}; {fix}"])
    else:
        verdict.update(problems=list(result.problems), tier=result.tier, notes=list(result.notes))
        if result.problems:
            verdict["baseline"] = "fail"
            verdict["problems"].append(f"if the change is intended: {session.update_command(name)}")
    init = session.check_init(name).problems
    verdict.update(init="fail" if init else "pass", init_problems=init)
    verdict["failed"] = verdict["behaviour"] == "fail" or verdict["baseline"] in {"fail", "missing"} or bool(init)
    return verdict


def judge_data(session) -> dict:
    """``test_data_unchanged``'s verdict: the training data against ``_data.json``."""

    try:
        result = session.check_data()
    except BaselineError as exc:
        fix = f"create or update it with: {session.update_command('test_data_unchanged')}"
        return {"verdict": "missing", "problems": [f"{exc}; {fix}"], "failed": True}
    return {
        "verdict": "fail" if result.problems else "pass",
        "problems": result.problems,
        "failed": bool(result.problems),
    }


def verdict_table(settings, results: Mapping[str, Mapping], data: Mapping | None = None) -> str:
    """One row per exercise, then what failed and why: the run's verdict on the terminal."""

    rows = [("exercise", "accuracy", "behaviour", "baseline", "init")]
    details, notes = [], {}
    for name, result in results.items():
        verdict = result["verdict"]
        tier = f" ({verdict['tier']})" if verdict.get("tier") else ""
        accuracy = f"{result['metrics']['accuracy']:.4f}"
        rows.append((name, accuracy, verdict["behaviour"], verdict["baseline"] + tier, verdict.get("init", "")))
        notes.update(dict.fromkeys(verdict.get("notes", [])))
        if verdict.get("init_problems"):
            details += [f"{name} initial weights:", *(f"  {line}" for line in verdict["init_problems"])]
        if verdict["behaviour"] == "fail":
            details += [f"{name} behaviour:", *(f"  {line}" for line in verdict["expectations"])]
        if verdict["baseline"] in {"fail", "missing"}:
            details += [f"{name} baseline:", *(f"  {line}" for line in verdict["problems"])]
    failed = sum(r["verdict"]["failed"] for r in results.values())
    last = f"{failed} of {len(results)} exercises FAILED" if failed else f"all {len(results)} exercises passed"
    if data is not None:
        details += [f"training data (_data.json): {data['verdict']}", *(f"  {line}" for line in data["problems"])]
        if data["verdict"] == "missing":
            last += "; the training data has no baseline to compare with"
        elif data["failed"]:
            last += "; the training data differs from the baselines'"
    header = f"== verdict: {settings.label}, seed {settings.seed}, {settings.backend}"
    return "\n".join([header, *aligned(rows), *details, *(f"note: {n}" for n in notes), last])


def summary(name: str, metrics: Mapping[str, float], diverged_epoch: int | None = None) -> str:
    """The notebook's printout: the accuracy, then each layer's kernel ``min max mean std``, labelled."""

    lines = [f"== {name}", f"Accuracy: {metrics['accuracy']}"]
    if diverged_epoch:
        lines.append(f"Diverged: loss not finite at epoch {diverged_epoch}")
    stats = ("min", "max", "mean", "std")
    rows = [("kernel", *stats)]
    rows += [(layer, *(f"{metrics[f'{layer}.{s}']:.8g}" for s in stats)) for layer in LAYERS]
    return "\n".join([*lines, *aligned(rows)])


def to_json(settings, results: Mapping[str, Mapping], data: Mapping | None = None) -> dict:
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
            "timing": result.get("timing"),
        }
        if "verdict" in result:
            experiments[name]["verdict"] = result["verdict"]
    return {
        "dataset": settings.dataset_name,
        "profile": settings.profile.name,
        "seed": settings.seed,
        "backend": settings.backend,
        "passed": not any(r.get("verdict", {}).get("failed") for r in results.values())
        and not (data or {}).get("failed"),
        "data": data,
        "experiments": experiments,
    }


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
