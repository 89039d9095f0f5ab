"""The notebook's figures, drawn with matplotlib's Agg backend into files (never a window).

Every function takes plain arrays or a run and a path, and closes its figure: a session
that draws hundreds of plots holds none of them in memory.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from scipy.stats import rankdata
from sklearn.metrics import auc, confusion_matrix, roc_curve

from harness.measure.metrics import LAYERS

if TYPE_CHECKING:
    from harness.train.record import TrainingRun

DPI = 100
#: Multiples of each decade a log axis may label, sparsest first (:func:`_log_ticks`).
LOG_SUBS = ((1.0,), (1.0, 2.0, 5.0), tuple(range(1, 10)), tuple(x / 2 for x in range(2, 20)))
#: Where a background efficiency of exactly 0 (no background jet scored above the cut) is drawn on the log axis.
ROC_FLOOR = 1e-5


def _closing(draw):
    """Close the figures a plot function opened if it fails: a session that draws hundreds keeps none."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        before = set(plt.get_fignums())
        try:
            return draw(*args, **kwargs)
        except BaseException:
            for number in set(plt.get_fignums()) - before:
                plt.close(number)
            raise

    return wrapper


@_closing
def history(run: TrainingRun, path: Path) -> None:
    """Train/validation loss and accuracy per epoch (the notebook's ``plot_model_history``)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("loss", "-"), ("val_loss", "--")):
        _curve(ax_loss, run.history.get(key, []), key, style)
    for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
        _curve(ax_acc, run.history.get(key, []), key, style)
    ax_loss.set(xlabel="epoch", ylabel="loss", title=f"{run.experiment}: loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title=f"{run.experiment}: accuracy")
    _mark_divergence(run, (ax_loss, ax_acc))
    _save(fig, path)


@_closing
def weights(run: TrainingRun, path: Path) -> None:
    """Histogram of each layer's kernel (the notebook's ``distribution_weights``), two by two: readable at its size."""
    fig, axes = plt.subplots(2, math.ceil(len(LAYERS) / 2), figsize=(9, 7), squeeze=False)
    axes = axes.ravel()
    for ax, layer in zip(axes, LAYERS, strict=True):
        finite = _finite(run.kernels[layer])
        if finite.size:
            ax.hist(finite, bins=50, color="C0", histtype="stepfilled")  # one patch per layer, not 50 bars to draw
        else:
            ax.text(0.5, 0.5, "no finite weights", ha="center", transform=ax.transAxes)
        ax.set(title=f"{layer} (std {np.std(finite) if finite.size else np.nan:.3g})", xlabel="weight")
    for ax in axes[:: axes.size // 2]:
        ax.set_ylabel("count")
    fig.suptitle(f"{run.experiment}: weight distributions")
    _save(fig, path)


@_closing
def confusion(run: TrainingRun, path: Path) -> None:
    """Row-normalized confusion matrix: each true class sums to one."""
    classes = list(run.classes)
    y_true = np.argmax(run.y_test, axis=1)
    y_pred = np.argmax(np.nan_to_num(run.y_pred, nan=-np.inf), axis=1)
    matrix = confusion_matrix(y_true, y_pred, labels=range(len(classes)), normalize="true")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value > 0.5 else "black")
    ticks = range(len(classes))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=classes, yticklabels=classes)
    ax.set(xlabel="predicted", ylabel="true", title=f"{run.experiment}: normalized confusion")
    _save(fig, path)


@_closing
def roc(run: TrainingRun, path: Path) -> None:
    """Per class: background efficiency against signal efficiency, AUC in the legend."""
    fig, ax = plt.subplots(figsize=(5, 5))
    scores = run.y_pred
    if not np.all(np.isfinite(scores)):
        ax.text(0.5, 0.5, "no ROC: the network output is not finite", ha="center", transform=ax.transAxes)
    else:
        for k, name in enumerate(run.classes):
            truth = run.y_test[:, k]
            if truth.min() == truth.max():  # no jet, or only jets, of this class: no ROC to draw
                continue
            # A ROC depends on the scores' order alone: ranks keep it exact and cannot overflow.
            fpr, tpr, _ = roc_curve(truth, rankdata(scores[:, k]))
            ax.plot(tpr, np.clip(fpr, ROC_FLOOR, None), label=f"{name}, AUC = {auc(fpr, tpr) * 100:.1f}%")
        ax.set_yscale("log")
        _log_ticks(ax)
        if ax.lines:
            ax.legend(loc="lower right")
    ylabel = f"background efficiency (0 drawn at {ROC_FLOOR:g})"
    ax.set(xlabel="signal efficiency", ylabel=ylabel, title=f"{run.experiment}: ROC")
    ax.grid(True, alpha=0.3)
    _save(fig, path)


@_closing
def comparison(runs: Sequence[TrainingRun], path: Path, title: str) -> None:
    """Validation and training loss of several exercises on one figure: the exercises' questions."""
    fig, (ax_val, ax_train) = plt.subplots(1, 2, figsize=(11, 4))
    for i, run in enumerate(runs):
        _curve(ax_val, run.history.get("val_loss", []), run.experiment, "-", color=f"C{i}")
        _curve(ax_train, run.history.get("loss", []), run.experiment, "-", color=f"C{i}")
    ax_val.set(xlabel="epoch", ylabel="validation loss", title=f"{title}: validation loss")
    ax_train.set(xlabel="epoch", ylabel="training loss", title=f"{title}: training loss")
    for ax, key in ((ax_val, "val_loss"), (ax_train, "loss")):
        _log_if_positive(ax, [v for run in runs for v in run.history.get(key, [])])
    _save(fig, path)


