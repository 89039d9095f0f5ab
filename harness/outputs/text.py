"""The terminal and JSON forms of a run: the notebook's summary, the verdict table, ``--json``, seed comparisons."""

from __future__ import annotations

import math
from collections.abc import Mapping

from harness.core.files import json_number
from harness.core.tables import aligned, markdown_table
from harness.experiment.vocabulary import LAYERS
from harness.judge.stats import detectable_shift


def verdict_table(settings, results: Mapping[str, Mapping], data: Mapping | None = None) -> str:
    """One row per exercise, then what failed and why: the run's verdict on the terminal."""

    firmware = any("firmware" in r["verdict"] for r in results.values())
    rows = [("exercise", "accuracy", "behaviour", "baseline", "init", *(("firmware",) if firmware else ()))]
    details, notes = [], {}
    for name, result in results.items():
        verdict = result["verdict"]
        tier = f" ({verdict['tier']})" if verdict.get("tier") else ""
        accuracy = f"{result['metrics']['accuracy']:.4f}"
        row = (name, accuracy, verdict["behaviour"], verdict["baseline"] + tier, verdict.get("init", ""))
        rows.append((*row, *((verdict.get("firmware", ""),) if firmware else ())))
        if verdict.get("firmware") == "fail":
            details += [f"{name} firmware:", *(f"  {line}" for line in verdict["firmware_problems"])]
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
