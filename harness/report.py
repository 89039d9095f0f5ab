"""One page per run: ``report.html`` (self-contained) and ``report.md`` (for a CI job summary).

Built only from files, after training: each exercise's ``metrics.json`` and plots, the stored
baselines, and the exercise definitions. So ``python -m harness report`` can redraw the
page of any earlier run, and nothing here needs TensorFlow.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import baseline as baselines
from .artifacts import CONFIRMATION, plan_comparisons
from .checks import Outcome, check_behaviour
from .errors import BaselineError, HarnessError
from .experiment import Experiment
from .files import read_json, write_text

#: The columns of the summary table (every baseline metric is in each exercise's details; min and
#: max, which no baseline pins, show the observed value only).
COLUMNS: tuple[str, ...] = ("accuracy", "val_loss", "fc1.std", "fc1.max", "fc1.min")
PLOTS: tuple[tuple[str, str], ...] = (
    ("history.png", "loss and accuracy"),
    ("weights.png", "weight distributions"),
    ("confusion.png", "normalized confusion"),
    ("roc.png", "ROC"),
)


@dataclass
class Cell:
    observed: float
    expected: float | None = None
    low: float | None = None
    high: float | None = None
    problem: str | None = None
    #: What an outside value means: ``fail`` (a second seed confirmed it), ``noise`` (it did
    #: not) or ``deviates`` (no second seed was trained).
    verdict: str = "deviates"

    @property
    def status(self) -> str:
        if self.expected is None and self.problem is None:
            return "none"
        return self.verdict if self.problem else "pass"


@dataclass
class ExerciseReport:
    experiment: Experiment
    folder: Path
    record: dict
    outcomes: list[Outcome] | None
    baseline: baselines.Baseline | None
    baseline_error: str | None
    cells: dict[str, Cell] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    judgement: baselines.Judgement | None = None
    #: The second seed that checked this run's deviations, if the tests trained one.
    confirmation_seed: int | None = None
    #: False on a profile that trains too little for the exercises' expectations (smoke).
    asserted: bool = True

    @property
    def behaviour(self) -> str:
        if not self.asserted:
            return "not asserted"
        if self.outcomes is None:
            return "not run"
        return "pass" if all(o.passed for o in self.outcomes) else "fail"

    @property
    def regression(self) -> str:
        if self.baseline is None:
            return "missing"
        judgement = self.judgement
        if judgement is None or not (judgement.regression or judgement.unconfirmed):
            return "pass"
        if judgement.regression:
            return "fail"
        return "noise" if judgement.checked else "deviates"


def collect(
    run_dir: Path, experiments: Mapping[str, Experiment], baselines_dir: Path, label: str
) -> list[ExerciseReport]:
    """Everything the page shows, for each exercise with a ``metrics.json`` in ``run_dir``.

    Behaviour is judged only where the run's profile (``session.json``) asserts it.
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
        report = ExerciseReport(experiment, Path(run_dir) / name, record, outcomes, stored, error, asserted=asserted)
        if stored:
            judgement = stored.judge(metrics[name])
            confirmation = _confirmation(Path(run_dir) / name, stored, record.get("seed"))
            if judgement.needs_second_seed and confirmation:
                report.confirmation_seed, confirmation_metrics = confirmation
                judgement = stored.judge(metrics[name], confirmation_metrics)
            report.judgement = judgement
            report.problems = judgement.regression or ([] if judgement.checked else judgement.unconfirmed)
        for column in dict.fromkeys((*baselines.BASELINE_METRICS, *COLUMNS)):
            reference = stored.metrics.get(column) if stored else None
            cell = Cell(metrics[name].get(column, math.nan))
            if reference is not None:
                cell.expected, cell.low, cell.high = reference.mean, reference.low, reference.high
                cell.problem = reference.deviation(cell.observed)
                if column in report.judgement.regressed:
                    cell.verdict = "fail"
                elif report.judgement.checked:
                    cell.verdict = "noise"
            report.cells[column] = cell
        reports.append(report)
    return reports


def _asserts_behaviour(run_dir: Path) -> bool:
    from .experiment import PROFILES

    session = _read_json(run_dir / "session.json") if (run_dir / "session.json").exists() else {}
    profile = PROFILES.get(str(session.get("profile", "")).split(" ")[0])
    return profile.behaviour if profile else True


