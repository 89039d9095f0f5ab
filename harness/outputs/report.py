"""One page per run: ``report.html`` (self-contained) and ``report.md`` (for a CI job summary).

Built only from files, after training: each exercise's ``metrics.json`` and plots, the stored
baselines, and the exercise definitions. So ``python -m harness report`` can redraw the
page of any earlier run, and nothing here needs TensorFlow.
"""

from __future__ import annotations

import base64
import html
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import BaselineError, HarnessError
from harness.core.files import read_json, write_text
from harness.core.tables import aligned, markdown_table
from harness.experiment import PROFILES, Experiment
from harness.judge import baseline as baselines
from harness.judge import verdict as verdicts
from harness.judge.checks import Outcome, check_behaviour
from harness.outputs.artifacts import FIRMWARE, VERDICT, plan_comparisons
from harness.outputs.plots import band

#: The columns of the summary table (every pinned metric is in each exercise's details).
COLUMNS: tuple[str, ...] = ("accuracy", "val_loss", "fc1.std", "fc1.std_ratio", "fc1.max")
PLOTS: tuple[tuple[str, str], ...] = (
    ("history.png", "loss and accuracy"),
    ("weights.png", "weight distributions"),
    ("confusion.png", "normalized confusion"),
    ("roc.png", "ROC (a background efficiency of 0, no background jet above the cut, is drawn at the axis floor)"),
    ("precision_scan.png", "firmware: accuracy and agreement with float against fixed-point bits"),
    ("firmware_weights.png", "firmware: hls4ml's profile of the weights against their fixed-point types"),
    ("firmware_activations.png", "firmware: hls4ml's profile of the activations against their fixed-point types"),
)
#: The loss curves drawn over their baseline's band, saved beside the run's other plots.
BAND_PNG = "baseline_band.png"
CURVE_NAMES = {"loss": "training loss", "val_loss": "validation loss"}


@dataclass
class Cell:
    """An observed metric beside the stored seeds' median and range: shown, not judged (the verdict judges)."""

    observed: float
    median: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def stored(self) -> str:
        if self.median is None:
            return ""
        return f"{_fmt(self.median)} [{_fmt(self.low)}, {_fmt(self.high)}]"


@dataclass
class ExerciseReport:
    experiment: Experiment
    folder: Path
    record: dict
    outcomes: list[Outcome] | None
    baseline: baselines.Baseline | None
    baseline_error: str | None
    cells: dict[str, Cell] = field(default_factory=dict)
    #: The regression guard's verdict as the run's test recorded it (``verdict.json``), if it was judged.
    verdict: dict | None = None
    #: False on a profile that trains too little for the exercises' expectations (smoke).
    asserted: bool = True
    #: The firmware's results per precision point (``firmware.json``), where the firmware step ran.
    firmware: list | None = None

    @property
    def behaviour(self) -> str:
        if not self.asserted:
            return verdicts.NOT_ASSERTED
        if self.outcomes is None:
            return verdicts.NOT_RUN
        return verdicts.behaviour(self.experiment, self.outcomes, True, 0).status  # the tests' own rule

    @property
    def regression(self) -> str:
        """The recorded verdict; else ``missing`` (no baseline file to judge against) or ``not run``."""
        if self.verdict is not None:
            if self.verdict.get("recorded") and not self.problems:
                return verdicts.RECORDED
            return verdicts.FAIL if self.problems else verdicts.PASS
        return verdicts.MISSING if self.baseline is None else verdicts.NOT_RUN

    @property
    def tier(self) -> str:
        return str(self.verdict.get("tier", "")) if self.verdict else ""

    @property
    def problems(self) -> list[str]:
        if not self.verdict:
            return []
        if self.verdict.get("tier") == "exact":
            return [str(p) for p in self.verdict.get("problems", [])]
        tests = [t for t in self.verdict.get("tests", []) if t.get("rejected")]
        return [str(m) for m in self.verdict.get("moved", [])] + [_test_line(t) for t in tests]


def _test_line(test: Mapping) -> str:
    return (
        f"{test['name']}: fresh {test['fresh']} vs stored {test['stored']} "
        f"(p = {_float(test['pvalue']):.2g}, flagged at ≤ {_float(test['alpha']):.2g})"
    )


