"""A run's folders, without drawing anything: ``<artifacts>/runs/<run id>/`` and ``<artifacts>/latest``.

Apart from :mod:`harness.outputs.artifacts` because pytest's configuration and every command's first
checks need them, and the plots (matplotlib, scikit-learn, scipy) would cost them seconds.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.errors import ConfigError

if TYPE_CHECKING:
    from harness.experiment import Settings


def ensure_writable(root: Path, what: str = "artifacts directory", option: str = "--artifacts-dir") -> Path:
    """Create ``root`` or fail at once with one line, before any training time is spent."""
    root = Path(root)
    blocker = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ConfigError(f"{what} {root} cannot be created: {blocker} is a file; pass another {option}")
    try:
        root.mkdir(parents=True, exist_ok=True)
        # A probe of its own: pytest-xdist workers check the same folder at the same moment.
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        raise ConfigError(f"{what} {root} is not writable ({exc.strerror}); pass another {option}") from None
    return root


#: ``<artifacts>/runs/<run id>/``: one folder per pytest or ``python -m harness run`` invocation.
RUNS = "runs"
#: ``<artifacts>/latest``: a link to the last finished run's ``<dataset>-<profile>`` folder.
LATEST = "latest"


def new_run_id(root: Path, settings: Settings) -> str:
    """``20261126-104512-surrogate-quick-seed0`` (``…-quick-jax-seed0`` off TensorFlow): sortable, readable,
    unique under ``root``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    backend = "" if settings.backend == "tensorflow" else f"-{settings.backend}"
    base = f"{stamp}-{settings.label}{backend}-seed{settings.seed}"
    candidate, n = base, 1
    while (Path(root) / RUNS / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def mark_latest(root: Path, run_folder: Path) -> Path:
    """Point ``<root>/latest`` at ``run_folder`` (a relative link, replaced atomically): the newest report's path."""
    link = Path(root) / LATEST
    tmp = link.with_name(f".{LATEST}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(run_folder, link.parent), target_is_directory=True)
    os.replace(tmp, link)
    return link


def runs(root: Path) -> list[Path]:
    """Every run's ``<dataset>-<profile>`` folder under ``root`` that has a ``session.json``, oldest first."""
    return sorted(p.parent for p in (Path(root) / RUNS).glob("*/*/session.json"))
