"""The exact records a baselines folder holds, machine by machine: ``python -m harness baselines``.

Every exercise's baseline keeps one exact record per machine it was recorded on (an environment
key and a numerics probe, :class:`harness.judge.exact.Record`); the same machine has the same record id in
every file. The firmware stage's files (``<label>/firmware/``, ``firmware-probe.json``) keep exact
records per toolchain (hls4ml, the compiler and hls4ml's defaults left), listed and pruned alike under
one id per toolchain (:class:`Toolchain`). Listing them shows which machines a fleet's CI has; pruning
one drops a machine that is gone (or whose records are wrong) from every file at once, and says what it
removed. A firmware file's stored seeds are a distribution, judged on any toolchain, and stay.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import BaselineError, ConfigError
from harness.core.tables import aligned
from harness.judge import baseline
from harness.judge import firmware as firmware_guard
from harness.judge.exact import Record


@dataclass(frozen=True)
class Toolchain:
    """The firmware records of one file made with one toolchain: what a firmware file's row lists."""

    environment: dict[str, str]
    seeds: tuple[int, ...]
    probe = None

    @property
    def id(self) -> str:
        """Eight hex digits naming the toolchain, the same in every firmware file."""
        text = "\n".join(f"{k}={self.environment[k]}" for k in sorted(self.environment))
        return hashlib.sha256(f"firmware\n{text}".encode()).hexdigest()[:8]


def files(root: Path, labels: Sequence[str] = ()) -> list[Path]:
    """Every exercise baseline below ``root`` (``<label>/<exercise>.json``), in ``labels`` if given."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no baselines folder here (--baselines-dir)")
    folders = _folders(root, labels)
    for folder in folders:
        if not folder.is_dir():
            known = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir())) or "none"
            raise ConfigError(f"no baselines folder {folder} (labels here: {known})")
    return [p for f in folders for p in sorted(f.glob("*.json")) if p.stem != baseline.DATA]


def firmware_files(root: Path, labels: Sequence[str] = ()) -> list[Path]:
    """Every firmware file below ``root``: each baseline folder's ``firmware/``, and the probe's record."""
    found = [p for f in _folders(root, labels) for p in sorted((f / firmware_guard.FOLDER).glob("*.json"))]
    probe = firmware_guard.probe_path(root)
    return found + ([probe] if probe.exists() and not labels else [])


def _folders(root: Path, labels: Sequence[str]) -> list[Path]:
    """The baseline folders ``labels`` name, or every folder below ``root`` but the benchmarks'."""
    if labels:
        return [root / label for label in labels]
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name != baseline.BENCHMARKS)


def listing(
    root: Path, labels: Sequence[str] = (), skipped: list[str] | None = None
) -> list[tuple[Path, Record | Toolchain]]:
    """(file, record) for every exact record of every baseline, then (file, toolchain) for every firmware
    file; a file that cannot be read is left out and, where ``skipped`` is given, named there with why."""
    rows: list[tuple[Path, Record | Toolchain]] = []
    for path in files(root, labels):
        try:
            rows.extend((path, record) for record in baseline.load(path).exact)
        except BaselineError as exc:
            if skipped is not None:
                skipped.append(str(exc))
    for path in firmware_files(root, labels):
        try:
            held = firmware_guard.load(path)
        except BaselineError as exc:
            if skipped is not None:
                skipped.append(str(exc))
            continue
        toolchains: dict[tuple, list[int]] = {}
        for record in held:
            toolchains.setdefault(tuple(sorted(record.environment.items())), []).append(record.seed)
        rows.extend((path, Toolchain(dict(env), tuple(sorted(set(seeds))))) for env, seeds in toolchains.items())
    return rows


def describe(record: Record | Toolchain) -> str:
    """What tells this machine apart, in a few words: backend, versions, processor, device; for firmware,
    hls4ml's version and the compiler's."""
    env = record.environment
    if isinstance(record, Toolchain):
        compiler = env.get("compiler", "?").split()
        return f"firmware: hls4ml {env.get('hls4ml')}, {compiler[0]} {compiler[-1]}"
    cpu = env.get("isa", "?") if env.get("backend") == "tensorflow" else env.get("cpu_model", "?")
    return f"{env.get('backend')} {env.get('backend_version')}, keras {env.get('keras')}, {cpu}, {env.get('device')}"


def table(rows: Sequence[tuple[Path, Record | Toolchain]], root: Path) -> list[str]:
    """One line per machine: its id, what it is, the probe, and which files and seeds hold it."""

    machines: dict[str, list[tuple[Path, Record | Toolchain]]] = {}
    for path, record in rows:
        machines.setdefault(record.id, []).append((path, record))
    lines = [("record", "machine", "probe", "seeds", "files")]
    for record_id, held in machines.items():
        first = held[0][1]
        seeds = sorted({seed for _, r in held for seed in r.seeds})
        where = sorted({_folder(p.relative_to(root)) for p, _ in held})
        probe = first.probe[:12] if first.probe else "none"
        lines.append(
            (record_id, describe(first), probe, baseline.seed_span(seeds), f"{len(held)} in {', '.join(where)}")
        )
    return aligned(lines)


def _folder(relative: Path) -> str:
    """Where a file lies below the root, for the table: its folder, or its name at the root itself."""
    return relative.name if relative.parent == Path(".") else str(relative.parent)


def prune(root: Path, record_id: str, labels: Sequence[str] = ()) -> list[Path]:
    """Remove the exact record ``record_id`` from every baseline (or firmware file) holding it; the files changed.

    An id no file holds is an error, naming the ids there are: nothing is written.
    """
    skipped: list[str] = []
    rows = listing(root, labels, skipped)
    if skipped:  # a file we cannot read might hold the record: prune nothing rather than part of it
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        raise BaselineError(f"cannot prune: {skipped[0]}{more}")
    hit = sorted({path for path, record in rows if record.id == record_id})
    if not hit:
        known = ", ".join(sorted({record.id for _, record in rows})) or "none"
        raise ConfigError(f"no exact record {record_id!r} in {root} (records: {known})")
    firmware = {path for path, record in rows if isinstance(record, Toolchain)}
    for path in hit:
        if path in firmware:
            firmware_guard.keep_records(
                path, [r for r in firmware_guard.load(path) if Toolchain(r.environment, ()).id != record_id]
            )
            continue
        stored = baseline.load(path)
        kept = tuple(r for r in stored.exact if r.id != record_id)
        baseline.write(path, dataclasses.replace(stored, exact=kept))
    return hit