def collect(
    run_dir: Path, experiments: Mapping[str, Experiment], baselines_dir: Path, label: str
) -> list[ExerciseReport]:
    """Everything the page shows, for each exercise with a ``metrics.json`` in ``run_dir``.

    Behaviour is judged only where the run's profile (``session.json``) asserts it; the
    baseline verdict is the one the run recorded (``verdict.json``), never judged again here.
    """
    asserted = _asserts_behaviour(Path(run_dir))
    records = {}
    for name in experiments:
        path = Path(run_dir) / name / "metrics.json"
        if path.exists():
            records[name] = _read_json(path)
    metrics = {name: {k: _float(v) for k, v in rec["metrics"].items()} for name, rec in records.items()}
    reports = []
    for name, record in records.items():
        experiment = experiments[name]
        outcomes = None
        if all(ref in metrics for ref in experiment.references):
            references = {r: metrics[r] for r in experiment.references}
            # runs recorded before the backend was a setting trained on TensorFlow
            outcomes = check_behaviour(experiment, metrics[name], references, record.get("backend", "tensorflow"))
        stored, error = None, None
        try:
            stored = baselines.load(baselines.resolve(baselines_dir, label, name, record.get("backend", "tensorflow")))
        except BaselineError as exc:
            error = str(exc)
        folder = Path(run_dir) / name
        verdict = _read_json(folder / VERDICT) if (folder / VERDICT).exists() else None
        report = ExerciseReport(experiment, folder, record, outcomes, stored, error, verdict=verdict, asserted=asserted)
        if (folder / FIRMWARE).exists():
            report.firmware = read_json(folder / FIRMWARE, HarnessError, "firmware results")
        for column in dict.fromkeys((*baselines.BASELINE_METRICS, *COLUMNS)):
            report.cells[column] = _cell(metrics[name].get(column, math.nan), stored, column)
        reports.append(report)
    return reports


def _cell(observed: float, stored: baselines.Baseline | None, metric: str) -> Cell:
    reference = stored.metrics.get(metric) if stored else None
    finite = sorted(v for v in reference.values if math.isfinite(v)) if reference else []
    if not finite:
        return Cell(observed)
    return Cell(observed, statistics.median(finite), finite[0], finite[-1])


def _asserts_behaviour(run_dir: Path) -> bool:

    session = _read_json(run_dir / "session.json") if (run_dir / "session.json").exists() else {}
    profile = PROFILES.get(str(session.get("profile", "")).split(" ")[0])
    return profile.behaviour if profile else True


def write(run_dir: Path, experiments: Mapping[str, Experiment], baselines_dir: Path, label: str) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``run_dir``; return their paths."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise HarnessError(f"no run in {run_dir}: run pytest or python -m harness run first")
    reports = collect(run_dir, experiments, baselines_dir, label)
    if not reports:
        raise HarnessError(f"no exercise results (metrics.json) in {run_dir}")
    session = _read_json(run_dir / "session.json") if (run_dir / "session.json").exists() else {}
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    write_text(html_path, render_html(reports, session, run_dir))
    write_text(md_path, render_markdown(reports, session))
    return html_path, md_path


def terminal_table(reports: Sequence[ExerciseReport]) -> list[str]:
    """Exercise, accuracy, behaviour and baseline verdicts as aligned text: the numbers without opening HTML."""
    rows = [("exercise", "accuracy", "behaviour", "baseline")]
    for report in reports:
        accuracy = report.cells["accuracy"].observed if "accuracy" in report.cells else math.nan
        verdict = f"{report.regression} ({report.tier})" if report.tier else report.regression
        rows.append((report.experiment.name, _fmt(accuracy), report.behaviour, verdict))
    return aligned(rows)


