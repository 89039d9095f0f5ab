"""Many seeds: shards and their merge, and the two-sample rule that compares two sets of seeds."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from run_cli import harness

from experiments import registry
from harness.core.backend import active
from harness.core.errors import BaselineError
from harness.judge import baseline, equivalence, stats
from harness.outputs import artifacts

ROOT = Path(__file__).resolve().parent.parent


def sample(seeds, rng, shift: float = 0.0, diverged: int = 0, epochs: int = 8) -> baseline.Baseline:
    """A baseline of normal draws (σ = 1 on every metric), ``shift`` σ away, the first ``diverged`` seeds NaN."""
    per_seed, curves = {}, {}
    for i, seed in enumerate(seeds):
        values = {name: float(rng.normal(shift, 1.0)) for name in baseline.BASELINE_METRICS}
        values.update(steps_per_epoch=59.0, epochs=float(epochs))
        if i < diverged:
            values.update({n: math.nan for n in baseline.BASELINE_METRICS if n not in ("steps_per_epoch", "epochs")})
        per_seed[seed] = values
        curves[seed] = {"loss": list(rng.normal(shift, 1.0, epochs)), "val_loss": list(rng.normal(0, 1.0, epochs))}
    return baseline.from_runs("sgd", "surrogate-quick", per_seed, curves, trainer="keras-replicas")


# -- the two-sample rule -----------------------------------------------------------------------


def test_holm_steps_down_and_stops_at_the_first_acceptance():
    tests = [equivalence.Test("e", q, "k", (40, 40), p) for q, p in (("a", 0.01), ("b", 0.04), ("c", 0.03))]
    assert [t.rejected for t in equivalence.holm(tests, 0.05)] == [True, False, False]
    assert [t.rejected for t in equivalence.holm(tests, 0.1)] == [True, True, True]


def test_detectable_shift_is_the_normal_power_formula():
    assert stats.detectable_shift(40, 40, 0.05) == pytest.approx(0.741, abs=0.002)
    assert stats.detectable_shift(400, 400, 0.05) == pytest.approx(0.741 / math.sqrt(10), abs=0.001)


def test_the_same_distribution_passes_and_a_shift_is_found():
    rng = np.random.default_rng(1)
    same = equivalence.holm(equivalence.compare(sample(range(40), rng), sample(range(40, 80), rng), 2000))
    assert not any(t.rejected for t in same)
    shifted = equivalence.holm(equivalence.compare(sample(range(40), rng), sample(range(40), rng, 1.5), 2000))
    assert "accuracy" in {t.quantity for t in shifted if t.rejected}
    assert "loss curve" in {t.quantity for t in shifted if t.rejected}
    assert "val_loss curve" not in {t.quantity for t in shifted if t.rejected}  # that curve was not shifted


def test_a_different_divergence_share_and_a_moved_exact_metric_are_found():
    rng = np.random.default_rng(2)
    tests = equivalence.holm(equivalence.compare(sample(range(40), rng, diverged=20), sample(range(40), rng), 2000))
    assert any(t.rejected and t.quantity.startswith("diverged 20/40 vs 0/40") for t in tests)
    tests = equivalence.compare(sample(range(10), rng, epochs=8), sample(range(10), rng, epochs=9), 200)
    assert next(t for t in tests if t.quantity == "epochs").p == 0.0


# -- merging shards ----------------------------------------------------------------------------


def test_shards_merge_into_one_baseline_in_seed_order():
    rng = np.random.default_rng(3)
    a, b = sample([2, 3], rng), sample([0, 1, 4], rng)
    merged = baseline.merge([(Path("a"), a), (Path("b"), b)])
    assert merged.seeds == (0, 1, 2, 3, 4)
    assert merged.metrics["accuracy"].values == (
        *b.metrics["accuracy"].values[:2],
        *a.metrics["accuracy"].values,
        b.metrics["accuracy"].values[2],
    )
    assert merged.curves["loss"][2] == a.curves["loss"][0] and merged.trainer == "keras-replicas"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seeds": (1, 9)}, "both hold seed 1"),
        ({"label": "surrogate-full"}, "label 'surrogate-full' vs 'surrogate-quick'"),
        ({"experiment": "adam"}, "experiment 'adam' vs 'sgd'"),
        ({"trainer": baseline.MODEL_FIT}, "trainer 'model.fit' vs 'keras-replicas'"),
        ({"backend_version": "2.99"}, "trained in another environment (backend_version: 2.99 vs"),
        ({"isa": "no-such-isa"}, "trained in another environment (isa: no-such-isa vs"),
    ],
)
def test_mismatched_or_overlapping_shards_are_refused(change, message):
    rng = np.random.default_rng(4)
    a, b = sample([0, 1], rng), sample([5, 6], rng)
    if "seeds" in change:
        b = dataclasses.replace(b, seeds=change["seeds"])
    elif set(change) <= {"label", "experiment", "trainer"}:
        b = dataclasses.replace(b, **change)
    else:
        b = dataclasses.replace(b, environment={**b.environment, **change})
    with pytest.raises(BaselineError, match="cannot merge b into a: " + message.replace("(", r"\(")):
        baseline.merge([(Path("a"), a), (Path("b"), b)])


def test_a_different_commit_is_no_reason_to_refuse():
    rng = np.random.default_rng(5)
    a, b = sample([0], rng), sample([1], rng)
    b = dataclasses.replace(b, environment={**b.environment, "commit": "abc1234+dirty"})
    assert baseline.merge([(Path("a"), a), (Path("b"), b)]).seeds == (0, 1)


# -- the commands, as a user runs them -----------------------------------------------------------


@pytest.mark.training
def test_two_shards_trained_apart_merge_into_the_baseline_one_run_would_write(tmp_path):
    refused = harness("seeds", "train", "sgd", "--seeds", "0-3", "--profile", "smoke", "--out", "x", cwd=tmp_path)
    assert refused.returncode == 2 and "a baseline of 4 seeds flags a 4σ shift with 0% probability" in refused.stderr
    assert (
        "pass --shard to write part of a baseline" in refused.stderr and not (tmp_path / "x/surrogate-smoke").exists()
    )
    from harness.train.side_by_side import TRAINER

    label = baseline.own_label("surrogate-smoke", active())  # another backend's seeds go to its own folder
    for seeds, out, count in (("0-1", "a", 2), ("2,3", "b", 2), ("0-3", "whole", 4)):
        train = ("seeds", "train", "sgd", "--seeds", seeds, "--profile", "smoke", "--out", out, "--shard")
        done = harness(*train, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"{out}/{label}/sgd.json: {count} seeds" in done.stdout
    weak = harness("seeds", "merge", "a", "b", "--into", "base", cwd=tmp_path)
    assert weak.returncode == 2 and f"{label}/sgd.json: weak baseline: 4 learning seeds" in weak.stderr
    merged = harness("seeds", "merge", "a", "b", "--into", "base", "--weak-baseline", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    doc = json.loads((tmp_path / f"base/{label}/sgd.json").read_text())
    shards = [json.loads((tmp_path / f"{s}/{label}/sgd.json").read_text()) for s in "ab"]
    assert doc["seeds"] == [0, 1, 2, 3] and doc["trainer"] == TRAINER
    for metric, entry in doc["metrics"].items():
        assert entry["values"] == shards[0]["metrics"][metric]["values"] + shards[1]["metrics"][metric]["values"]
    assert (tmp_path / "base/surrogate-smoke/_data.json").exists()
    whole = json.loads((tmp_path / f"whole/{label}/sgd.json").read_text())
    assert {k: v for k, v in doc.items() if k != "environment"} == {
        k: v for k, v in whole.items() if k != "environment"
    }

    again = harness("seeds", "merge", "a", "a", "--into", "base", cwd=tmp_path)
    shard = f"a/{label}/sgd.json"
    assert again.returncode == 2 and again.stderr.strip().splitlines() == [
        f"error: cannot merge {shard} into {shard}: both hold seed 0 (2 seeds overlap)"
    ]
    same = harness("seeds", "compare", "a", "b", cwd=tmp_path)  # shard roots or their <dataset>-<profile> folders
    assert same.returncode in (0, 1) and "sgd" in same.stdout and "family-wise level 0.05" in same.stdout
    (tmp_path / "afile").write_text("")
    blocked = harness("seeds", "merge", "a", "b", "--into", "afile", "--weak-baseline", cwd=tmp_path)
    assert blocked.returncode == 2 and "baselines directory afile/surrogate-smoke cannot be created" in blocked.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["seeds", "train", "--seeds", "5-3", "--out", "x"], "'5-3' is an empty range"),
        (["seeds", "train", "--seeds", "1,1", "--out", "x"], "seeds must be distinct"),
        (["seeds", "train", "--seeds", "a-b", "--out", "x"], "is not a seed list such as 0-39"),
        (["seeds", "train", "adma", "--out", "x"], "error: unknown exercise(s) adma"),
        (["seeds", "merge", "nowhere", "--into", "x"], "error: nowhere: no shard here"),
        (["seeds", "compare", "nowhere", "elsewhere"], "error: nowhere and elsewhere hold no baseline of the same"),
    ],
)
def test_seed_command_mistakes_are_one_line(tmp_path, args, message):
    done = harness(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr
    assert len([line for line in done.stderr.splitlines() if "error" in line]) == 1


@pytest.mark.training
def test_a_seed_study_trains_the_references_side_by_side_and_counts_who_held(tmp_path):
    done = harness("seeds", "study", "l1", "lr_0.1", "--seeds", "0-2", "--profile", "smoke", cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr  # smoke: the behaviour need not hold
    lines = done.stdout.splitlines()
    how = f"side by side in model.fit on {active()}"
    assert lines[0] == f"== seed study: surrogate-smoke, seeds 0-2 (3), {how}"
    assert lines[1].split() == ["exercise", "expectation", "held", "measured", "over", "the", "seeds"]
    rows = [line.split("  ")[0] for line in lines[2:]]
    assert rows == ["l1", "l1"] + ["lr_0.1"] * len(registry()["lr_0.1"].expectations(active()))
    assert "fc1.std < 0.5 × sgd" in lines[2] and "/3" in lines[2] and "fc1.std / sgd's" in lines[2]
    for expectation, line in zip(registry()["lr_0.1"].expectations(active()), lines[4:], strict=True):
        assert str(expectation) in line and "/3" in line  # this backend's expectations (docs/backends.md)


@pytest.mark.training
def test_a_seed_study_draws_every_seeds_plots_when_asked(tmp_path):
    """Seed 5 of lr_0.1 overflows to NaN on the smoke profile here: its plots are drawn like any other's."""
    done = harness("seeds", "study", "lr_0.1", "--seeds=4-5", "--profile=smoke", "--plots=plots", cwd=tmp_path)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.splitlines()[-1] == "plots: plots/seed<N>/surrogate-smoke/ for seeds 4-5"
    for seed in (4, 5):
        folder = tmp_path / "plots" / f"seed{seed}" / "surrogate-smoke"
        for name in ("sgd", "lr_0.1"):
            assert {p.name for p in (folder / name).iterdir()} == {*artifacts.RUN_PLOTS, "metrics.json"}
        assert {p.name for p in (folder / "compare").iterdir()} == {"learning_rates.png", "sgd_vs_lr_0.1_fc1.png"}


