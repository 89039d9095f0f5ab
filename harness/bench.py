"""Benchmarks across hardware: what a result file says about its machine, and one table for many.

pytest-benchmark compares runs of one machine; ``compare`` reads its JSON files from any
number of machines and lines them up benchmark by benchmark, never refusing because the
machines differ: that difference is the point.
"""

from __future__ import annotations

import itertools
import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import HarnessError
from .files import read_json


class BenchError(HarnessError):
    """A benchmark result file that cannot be read or compared."""


def mlp_train_flops_per_sample(widths: Sequence[int] = (16, 64, 32, 32, 5)) -> int:
    """Floating-point operations to train on one sample: forward ``2·MACs``, backward ``4·MACs``.

    Biases, activations and the optimizer update are O(parameters / batch) and left out.
    """
    macs = sum(a * b for a, b in itertools.pairwise(widths))
    return 6 * macs


def mlp_forward_flops_per_sample(widths: Sequence[int] = (16, 64, 32, 32, 5)) -> int:
    return mlp_train_flops_per_sample(widths) // 3


def device_info() -> dict[str, object]:
    """Where the numbers were measured: accelerator or CPU, versions, oneDNN and thread settings."""
    import keras

    info: dict[str, object] = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86)") if _uses_tf() else "n/a",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
    }
    accelerators = _accelerators(info["backend"])
    info["accelerators"] = accelerators
    info["device"] = accelerators[0]["name"] if accelerators else f"{info['cpu']} ({info['cpu_count']} cores)"
    if info["backend"] == "tensorflow":
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        info["intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        info["inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    elif info["backend"] == "jax":
        import jax

        info["jax"] = jax.__version__
    return info


def _accelerators(backend: str) -> list[dict[str, object]]:
    if backend == "tensorflow":
        import tensorflow as tf

        found = []
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            found.append({"name": details.get("device_name", gpu.name), "kind": "GPU"})
        return found
    if backend == "jax":
        import jax

        return [
            {"name": d.device_kind, "kind": d.platform.upper(), "memory_bytes": _jax_memory(d)}
            for d in jax.devices()
            if d.platform != "cpu"
        ]
    return []


def _jax_memory(device) -> int | None:
    try:
        return int(device.memory_stats()["bytes_limit"])
    except Exception:  # memory_stats is optional per platform
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def wait_for_device(value: object) -> None:
    """Block until an accelerator has finished computing ``value`` (the clock must not stop early)."""
    block = getattr(value, "block_until_ready", None)
    if callable(block):
        block()


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
    return Machine(_label(doc, path), path, benchmarks)


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
    benchmark: str
    group: str
    medians: list[float | None]
    rates: list[float | None]

    def speedups(self) -> list[float | None]:
        first = self.medians[0]
        return [first / m if first is not None and m is not None else None for m in self.medians]


def compare(machines: Sequence[Machine]) -> list[Row]:
    """One row per benchmark found in any file, ordered by group then name; gaps stay ``None``."""
    names: dict[str, str] = {}
    for machine in machines:
        for name, entry in machine.benchmarks.items():
            names.setdefault(name, str(entry.get("group") or ""))
    rows = []
    for name in sorted(names, key=lambda n: (names[n], n)):
        entries = [m.benchmarks.get(name) for m in machines]
        medians = [float(e["stats"]["median"]) if e else None for e in entries]
        rates = [_rate(e) for e in entries]
        rows.append(Row(_short(name), names[name], medians, rates))
    return rows


def _rate(entry: Mapping | None) -> float | None:
    extra = entry.get("extra_info") if entry else None
    value = extra.get("samples_per_second") if isinstance(extra, dict) else None
    return float(value) if _positive(value) else None


def _short(fullname: str) -> str:
    return fullname.rsplit("::", 1)[-1]


def render(machines: Sequence[Machine], rows: Sequence[Row], markdown: bool = False) -> str:
    """The comparison table: per machine the median, samples/s, and speedup against the first file."""
    header = ["group", "benchmark"]
    for i in range(len(machines)):
        tag = f"[{i + 1}]"
        header += [f"{tag} median", f"{tag} samples/s"] + ([f"{tag} speedup"] if i else [])
    lines = [header]
    for row in rows:
        cells = [row.group, row.benchmark]
        for i, (median, rate, speedup) in enumerate(zip(row.medians, row.rates, row.speedups(), strict=True)):
            cells += [_seconds(median), _si(rate)] + ([f"{speedup:.2f}x" if speedup else "—"] if i else [])
        lines.append(cells)
    legend = [f"[{i + 1}] {m.label} ({m.path.name})" for i, m in enumerate(machines)]
    if markdown:
        table = ["| " + " | ".join(lines[0]) + " |", "|" + "---|" * len(lines[0])]
        table += ["| " + " | ".join(cells) + " |" for cells in lines[1:]]
        return "\n".join(table + [""] + [f"- {item}" for item in legend])
    widths = [max(len(cells[i]) for cells in lines) for i in range(len(lines[0]))]
    table = ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in lines]
    return "\n".join([*legend, "", *table])


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


def _uses_tf() -> bool:
    import keras

    return keras.backend.backend() == "tensorflow"