# --- HTML ---

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
.pass { background: #e3f5e1; } .fail { background: #fbe0e0; font-weight: bold; }
.none, .missing, .not-run, .not-asserted { background: #f3f3f3; color: #666; }
.small { color: #666; font-size: 0.85em; }
figure { display: inline-block; margin: 0.5em; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #ddd; }
section { border-top: 2px solid #ddd; margin-top: 2em; }
"""

#: Sets data-images-loaded="loaded/total" and data-images-shrunk (the images drawn smaller than their own
#: size) on <body> once the page has loaded: what a browser test reads.
SCRIPT = """
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok + "/" + imgs.length;
  document.body.dataset.imagesShrunk = imgs.filter(i => i.width < i.naturalWidth).map(i => i.alt).join("; ");
});
"""


def render_html(reports: Sequence[ExerciseReport], session: Mapping, run_dir: Path) -> str:
    title = f"jet-harness report: {session.get('label', run_dir.name)}"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>',
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        f"<h1>{_e(title)}</h1>",
        _session_table(session),
        "<h2>Exercises</h2>",
        _summary_table(reports),
    ]
    experiments = {r.experiment.name: r.experiment for r in reports}
    plans = [p for p in plan_comparisons(experiments) if (run_dir / "compare" / p.filename).exists()]
    if plans:
        parts.append("<h2>The exercises' questions</h2>")
        parts += [_figure(run_dir / "compare" / p.filename, p.title_for([*experiments])) for p in plans]
    for report in reports:
        parts.append(_exercise_section(report))
    parts.append("</body></html>")
    return "\n".join(parts)


def _session_table(session: Mapping) -> str:
    rows = [(k, session[k]) for k in ("dataset", "profile", "seed", "backend", "device", "generated") if k in session]
    shown = {k for k, _ in rows}  # the fingerprint repeats the backend: one row each
    rows += [(k, v) for k, v in session.get("environment", {}).items() if k not in shown]
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="session">{body}</table>'


def _summary_table(reports: Sequence[ExerciseReport]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in ("exercise", "behaviour", "baseline", *COLUMNS))
    rows = []
    for r in reports:
        cells = [
            f'<td><a href="#{_e(r.experiment.name)}">{_e(r.experiment.name)}</a></td>',
            f'<td class="{_css(r.behaviour)}">{r.behaviour}</td>',
            f'<td class="{_css(r.regression)}">{r.regression}{f" ({_e(r.tier)})" if r.tier else ""}</td>',
        ]
        cells += [_metric_cell(r.cells[c]) for c in COLUMNS]
        rows.append(f'<tr class="exercise">{"".join(cells)}</tr>')
    note = (
        "<p class=\"small\">Cells: this run's value, then the baseline seeds' median [min, max], for reading only. "
        "The baseline verdict is the regression guard's: <em>exact</em> where this environment has a bit-for-bit "
        "record of the seed, else <em>statistical</em> (fresh seeds against the stored ones, exact rank tests; "
        "each exercise's details list them).</p>"
    )
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{note}'


def _metric_cell(cell: Cell) -> str:
    text = _fmt(cell.observed)
    if cell.stored:
        text += f'<br><span class="small">{_e(cell.stored)}</span>'
    return f"<td>{text}</td>"


def _exercise_section(report: ExerciseReport) -> str:
    exp = report.experiment
    parts = [f'<section id="{_e(exp.name)}"><h2>{_e(exp.name)}</h2>']
    if exp.question:
        parts.append(f"<p><em>{_e(exp.question)}</em></p>")
    if report.outcomes is not None:
        items = "".join(f'<li class="{"pass" if o.passed else "fail"}">{_e(o)}</li>' for o in report.outcomes)
        parts.append(f"<h3>Behaviour</h3><ul>{items or '<li>no expectations</li>'}</ul>")
    parts.append("<h3>Against the baseline</h3>")
    if report.baseline is None:
        parts.append(f'<p class="missing">{_e(report.baseline_error)}</p>')
    else:
        seeds = baselines.seed_span(report.baseline.seeds)
        parts.append(f'<p class="small">baseline: {len(report.baseline.seeds)} seeds ({_e(seeds)})</p>')
        parts.append(_verdict_html(report))
        rows = "".join(
            f"<tr><td>{_e(name)}</td>{_metric_cell(cell)}</tr>" for name, cell in report.cells.items() if cell.stored
        )
        parts.append(f'<table class="details"><tr><th>metric</th><th>this run / stored seeds</th></tr>{rows}</table>')
        band = _band_figure(report)
        if band:
            parts.append(_figure(*band))
    if report.firmware:
        parts.append("<h3>Firmware (hls4ml C simulation)</h3>")
        parts.append(_firmware_html(report.firmware))
    parts += [_figure(report.folder / name, caption) for name, caption in PLOTS if (report.folder / name).exists()]
    parts.append("</section>")
    return "\n".join(parts)


def firmware_rows(results: Sequence[Mapping]) -> list[list[str]]:
    """Precision, fixed-point accuracy, float accuracy, agreement and compile seconds, per point converted."""
    rows = [["precision", "accuracy (fixed)", "accuracy (float)", "agreement", "compile s"]]
    for r in results:
        if r.get("skipped"):
            rows.append([str(r["precision"]), str(r["skipped"]), "", "", ""])
            continue
        compile_s = r.get("seconds", {}).get("compile", math.nan)
        numbers = (r["accuracy"], r["float_accuracy"], r["agreement"])
        rows.append([str(r["precision"]), *(_fmt(_float(v)) for v in numbers), f"{_float(compile_s):.1f}"])
    return rows


def _firmware_html(results: Sequence[Mapping]) -> str:
    head, *rows = firmware_rows(results)
    cells = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return '<table class="details"><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) + f"</tr>{cells}</table>"


def _verdict_html(report: ExerciseReport) -> str:
    """What the guard checked, as the run's test recorded it."""
    verdict = report.verdict
    if not verdict:
        return '<p class="not-run">not judged in this run</p>'
    notes = "".join(f"<li>{_e(n)}</li>" for n in verdict.get("notes", []))
    status = _css(report.regression)
    if verdict.get("tier") == "exact":
        problems = "".join(f"<li>{_e(p)}</li>" for p in report.problems)
        return f'<p class="{status}">exact tier: {_e(report.regression)}</p><ul>{notes}{problems}</ul>'
    head = "".join(f"<th>{h}</th>" for h in ("test", "fresh seeds", "stored seeds", "p", "flagged at ≤"))
    rows = "".join(
        f'<tr class="{"fail" if t.get("rejected") else "pass"}"><td>{_e(t["name"])}</td><td>{_e(t["fresh"])}</td>'
        f"<td>{_e(t['stored'])}</td><td>{_float(t['pvalue']):.2g}</td><td>{_float(t['alpha']):.2g}</td></tr>"
        for t in verdict.get("tests", [])
    )
    moved = "".join(f'<li class="fail">{_e(m)}</li>' for m in verdict.get("moved", []))
    seeds = baselines.seed_span(verdict.get("seeds", []))
    return (
        f'<p class="{status}">statistical tier: {_e(report.regression)} (fresh seeds {_e(seeds)})</p>'
        f'<ul>{notes}{moved}</ul><table class="tests"><tr>{head}</tr>{rows}</table>'
    )


def _band_figure(report: ExerciseReport) -> tuple[Path, str] | None:
    """This run's loss curves drawn over the baseline's per-epoch prediction band, as a file and its caption."""

    curves = {}
    for name in baselines.CURVES:
        stored = report.baseline.band(name) if report.baseline else None
        observed = [_float(v) for v in report.record.get("history", {}).get(name, [])]
        if stored and observed:
            curves[name] = (observed, stored)
    if not curves:
        return None
    path = report.folder / BAND_PNG
    band(curves, path, title=f"{report.experiment.name}: this run vs baseline", labels=CURVE_NAMES)
    seeds = len(report.baseline.seeds)
    low, high = (round(100 * q) for q in baselines.BAND)
    caption = (
        f"{' and '.join(CURVE_NAMES.get(n, n) for n in curves)} over the baseline band: at each epoch, the "
        f"{low}th to {high}th percentile of the {seeds} stored seeds' loss (dashed: their median)"
    )
    return path, caption


def _figure(path: Path, caption: str) -> str:
    return _figure_data(path.read_bytes(), caption)


def _figure_data(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    image = f'<img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
    return f"<figure>{image}<figcaption>{_e(caption)}</figcaption></figure>"


# --- Markdown ---


def render_markdown(reports: Sequence[ExerciseReport], session: Mapping) -> str:
    """A compact table for ``$GITHUB_STEP_SUMMARY``: status first, numbers after."""
    icon = {
        "pass": "✅ pass",
        "fail": "❌ fail",
        "missing": "⚪ missing",
        "not run": "⚪ not run",
        "recorded": "📝 recorded",
        "not asserted": "⚪ not asserted",
    }
    setting = ", ".join(
        f"{k} `{session[k]}`" for k in ("dataset", "profile", "seed", "backend", "device") if k in session
    )
    lines = [f"## jet-harness: {session.get('label', 'report')}", "", setting, ""]
    rows = [["exercise", "behaviour", "baseline", *COLUMNS]]
    for r in reports:
        cells = [f"`{r.experiment.name}`", icon[r.behaviour], icon[r.regression] + (f" ({r.tier})" if r.tier else "")]
        for column in COLUMNS:
            cell = r.cells[column]
            cells.append(_fmt(cell.observed) + (f" ({cell.stored})" if cell.stored else ""))
        rows.append(cells)
    lines += markdown_table(rows)
    failing = [(r, o) for r in reports for o in (r.outcomes or []) if not o.passed]
    problems = [(r, p) for r in reports for p in r.problems]
    if failing or problems:
        lines += ["", "### What changed", ""]
        lines += [f"- `{r.experiment.name}` behaviour: {o}" for r, o in failing]
        lines += [f"- `{r.experiment.name}` baseline: {p}" for r, p in problems]
    converted = [r for r in reports if r.firmware]
    if converted:
        lines += ["", "### Firmware (hls4ml C simulation)", ""]
        rows = [["exercise", *firmware_rows([])[0]]]
        rows += [[f"`{r.experiment.name}`", *row] for r in converted for row in firmware_rows(r.firmware)[1:]]
        lines += markdown_table(rows)
    lines += [
        "",
        "Cells: this run (the baseline seeds' median [min, max]), for reading only. Baseline verdict: exact tier "
        "(bit-for-bit record of this environment) or statistical tier (fresh seeds, exact rank tests).",
        "Plots: `report.html`.",
        "",
    ]
    return "\n".join(lines)


# --- helpers ---


def _read_json(path: Path) -> dict:
    doc = read_json(path, HarnessError, "run record")
    if not isinstance(doc, dict):
        raise HarnessError(f"{path}: not a run record (expected a JSON object)")
    return doc


def _float(value: object) -> float:
    try:
        return float(value)  # "nan" and "inf" strings included
    except (TypeError, ValueError):
        return math.nan


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _css(status: str) -> str:
    return status.replace(" ", "-")


def _e(value: object) -> str:
    return html.escape(str(value))
