"""The exact records a baselines folder holds, machine by machine: ``python -m harness baselines``.

Every exercise's baseline keeps one exact record per machine it was recorded on (an environment
key and a numerics probe, :class:`harness.judge.exact.Record`); the same machine has the same record id in
every file. Listing them shows which machines a fleet's CI has; pruning one drops a machine that is
gone (or whose records are wrong) from every file at once, and says what it removed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from harness.core.errors import BaselineError, ConfigError
from harness.core.tables import aligned
from harness.judge import baseline
from harness.judge.exact import Record


def files(root: Path, labels: Sequence[str] = ()) -> list[Path]:
    """Every exercise baseline below ``root`` (``<label>/<exercise>.json``), in ``labels`` if given."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no baselines folder here (--baselines-dir)")
    every = sorted(p for p in root.iterdir() if p.is_dir() and p.name != baseline.BENCHMARKS)
    folders = [root / label for label in labels] if labels else every
    for folder in folders:
        if not folder.is_dir():
            known = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir())) or "none"
            raise ConfigError(f"no baselines folder {folder} (labels here: {known})")
    return [p for f in folders for p in sorted(f.glob("*.json")) if p.stem != baseline.DATA]


def listing(root: Path, labels: Sequence[str] = (), skipped: list[str] | None = None) -> list[tuple[Path, Record]]:
    """(file, record) for every exact record of every baseline; a file that cannot be read is left out and,
    where ``skipped`` is given, named there with why (one line each)."""
    rows = []
    for path in files(root, labels):
        try:
            stored = baseline.load(path)
        except BaselineError as exc:
            if skipped is not None:
                skipped.append(str(exc))
            continue
        rows.extend((path, record) for record in stored.exact)
    return rows


def describe(record: Record) -> str:
    """What tells this machine apart, in a few words: backend, versions, processor, device."""
    env = record.environment
    cpu = env.get("isa", "?") if env.get("backend") == "tensorflow" else env.get("cpu_model", "?")
    return f"{env.get('backend')} {env.get('backend_version')}, keras {env.get('keras')}, {cpu}, {env.get('device')}"


def table(rows: Sequence[tuple[Path, Record]], root: Path) -> list[str]:
    """One line per machine: its id, what it is, the probe, and which files and seeds hold it."""

    machines: dict[str, list[tuple[Path, Record]]] = {}
    for path, record in rows:
        machines.setdefault(record.id, []).append((path, record))
    lines = [("record", "machine", "probe", "seeds", "files")]
    for record_id, held in machines.items():
        first = held[0][1]
        seeds = sorted({seed for _, r in held for seed in r.seeds})
        where = sorted({str(p.relative_to(root).parent) for p, _ in held})
        probe = first.probe[:12] if first.probe else "none"
        lines.append(
            (record_id, describe(first), probe, baseline.seed_span(seeds), f"{len(held)} in {', '.join(where)}")
        )
    return aligned(lines)


def prune(root: Path, record_id: str, labels: Sequence[str] = ()) -> list[Path]:
    """Remove the exact record ``record_id`` from every baseline holding it; the files changed.

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
    for path in hit:
        stored = baseline.load(path)
        kept = tuple(r for r in stored.exact if r.id != record_id)
        baseline.write(path, dataclasses.replace(stored, exact=kept))
    return hit
