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
    """Baselines built around seed 1: seed 0's deviations are noise, unless seed 1 or no seed at all could move them."""
    from harness import report
    from harness.experiment import PROFILES, Settings
    from harness.session import Session

    session = Session(Settings(profile=PROFILES["smoke"]), artifacts_dir=tmp_path / "art", baselines_dir=tmp_path)
    seed1 = session.metrics("sgd", seed=1)
    path, label = session.baseline_path("sgd"), session.settings.label

    def store(**changed: float) -> None:
        """Two baseline seeds a hair apart around seed 1's run; steps and epochs exactly equal."""
        values = {**seed1, **changed}
        nudged = {k: v if k in ("steps_per_epoch", "epochs") else v * (1 + 1e-9) for k, v in values.items()}
        baseline.write(path, baseline.from_runs("sgd", label, {5: values, 6: nudged}))

    def verdict() -> report.ExerciseReport:
        return report.collect(session.output_dir, {"sgd": session.experiments["sgd"]}, tmp_path, label)[0]

    store()
    result = session.check_baseline("sgd")
    assert (result.problems, result.confirmation_seed) == ([], 1)
    assert "accuracy" in [line.split(":")[0] for line in result.noise]
    assert verdict().regression == "noise"

    store(accuracy=seed1["accuracy"] + 0.3)
    result = session.check_baseline("sgd")
    assert [line.split(":")[0] for line in result.problems] == ["accuracy"]
    assert "; confirmation seed: observed" in result.problems[0]
    assert verdict().regression == "fail" and verdict().problems == result.problems

    store(steps_per_epoch=999.0)
    result = session.check_baseline("sgd")
    # 4,000 jets → 2,400 fitted → 3 batches of 1024; no second seed is trained for a number no seed moves
    assert result.problems == ["steps_per_epoch: observed 3, but every baseline seed gave 999"]
    assert result.confirmation_seed is None
    assert verdict().regression == "fail" and verdict().problems == result.problems


def test_workers_checking_one_artifacts_dir_at_once_do_not_trip_each_other(tmp_path):
    """Every pytest-xdist worker checks the artifacts folder as it starts: their probes must not collide."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.artifacts import ensure_writable

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: ensure_writable(tmp_path), range(400))) == {tmp_path}
    assert list(tmp_path.iterdir()) == []