def _confirmation(folder: Path, stored: baselines.Baseline, run_seed: object) -> tuple[int, dict[str, float]] | None:
    """The second seed's metrics, if they checked this very run against this very baseline."""
    path = folder / CONFIRMATION
    if not path.exists():
        return None
    record = _read_json(path)
    try:
        seed, checks = int(record["seed"]), int(record["checks_seed"])
        metrics = {str(k): _float(v) for k, v in record["metrics"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise HarnessError(f"{path}: not a confirmation record (expected seed, checks_seed and metrics)") from None
    if checks != run_seed or stored.confirmation_seed(checks) != seed:
        return None
    return seed, metrics


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
        rows.append((report.experiment.name, _fmt(accuracy), report.behaviour, report.regression))
    return aligned(rows)


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of text cells as left-aligned columns two spaces apart (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


# --- HTML ---

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child { text-align: left; }
.pass { background: #e3f5e1; } .fail { background: #fbe0e0; font-weight: bold; }
.noise { background: #fff1c2; } .deviates { background: #ffd9a8; }
.none, .missing, .not-run, .not-asserted { background: #f3f3f3; color: #666; }
.small { color: #666; font-size: 0.85em; }
figure { display: inline-block; margin: 0.5em; } figure img { max-width: 520px; border: 1px solid #ddd; }
section { border-top: 2px solid #ddd; margin-top: 2em; }
"""

#: Sets data-images-loaded="loaded/total" on <body> once the page has loaded: what a browser test reads.
SCRIPT = """
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok + "/" + imgs.length;
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
        parts += [_figure(run_dir / "compare" / plan.filename, plan.title) for plan in plans]
    for report in reports:
        parts.append(_exercise_section(report))
    parts.append("</body></html>")
    return "\n".join(parts)


def _session_table(session: Mapping) -> str:
    rows = [(k, session[k]) for k in ("dataset", "profile", "seed", "backend", "device", "generated") if k in session]
    env = session.get("environment", {})
    rows += [(k, v) for k, v in env.items()]
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="session">{body}</table>'


def _summary_table(reports: Sequence[ExerciseReport]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in ("exercise", "behaviour", "baseline", *COLUMNS))
    rows = []
    for r in reports:
        cells = [
            f'<td><a href="#{_e(r.experiment.name)}">{_e(r.experiment.name)}</a></td>',
            f'<td class="{_css(r.behaviour)}">{r.behaviour}</td>',
            f'<td class="{_css(r.regression)}">{r.regression}</td>',
        ]
        cells += [_metric_cell(r.cells[c]) for c in COLUMNS]
        rows.append(f'<tr class="exercise">{"".join(cells)}</tr>')
    note = (
        '<p class="small">Cells: observed, then the baseline mean and the interval one more seed falls in '
        "(a prediction interval from the seed-to-seed spread); red where the observed value lies outside and a "
        "second, independent seed confirmed it (a regression), yellow where the second seed did not (seed noise), "
        "orange where no second seed was trained (<code>python -m harness run</code>; the tests train one).</p>"
    )
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{note}'


def _metric_cell(cell: Cell) -> str:
    text = _fmt(cell.observed)
    if cell.expected is not None:
        text += f'<br><span class="small">{_fmt(cell.expected)} [{_fmt(cell.low)}, {_fmt(cell.high)}]</span>'
    title = f' title="{_e(cell.problem)}"' if cell.problem else ""
    return f'<td class="{cell.status}"{title}>{text}</td>'


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
        seeds = ", ".join(map(str, report.baseline.seeds))
        outside = f"{sum(1 for cell in report.cells.values() if cell.problem)} metric(s) outside"
        if report.confirmation_seed is not None:
            outside += f", {len(report.problems)} confirmed by seed {report.confirmation_seed}"
        parts.append(f'<p class="small">baseline seeds {seeds}; {outside}</p>')
        rows = "".join(
            f"<tr><td>{_e(name)}</td>{_metric_cell(cell)}</tr>"
            for name, cell in report.cells.items()
            if cell.expected is not None
        )
        parts.append(f'<table class="details"><tr><th>metric</th><th>observed / baseline</th></tr>{rows}</table>')
        band = _band_png(report)
        if band:
            parts.append(_figure_data(band, "validation loss over the baseline band"))
    parts += [_figure(report.folder / name, caption) for name, caption in PLOTS if (report.folder / name).exists()]
    parts.append("</section>")
    return "\n".join(parts)


def _band_png(report: ExerciseReport) -> bytes | None:
    """This run's loss curves drawn over the baseline's per-epoch prediction band."""
    from .plots import band

    curves = {}
    for name in baselines.CURVES:
        stored = report.baseline.band(name) if report.baseline else None
        observed = [_float(v) for v in report.record.get("history", {}).get(name, [])]
        if stored and observed:
            curves[name] = (observed, stored)
    if not curves:
        return None
    buffer = io.BytesIO()
    band(curves, buffer, title=f"{report.experiment.name}: this run vs baseline")
    return buffer.getvalue()


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
        "noise": "🟡 seed noise",
        "deviates": "🟠 deviates",
        "missing": "⚪ missing",
        "not run": "⚪ not run",
        "not asserted": "⚪ not asserted",
    }
    setting = ", ".join(
        f"{k} `{session[k]}`" for k in ("dataset", "profile", "seed", "backend", "device") if k in session
    )
    lines = [f"## jet-harness: {session.get('label', 'report')}", "", setting, ""]
    lines.append("| exercise | behaviour | baseline | " + " | ".join(COLUMNS) + " |")
    lines.append("|---" * (3 + len(COLUMNS)) + "|")
    for r in reports:
        cells = [f"`{r.experiment.name}`", icon[r.behaviour], icon[r.regression]]
        for column in COLUMNS:
            cell = r.cells[column]
            text = _fmt(cell.observed)
            if cell.expected is not None:
                text += f" ({_fmt(cell.expected)} [{_fmt(cell.low)}, {_fmt(cell.high)}])"
            cells.append(f"**{text}**" if cell.status == "fail" else text)
        lines.append("| " + " | ".join(cells) + " |")
    failing = [(r, o) for r in reports for o in (r.outcomes or []) if not o.passed]
    problems = [(r, p) for r in reports for p in r.problems]
    if failing or problems:
        lines += ["", "### What changed", ""]
        lines += [f"- `{r.experiment.name}` behaviour: {o}" for r, o in failing]
        lines += [f"- `{r.experiment.name}` baseline: {p}" for r, p in problems]
    lines += [
        "",
        "Cells: observed (baseline mean [interval for one more seed]); bold: outside, confirmed by a second seed.",
        "Seed noise: outside for this seed only. Plots: `report.html`.",
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
