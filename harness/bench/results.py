"""Benchmarks across hardware: what a result file says about its machine, and one table for many.

pytest-benchmark compares runs of one machine; ``compare`` reads its JSON files from any
number of machines and lines them up benchmark by benchmark, never refusing because the
machines differ: that difference is the point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.files import read_json
from harness.core.tables import aligned, markdown_table


class BenchError(HarnessError):
    """A benchmark result file that cannot be read or compared."""


# --- comparing result files from several machines ---


@dataclass(frozen=True)
class Machine:
    label: str
    path: Path
    benchmarks: dict[str, dict]


def load(path: Path) -> Machine:
    """Read one pytest-benchmark JSON file; any problem is one :class:`BenchError` line."""
    path = Path(path)
    doc = read_json(path, BenchError, "benchmark file")
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise BenchError(f"{path}: not a pytest-benchmark result (no 'benchmarks' list)")
    benchmarks = {}
    for entry in doc["benchmarks"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("stats"), dict):
            raise BenchError(f"{path}: a benchmark entry has no 'stats'")
        name = entry.get("fullname") or entry.get("name")
        median = entry["stats"].get("median")
        if not isinstance(name, str) or not _positive(median):
            raise BenchError(f"{path}: a benchmark entry lacks a name or a positive median")
        benchmarks[name] = entry
    if not benchmarks:
        raise BenchError(f"{path}: contains no benchmarks")
    extras = [e.get("extra_info") for e in benchmarks.values() if isinstance(e.get("extra_info"), dict)]
    backends = sorted({str(x["backend"]) for x in extras if x.get("backend")})
    label = _label(doc, path) + (f", {backends[0]}" if len(backends) == 1 else "")
    return Machine(label, path, benchmarks)


def _label(doc: Mapping, path: Path) -> str:
    """The device the harness recorded, else pytest-benchmark's CPU brand, else the file name."""
    machine = doc.get("machine_info")
    machine = machine if isinstance(machine, dict) else {}
    ours = machine.get("jet_harness")
    if isinstance(ours, dict) and ours.get("device"):
        return str(ours["device"])
    cpu = machine.get("cpu")
    if isinstance(cpu, dict) and cpu.get("brand_raw"):
        return str(cpu["brand_raw"])
    return path.stem


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@dataclass(frozen=True)
class Row:
    """One benchmark on one machine: what it took, and against the reference machine."""

    #: The benchmark's full name (test file and id): rows of one benchmark share it.
    fullname: str
    machine: int
    median: float
    rate: float | None
    #: Median seconds to the exercise's target validation accuracy, where the benchmark measured it.
    to_target: float | None
    target: float | None

    @property
    def benchmark(self) -> str:
        """The test id a table shows."""
        return _short(self.fullname)

    @property
    def time(self) -> float:
        """What the comparison is about: time to the target accuracy where measured, else the whole median."""
        return self.to_target if self.to_target is not None else self.median


def compare(machines: Sequence[Machine]) -> list[Row]:
    """One row per benchmark and machine holding it, ordered by group, name, then machine."""
    names: dict[str, str] = {}
    for machine in machines:
        for name, entry in machine.benchmarks.items():
            names.setdefault(name, str(entry.get("group") or ""))
    rows = []
    for name in sorted(names, key=lambda n: (names[n], n)):
        for i, machine in enumerate(machines):
            entry = machine.benchmarks.get(name)
            if entry:
                extra = entry.get("extra_info") if isinstance(entry.get("extra_info"), dict) else {}
                to_target = extra.get("time_to_target_median_s")
                target = extra.get("target_val_accuracy")
                rows.append(
                    Row(
                        name,
                        i,
                        float(entry["stats"]["median"]),
                        _rate(entry),
                        float(to_target) if _positive(to_target) else None,
                        float(target) if _positive(target) else None,
                    )
                )
    return rows