def test_shards_with_different_curves_or_a_short_curve_are_refused(tmp_path):
    rng = np.random.default_rng(6)
    a, b = sample([0, 1], rng), sample([2, 3], rng)
    no_curves = dataclasses.replace(b, curves={"loss": b.curves["loss"]})
    with pytest.raises(BaselineError, match="they keep different loss curves"):
        baseline.merge([(Path("a"), a), (Path("b"), no_curves)])
    path = tmp_path / "short.json"
    doc = b.to_json()
    doc["curves"]["loss"] = doc["curves"]["loss"][:1]
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match="curve 'loss' has 1 runs for 2 seeds"):
        baseline.load(path)
    doc = b.to_json()
    doc["seeds"] = [2, 2]
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match="a seed is listed twice"):
        baseline.load(path)


def test_one_finite_value_a_side_is_too_few_to_test_not_a_difference():
    tests = equivalence.compare(
        sample([0, 1, 2], np.random.default_rng(7), diverged=2), sample([0, 1, 2], np.random.default_rng(8), diverged=2)
    )
    accuracy = next(t for t in tests if t.quantity == "accuracy")
    assert (accuracy.kind, accuracy.p) == ("fewer than 2 finite values a side", 1.0)


@pytest.mark.parametrize("what", ["trainer", "backend"])
def test_seeds_of_another_trainer_or_backend_are_refused_before_anything_trains(tmp_path, what):
    """Fresh draws are compared only with stored seeds of the same trainer and backend: exchangeable by construction."""
    import re

    from harness.experiment import Settings
    from harness.session import Session

    session = Session(Settings(), artifacts_dir=None, baselines_dir=tmp_path, tier="statistical")
    stored = sample(range(40), np.random.default_rng(9))
    other = "torch" if active() != "torch" else "jax"
    if what == "trainer":
        stored = dataclasses.replace(stored, trainer=baseline.SIDE_BY_SIDE)
        said = "its seeds were trained by 'side-by-side', not Keras's own model.fit (keras-replicas); re-record them"
    else:
        stored = dataclasses.replace(stored, environment={**stored.environment, "backend": other})
        said = f"its seeds were trained on {other}, and {active()}'s are not draws of the same distribution"
    path = session.own_baseline_path("sgd")
    path.parent.mkdir(parents=True)
    baseline.write(path, stored)
    with pytest.raises(BaselineError, match=re.escape(f"{path}: {said}")) as refused:
        session.check_baseline("sgd")
    assert "with: pytest --update-baselines -k sgd" in str(refused.value) and "\n" not in str(refused.value)
    said = session.baseline_verdict("sgd").header
    assert said.count("pytest --update-baselines -k sgd") == 1, "the command, said once"
    assert session.runs.completed() == []


