"""Stage 1, the dataset: where the jets come from, and the checks every source passes.

Three sources share one validator, so a file, OpenML and the surrogate all reach the
next stage as the same :class:`Dataset`:

* ``surrogate`` (default): the deterministic synthetic jets of :mod:`harness.data.surrogate`;
* ``openml``: OpenML's ``hls4ml_lhc_jets_hlf`` through scikit-learn's ``fetch_openml``;
* a path: CSV or Parquet with the 16 feature columns and ``class``, or ``.npz`` with ``X``, ``y``.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from harness.core.errors import DatasetError
from harness.core.files import atomic
from harness.data import surrogate

FEATURES = surrogate.FEATURES
CLASSES = surrogate.CLASSES
TARGET = "class"
OPENML_ID = 42468
OPENML_NAME = "hls4ml_lhc_jets_hlf"
#: How long a process waits for another one's download before it says so.
DOWNLOAD_WAIT_S = 1800
SOURCES = "surrogate, openml, or a path to a .csv, .parquet or .npz file"


@dataclass(frozen=True, eq=False)
class Dataset:
    """Validated jets: ``X`` float32 ``(n, 16)`` in :data:`FEATURES` order, ``y`` string labels."""

    name: str
    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n_jets: int | None) -> Dataset:
        """The first ``n_jets`` jets of a fixed shuffle: a smaller dataset with the same mix.

        The shuffle is fixed (not the training seed) so every seed trains on the same jets.
        """
        if n_jets is None or n_jets >= len(self):
            return self
        order = np.random.default_rng(0).permutation(len(self))[:n_jets]
        order.sort()
        return Dataset(self.name, self.X[order], self.y[order])


def load(spec: str, cache_dir: Path | str | None = None) -> Dataset:
    """Load a dataset by its ``--dataset`` spec (memoized per process: data loads once)."""
    return _load(str(spec), str(cache_dir or default_cache_dir()))


@functools.lru_cache(maxsize=4)
def _load(spec: str, cache_dir: str) -> Dataset:
    if spec == "surrogate":
        X, y = surrogate.generate()
        return Dataset("surrogate", X, y)
    if spec == "openml":
        return load_openml(Path(cache_dir))
    path = Path(spec)
    if path.suffix.lower() not in {".csv", ".parquet", ".npz"}:
        raise DatasetError(f"unknown dataset {spec!r}: use {SOURCES}")
    return load_file(path)


def default_cache_dir() -> Path:
    """Where downloads and parsed copies live: ``$JET_HARNESS_CACHE`` or ``~/.cache/jet-harness``."""
    return Path(os.environ.get("JET_HARNESS_CACHE", Path.home() / ".cache" / "jet-harness"))


def load_openml(cache_dir: Path) -> Dataset:
    """OpenML's jets, downloaded once into ``cache_dir``; the parsed arrays are cached as ``.npz``.

    The first process (of several pytest-xdist workers, say) downloads under a file lock; the
    others wait for it and read the parsed copy.
    """

    parsed = cache_dir / f"{OPENML_NAME}.npz"
    if parsed.exists():
        return load_file(parsed, name="openml")
    lock = f"{parsed}.lock"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(lock, timeout=DOWNLOAD_WAIT_S):
            if parsed.exists():
                return load_file(parsed, name="openml")
            return _download_openml(cache_dir, parsed)
    except Timeout:
        raise DatasetError(
            f"waited {DOWNLOAD_WAIT_S} s for another process's OpenML download ({lock}); "
            "if none is running, delete that lock file"
        ) from None
    except OSError as exc:
        raise DatasetError(
            f"cache directory {cache_dir} is not usable ({exc.strerror or exc}); set JET_HARNESS_CACHE elsewhere"
        ) from None


def _download_openml(cache_dir: Path, parsed: Path) -> Dataset:
    from sklearn.datasets import fetch_openml  # scikit-learn's OpenML loader: only when OpenML is asked for

    try:
        with warnings.catch_warnings():  # sklearn warns before each retry; we report the outcome once
            warnings.filterwarnings("ignore", message="A network error occurred", category=UserWarning)
            warnings.filterwarnings("ignore", message="Invalid cache, redownloading", category=RuntimeWarning)
            bunch = fetch_openml(
                data_id=OPENML_ID, data_home=str(cache_dir), as_frame=True, parser="auto", n_retries=2, delay=0.5
            )
    except OSError as exc:  # URLError, HTTPError and socket errors are all OSErrors
        raise DatasetError(
            f"cannot download OpenML dataset {OPENML_NAME} (id {OPENML_ID}): {_reason(exc)}; "
            "use --dataset=surrogate, or --dataset=PATH with a local .csv, .parquet or .npz copy"
        ) from None
    except ValueError as exc:  # checksum mismatch or an unparsable cached download
        raise DatasetError(
            f"OpenML download of {OPENML_NAME} in {cache_dir / 'openml'} is corrupt ({_reason(exc)}); "
            "delete that folder and retry"
        ) from None
    dataset = _from_frame(bunch.frame, source=f"OpenML {OPENML_NAME}", name="openml")
    _save_npz(parsed, dataset)
    return dataset


def load_file(path: Path, name: str | None = None) -> Dataset:
    """Load and validate a local CSV, Parquet or NPZ file."""
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path}: a folder, not a dataset file; use {SOURCES}")
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file; use {SOURCES}")
    suffix = path.suffix.lower()
    name = name or path.stem
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                missing = {"X", "y"} - set(npz.files)
                if missing:
                    raise DatasetError(f"{path}: missing array(s) {', '.join(sorted(missing))}; expected X and y")
                return validate(npz["X"], npz["y"], source=str(path), name=name)
        import pandas as pd  # pandas: only to read a .csv or .parquet file

        frame = pd.read_parquet(path) if suffix == ".parquet" else _read_csv(pd, path)
    except DatasetError:
        raise
    except Exception as exc:  # every parser's own error type: report it as ours
        raise DatasetError(f"{path}: cannot read {suffix[1:]} file: {_reason(exc)}") from None
    return _from_frame(frame, source=str(path), name=name)


def _read_csv(pd, path: Path):
    """Comma-separated as written by pandas; a file of one column that is really ``;``- or tab-separated is re-read."""
    frame = pd.read_csv(path)
    if len(frame.columns) == 1:
        header = str(frame.columns[0])
        for sep in (";", "\t", "|"):
            if TARGET in header.split(sep):
                return pd.read_csv(path, sep=sep)
    return frame


def _from_frame(frame, source: str, name: str) -> Dataset:
    missing = [c for c in (*FEATURES, TARGET) if c not in frame.columns]
    if missing:
        raise DatasetError(f"{source}: missing column(s) {', '.join(missing)}")
    return validate(frame[list(FEATURES)].to_numpy(), frame[TARGET].to_numpy(), source=source, name=name)


def validate(X: object, y: object, source: str, name: str = "data") -> Dataset:
    """Check arrays from any source; raise :class:`DatasetError` naming ``source`` and the problem."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != len(FEATURES):
        raise DatasetError(f"{source}: X has shape {X.shape}, expected (n_jets, {len(FEATURES)})")
    if y.ndim != 1 or len(y) != len(X):
        raise DatasetError(f"{source}: y has shape {y.shape}, expected ({len(X)},) to match X")
    if len(X) == 0:
        raise DatasetError(f"{source}: no rows")
    try:
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf, reported just below
            X = X.astype(np.float32)
    except (TypeError, ValueError):
        raise DatasetError(f"{source}: {_not_numeric(X)}") from None
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DatasetError(
            f"{source}: {int(bad.sum())} NaN, infinite or beyond-float32 feature value(s), "
            f"first in row {row}, column {FEATURES[col]}"
        )
    y = _labels(y, source)
    present = [c for c in CLASSES if c in set(np.unique(y))]
    if len(present) < len(CLASSES):
        absent = ", ".join(c for c in CLASSES if c not in present)
        raise DatasetError(
            f"{source}: only class(es) {', '.join(present)} present, no {absent}; "
            f"the exercises' 5-way classifier needs jets of all of {', '.join(CLASSES)}"
        )
    return Dataset(name, X, y)


