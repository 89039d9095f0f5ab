"""What a CI guard must survive: killed writers, diverging training."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import baseline

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys
sys.path.insert(0, {root!r})
from harness.baseline import Baseline, Reference, write
i = 0
while True:
    i += 1
    metrics = {{f"m{{k}}": Reference(tuple(float(i + k + s) for s in range(50))) for k in range(400)}}
    write({path!r}, Baseline("adam", "surrogate-quick", tuple(range(50)), metrics, {{}}))
"""


def test_killed_update_leaves_every_baseline_valid(tmp_path):
    """``kill -9`` at any moment of ``--update-baselines`` leaves the old or the new file, never half of one."""
    path = tmp_path / "surrogate-quick" / "adam.json"
    script = WRITER.format(root=str(ROOT), path=str(path))
    kills = 0
    for delay in (0.3, 0.45, 0.6, 0.75, 0.9, 1.05):
        writer = subprocess.Popen([sys.executable, "-c", script])
        time.sleep(delay)
        writer.kill()
        writer.wait()
        kills += 1
        if path.exists():
            loaded = baseline.load(path)  # raises BaselineError on a torn file
            assert len(loaded.metrics) == 400
    assert kills == 6 and path.exists()


@pytest.mark.training
def test_divergence_is_a_recorded_outcome_and_plots_still_render(tmp_path):
    from harness.experiment import PROFILES, Experiment, Settings, Variant
    from harness.session import Session

    blowup = Experiment("blowup", Variant(learning_rate=1e6))
    session = Session(Settings(profile=PROFILES["smoke"]), artifacts_dir=tmp_path, experiments={"blowup": blowup})
    run = session.run("blowup")
    assert run.diverged_epoch == 1
    metrics = session.metrics("blowup")
    assert metrics["fc1.max_abs"] == math.inf and math.isnan(metrics["loss"])
    folder = tmp_path / "surrogate-smoke" / "blowup"
    for name in ("history.png", "weights.png", "confusion.png", "roc.png", "metrics.json"):
        assert (folder / name).stat().st_size > 0
    assert '"diverged_epoch": 1' in (folder / "metrics.json").read_text()


@pytest.mark.training
def test_a_deviation_is_a_regression_only_when_a_second_seed_repeats_it(tmp_path):
    """Seed 0 falls outside a baseline built around seed 1: noise; a pinned step count both miss: regression."""
    from harness import report
    from harness.experiment import PROFILES, Settings
    from harness.session import Session

    session = Session(Settings(profile=PROFILES["smoke"]), artifacts_dir=tmp_path / "art", baselines_dir=tmp_path)
    seed1 = session.metrics("sgd", seed=1)
    path = session.baseline_path("sgd")

    baseline.write(path, baseline.from_runs("sgd", session.settings.label, {5: seed1, 6: seed1}))
    result = session.check_baseline("sgd")
    assert (result.problems, result.confirmation_seed) == ([], 1)
    assert result.noise and all(":" in line for line in result.noise)
    run_dir = session.output_dir
    [sgd] = report.collect(run_dir, {"sgd": session.experiments["sgd"]}, tmp_path, session.settings.label)
    assert sgd.regression == "noise" and sgd.confirmation_seed == 1

    pinned = {**seed1, "steps_per_epoch": 999.0}
    baseline.write(path, baseline.from_runs("sgd", session.settings.label, {5: pinned, 6: pinned}))
    result = session.check_baseline("sgd")
    why = "observed 3, but every baseline seed gave 999"  # 4,000 jets → 2,400 fitted → 3 batches of 1024
    assert result.problems == [f"steps_per_epoch: {why}; confirmation seed: {why}"]
    [sgd] = report.collect(run_dir, {"sgd": session.experiments["sgd"]}, tmp_path, session.settings.label)
    assert sgd.regression == "fail" and sgd.problems == result.problems


def test_workers_checking_one_artifacts_dir_at_once_do_not_trip_each_other(tmp_path):
    """Every pytest-xdist worker checks the artifacts folder as it starts: their probes must not collide."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.artifacts import ensure_writable

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: ensure_writable(tmp_path), range(400))) == {tmp_path}
    assert list(tmp_path.iterdir()) == []