@pytest.mark.training
def test_a_twin_that_parts_from_its_lone_run_fails_the_statistical_tier(tmp_path, monkeypatch):
    """The session seed trained side by side must be its own model.fit again; when not, the verdict says so."""
    from harness.experiment import PROFILES, Settings
    from harness.session import Session
    from harness.session import training as session_module

    session = Session(
        Settings(profile=PROFILES["smoke"]), artifacts_dir=None, baselines_dir=tmp_path, tier="statistical"
    )
    stored = sample(range(100, 140), np.random.default_rng(10))
    path = session.own_baseline_path("sgd")
    path.parent.mkdir(parents=True)
    baseline.write(path, stored)
    seen = []
    monkeypatch.setattr(
        session_module, "twin_differences", lambda twin, lone, regularized: seen.append(twin.seed) or ["x"]
    )
    result = session.check_baseline("sgd")
    assert seen == [0]
    assert "seed 0 side by side no longer trains as its own model.fit, from the same draws: x" in result.problems


def test_the_firmware_probes_record_does_not_make_the_baselines_root_a_set():
    """``baselines/firmware-probe.json`` is no baseline set: the root still holds several, and says so."""
    from harness.cli.seeds import _label_folder
    from harness.core.errors import HarnessError

    root = Path(__file__).resolve().parent.parent / "baselines"
    assert (root / "firmware-probe.json").exists()
    with pytest.raises(HarnessError, match="holds several baseline sets"):
        _label_folder(root)