@_closing
def weight_overlay(runs: Mapping[str, TrainingRun], layer: str, path: Path) -> None:
    """One layer's weight histogram for several exercises, overlaid (e.g. fc1 with and without L1)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    finite = {name: _finite(run.kernels[layer]) for name, run in runs.items()}
    drawn = {name: w for name, w in finite.items() if w.size}
    edges = shared_bins(list(drawn.values()), 80)
    for name, w in drawn.items():
        ax.hist(w, bins=edges, histtype="step", linewidth=1.5, label=name)
    ax.set(xlabel=f"{layer} weight", ylabel="count", title=f"{layer} weights")
    if drawn:
        ax.set_yscale("log")  # a histogram of finite weights has at least one positive count
        _log_ticks(ax)
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no finite weights", ha="center", transform=ax.transAxes)
    _save(fig, path)


def shared_bins(samples: Sequence[np.ndarray], bins: int) -> np.ndarray:
    """One set of bin edges over every sample: overlaid histograms are comparable only with the same bins.

    Interpolated as ``lo·(1 − t) + hi·t``, so that edges between float64's extremes do not overflow.
    """
    values = [w for w in samples if w.size]
    if not values:
        return np.linspace(-0.5, 0.5, bins + 1)
    lo, hi = min(float(w.min()) for w in values), max(float(w.max()) for w in values)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    t = np.linspace(0.0, 1.0, bins + 1)
    return lo * (1 - t) + hi * t


def _log_ticks(ax) -> None:
    """Labelled ticks over the whole of a log y axis, where its range allows: the sparsest of :data:`LOG_SUBS` that
    gives at least four, none of the axis' ends more than a third of its (log) height from a label (decades alone
    over a wide range; 1-2-5, every digit, or half digits over a narrow one)."""
    low, high = ax.get_ylim()
    locator = LogLocator(base=10, subs=LOG_SUBS[0])
    if 0 < low < high < math.inf:
        for subs in LOG_SUBS:
            locator = LogLocator(base=10, subs=subs)
            if _covers(locator.tick_values(low, high), low, high):
                break
    ax.yaxis.set_major_locator(locator)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _covers(ticks: np.ndarray, low: float, high: float) -> bool:
    inside = np.log10(ticks[(ticks >= low) & (ticks <= high)])
    if inside.size < 4:
        return False
    span = math.log10(high) - math.log10(low)
    return inside.min() - math.log10(low) <= span / 3 and math.log10(high) - inside.max() <= span / 3


def _finite(w: np.ndarray) -> np.ndarray:
    """The finite entries as float64: float32 weights near 3e38 are finite, their squares and ranges are not."""
    w = np.asarray(w, dtype=np.float64).ravel()
    return w[np.isfinite(w)]


def _log_if_positive(ax, values: Sequence[float]) -> None:
    """A log axis where there is something to put on one; a linear one for empty, zero or non-finite curves."""
    if any(math.isfinite(v) and v > 0 for v in values):
        ax.set_yscale("log", nonpositive="mask")
        _log_ticks(ax)


def _curve(ax, values: Sequence[float], label: str, style: str, color: str | None = None) -> None:
    epochs = np.arange(1, len(values) + 1)
    ax.plot(epochs, values, style, label=label, color=color)
    ax.legend()


def _mark_divergence(run: TrainingRun, axes) -> None:
    if run.diverged_epoch:
        for ax in axes:
            ax.axvline(run.diverged_epoch, color="red", linestyle=":", label=f"diverged (epoch {run.diverged_epoch})")
            ax.legend()


def _save(fig, path: Path) -> None:
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)


@_closing
def band(
    curves: Mapping[str, tuple[Sequence[float], tuple]], out, title: str, labels: Mapping[str, str] | None = None
) -> None:
    """Each observed loss curve over its baseline's per-epoch median and quantile band; ``labels`` name the axes."""
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 3.8), squeeze=False)
    for ax, (name, (observed, (median, low, high))) in zip(axes[0], curves.items(), strict=True):
        epochs = np.arange(1, len(median) + 1)
        ax.fill_between(epochs, low, high, color="C0", alpha=0.25, label="baseline seeds, 5th-95th percentile")
        ax.plot(epochs, median, "--", color="C0", label="baseline seeds, median")
        ax.plot(np.arange(1, len(observed) + 1), observed, color="C3", label="this run")
        label = (labels or {}).get(name, name)
        ax.set(xlabel="epoch", ylabel=label, title=label)
        ax.legend()
    fig.suptitle(title)
    _save(fig, out)


