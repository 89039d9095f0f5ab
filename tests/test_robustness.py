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