def _not_numeric(X: np.ndarray) -> str:
    """Which column is not numeric, and a value from it."""
    for col, feature in enumerate(FEATURES):
        for row, value in enumerate(X[:, col]):
            try:
                float(value)
            except (TypeError, ValueError):
                return f"feature {feature} is not numeric (row {row}: {str(value)[:40]!r})"
    return f"features are not numeric (dtype {X.dtype})"


def _labels(y: np.ndarray, source: str) -> np.ndarray:
    if y.dtype.kind in "iu":
        if y.min() < 0 or y.max() >= len(CLASSES):
            raise DatasetError(f"{source}: integer labels must be 0-{len(CLASSES) - 1} (indices into {CLASSES})")
        return np.asarray(CLASSES)[y]
    if y.dtype.kind == "S":
        y = np.char.decode(y)
    labels = np.asarray([str(v) for v in y]) if y.dtype.kind == "O" else y.astype(str)
    unknown = sorted({str(u) for u in np.unique(labels)} - set(CLASSES))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise DatasetError(f"{source}: unknown class label(s) {shown}; expected {', '.join(CLASSES)}")
    return labels


def _save_npz(path: Path, dataset: Dataset) -> None:
    """Write atomically, so a killed process never leaves a half-written cache behind."""
    with atomic(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, X=dataset.X, y=dataset.y)


def _reason(exc: BaseException) -> str:
    return (str(getattr(exc, "reason", "") or exc) or type(exc).__name__).splitlines()[0]