def _rate(entry: Mapping | None) -> float | None:
    extra = entry.get("extra_info") if entry else None
    value = extra.get("samples_per_second") if isinstance(extra, dict) else None
    return float(value) if _positive(value) else None


def _short(fullname: str) -> str:
    return fullname.rsplit("::", 1)[-1]


def _ratio(row: Row, reference: Row | None) -> str:
    """How many times longer than the reference machine took (``<1``: faster), on the same measure."""
    if reference is None or row is reference:
        return "reference" if row is reference else "—"
    if (row.to_target is None) != (reference.to_target is None):
        return "—"  # one reached the target, the other never measured it: no common measure
    return f"{row.time / reference.time:.2f}×"


def render(machines: Sequence[Machine], rows: Sequence[Row], markdown: bool = False, reference: int = 0) -> str:
    """One line per benchmark and machine: the median, time to the target accuracy, samples/s, and the time
    against the reference machine's (``time`` is time to target where measured, else the median)."""

    lines = [["benchmark", "machine", "median", "to target", "samples/s", f"time vs [{reference + 1}]"]]
    by_benchmark: dict[str, list[Row]] = {}
    for row in rows:
        by_benchmark.setdefault(row.fullname, []).append(row)
    for held in by_benchmark.values():
        name = held[0].benchmark
        ref = next((r for r in held if r.machine == reference), None)
        target = next((r.target for r in held if r.target), None)
        label = f"{name} (val. accuracy {target:g})" if target else name
        for i, row in enumerate(held):
            to_target = _seconds(row.to_target) if row.to_target else ("never" if row.target else "—")
            cells = [label if i == 0 else "", f"[{row.machine + 1}]", _seconds(row.median), to_target]
            lines.append([*cells, _si(row.rate), _ratio(row, ref)])
    legend = [f"[{i + 1}] {m.label} ({m.path.name})" for i, m in enumerate(machines)]
    if markdown:
        return "\n".join([*markdown_table(lines), "", *(f"- {item}" for item in legend)])
    return "\n".join([*legend, "", *aligned(lines)])


def reference_index(machines: Sequence[Machine], given: str | None) -> int:
    """The machine the others are timed against: ``--reference`` (a file given, or its number), else the first."""
    if given is None:
        return 0
    for i, machine in enumerate(machines):
        if given in (str(i + 1), str(machine.path), machine.path.name):
            return i
    raise BenchError(f"--reference {given!r} is none of the files compared (give one of them, or its number)")


def plot(machines: Sequence[Machine], rows: Sequence[Row], out: Path) -> Path:
    """Time to the target accuracy per exercise and machine, as horizontal bars (log scale): the figure a
    benchmarker draws by hand. Benchmarks without a time to target are left out; none at all is an error."""
    import matplotlib  # matplotlib: only where a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # matplotlib: only where a figure is drawn
    from matplotlib.ticker import FuncFormatter, LogLocator

    timed = [r for r in rows if r.to_target is not None]
    if not timed:
        raise BenchError("no benchmark in these files measured time to accuracy (tests/benchmarks' time_to_accuracy)")
    names = list(dict.fromkeys(r.fullname for r in timed))
    shown = sorted({r.machine for r in timed})
    height = 0.8 / len(shown)
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.45 * len(names) * len(shown)))
    try:
        for k, machine in enumerate(shown):
            held = {r.fullname: r.to_target for r in timed if r.machine == machine}
            ys = [i + k * height for i, n in enumerate(names) if n in held]
            ax.barh(
                ys,
                [held[n] for n in names if n in held],
                height=height,
                label=f"[{machine + 1}] {machines[machine].label}",
            )
        missed = [r for r in rows if r.target and not r.to_target]
        never = {n: [f"[{r.machine + 1}]" for r in missed if r.fullname == n] for n in names}
        labels = [f"{_short(n)}\n(never: {', '.join(never[n])})" if never[n] else _short(n) for n in names]
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(names))], labels)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_xlabel("median seconds to the target validation accuracy (log scale)")
        ax.legend(fontsize="small")
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out