@_closing
def precision_scan(results: Sequence[Mapping[str, object]], path: Path, title: str) -> None:
    """Fixed-point accuracy and agreement with float against total bits, one line per integer-bit count.

    The figure an hls4ml user draws by hand before choosing a type: where the firmware starts to
    lose what the float model does. ``results`` are :class:`harness.firmware.convert.FirmwareRun` dicts.
    """
    done = [r for r in results if not r.get("skipped")]
    fig, (acc_ax, agree_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for integer in sorted({_bits(r)[1] for r in done}):
        own = sorted((r for r in done if _bits(r)[1] == integer), key=lambda r: _bits(r)[0])
        totals = [_bits(r)[0] for r in own]
        acc_ax.plot(totals, [r["accuracy"] for r in own], "o-", label=f"{integer} integer bits")
        agree_ax.plot(totals, [r["agreement"] for r in own], "o-", label=f"{integer} integer bits")
    if done:
        acc_ax.axhline(float(done[0]["float_accuracy"]), color="k", ls="--", lw=1, label="float")
    acc_ax.set(xlabel="total bits (ap_fixed<W,I>)", ylabel="test accuracy", title=f"{title}: accuracy")
    agree_ax.set(xlabel="total bits (ap_fixed<W,I>)", ylabel="argmax agreement with float", title="agreement")
    for ax in (acc_ax, agree_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bits(result: Mapping[str, object]) -> tuple[int, int]:
    total, integer = str(result["precision"]).removeprefix("ap_fixed<").rstrip(">").split(",")
    return int(total), int(integer)


#: hls4ml's profiling figures we keep: the firmware's own (after hls4ml's optimizers), types drawn behind.
PROFILE_PNGS = {1: "firmware_weights.png", 3: "firmware_activations.png"}


@_closing
def firmware_profile(model, hls_model, X: np.ndarray, folder: Path) -> list[Path]:
    """hls4ml's profiling figures: weights and activations against the types the firmware gives them.

    ``model`` must be functional (:func:`harness.firmware.convert.functional`) and ``hls_model``
    traced (:func:`harness.firmware.convert.traced`); hls4ml's ``numerical`` needs both.
    """
    from hls4ml.model import profiling  # optional: hls4ml[profiling] (seaborn), only where it is drawn

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # it prints every table it draws
        # hls4ml 1.3.0 draws its boxplots with matplotlib's deprecated ``vert=``: theirs to move, not a failure of ours
        warnings.filterwarnings("ignore", message="vert: bool was deprecated", category=DeprecationWarning)
        figures = profiling.numerical(model=model, hls_model=hls_model, X=X)
    written = []
    for index, name in PROFILE_PNGS.items():
        if figures[index] is not None:
            figures[index].savefig(folder / name, dpi=DPI, bbox_inches="tight")
            written.append(folder / name)
    for figure in figures:
        if figure is not None:
            plt.close(figure)
    return written
