"""Stage 2, the prepared split: labels one-hot encoded, the tutorial's train/test split, optional scaling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, StandardScaler

from harness.data.dataset import FEATURES, Dataset

TEST_SIZE = 0.2
SPLIT_SEED = 42


@dataclass(frozen=True, eq=False)
class Split:
    """Train and test arrays ready for ``model.fit``; ``y_*`` are one-hot float32."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]


def prepare(dataset: Dataset, scaled: bool = False) -> Split:
    """Split as the notebook does (``test_size=0.2, random_state=42``); scaling is fit on train only."""
    encoder = LabelEncoder().fit(dataset.y)
    onehot = np.eye(len(encoder.classes_), dtype=np.float32)[encoder.transform(dataset.y)]
    X_train, X_test, y_train, y_test = train_test_split(dataset.X, onehot, test_size=TEST_SIZE, random_state=SPLIT_SEED)
    if scaled:
        scaler = StandardScaler().fit(X_train)
        X_train = scaler.transform(X_train).astype(np.float32)
        X_test = scaler.transform(X_test).astype(np.float32)
    return Split(X_train, X_test, y_train, y_test, tuple(str(c) for c in encoder.classes_))


def moments(split: Split) -> dict[str, float]:
    """The training data in numbers: each feature's mean and std, each class's share.

    No seed changes them, so a stored copy pins the data exactly: a changed dataset, cut or
    split shows here even when it moves no trained metric beyond the seed spread.
    """
    X = np.asarray(split.X_train, dtype=np.float64)
    values = {f"mean({name})": float(m) for name, m in zip(FEATURES, X.mean(axis=0), strict=True)}
    values.update({f"std({name})": float(s) for name, s in zip(FEATURES, X.std(axis=0), strict=True)})
    shares = np.asarray(split.y_train, dtype=np.float64).mean(axis=0)
    values.update({f"share({c})": float(p) for c, p in zip(split.classes, shares, strict=True)})
    return values