# --- is B slower than A? Past a threshold and beyond the rounds' spread ---


@dataclass(frozen=True)
class Spread:
    """A benchmark's rounds in one file: median, quartiles, min–max and how many rounds."""

    median: float
    q1: float
    q3: float
    low: float
    high: float
    rounds: int

    def __str__(self) -> str:
        return (
            f"{_seconds(self.median)} [IQR {_seconds(self.q1)}–{_seconds(self.q3)}, "
            f"min–max {_seconds(self.low)}–{_seconds(self.high)}, {self.rounds} rounds]"
        )


def spread(entry: Mapping) -> Spread:
    """The rounds' spread from pytest-benchmark's ``stats``; a missing quartile falls back to min or max,
    a missing min or max to the median (one round)."""
    stats = entry["stats"]
    median = float(stats["median"])
    low, high = (float(stats[k]) if _positive(stats.get(k)) else median for k in ("min", "max"))
    low, high = min(low, median), max(high, median)
    q1 = float(stats["q1"]) if _positive(stats.get("q1")) else low
    q3 = float(stats["q3"]) if _positive(stats.get("q3")) else high
    rounds = stats.get("rounds")
    count = int(rounds) if isinstance(rounds, int) and not isinstance(rounds, bool) and rounds > 0 else 1
    return Spread(median, min(q1, median), max(q3, median), low, high, count)


@dataclass(frozen=True)
class Change:
    """B's median against A's: relative change, and whether it is a regression past ``threshold``."""

    benchmark: str
    a: Spread
    b: Spread
    threshold: float

    @property
    def relative(self) -> float:
        return self.b.median / self.a.median - 1

    @property
    def beyond_spread(self) -> bool:
        """Each median lies outside the other's interquartile range: B's above A's upper quartile, A's below
        B's lower one. A slower median that the rounds' own scatter could give is not a regression."""
        return self.b.median > self.a.q3 and self.a.median < self.b.q1

    @property
    def regressed(self) -> bool:
        return self.relative > self.threshold and self.beyond_spread

    @property
    def verdict(self) -> str:
        if self.regressed:
            return "REGRESSION"
        if self.relative > self.threshold:
            return "slower, within the spread (noise)"
        return "faster" if self.relative < 0 else "ok"


def changes(a: Machine, b: Machine, threshold: float) -> list[Change]:
    """One :class:`Change` per benchmark both files hold, by name."""
    both = [name for name in a.benchmarks if name in b.benchmarks]
    return [Change(_short(n), spread(a.benchmarks[n]), spread(b.benchmarks[n]), threshold) for n in both]


def threshold(text: str) -> float:
    """``10%`` (or ``10``) → 0.10: how much slower B's median may be before it counts."""
    number = text.strip().removesuffix("%")
    try:
        value = float(number) / 100
    except ValueError:
        raise BenchError(f"--fail-above takes a percentage such as 10%, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise BenchError(f"--fail-above takes a non-negative percentage, got {text!r}")
    return value


def render_changes(a: Machine, b: Machine, found: Sequence[Change]) -> str:
    """A's and B's spread, the relative change and the verdict, one benchmark a line."""
    rows = [["benchmark", "A median [IQR, min–max, rounds]", "B median [IQR, min–max, rounds]", "change", "verdict"]]
    rows += [[c.benchmark, str(c.a), str(c.b), f"{c.relative:+.1%}", c.verdict] for c in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    limit = f"past {found[0].threshold:.0%} and beyond the spread" if found else ""
    regressed = sum(c.regressed for c in found)
    last = f"{regressed} of {len(found)} benchmarks regressed ({limit})" if found else "no benchmark in both files"
    return "\n".join([f"A: {a.label} ({a.path.name})", f"B: {b.label} ({b.path.name})", "", *table, "", last])


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.3f} s"


def _si(value: float | None) -> str:
    if value is None:
        return "—"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.2f}{suffix}"
    return f"{value:.1f}"
