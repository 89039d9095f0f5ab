"""``python -m harness bench runs``: runs on several backends, one table, read from their files alone."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from run_cli import harness
from test_report import SETTINGS, fake_run

from harness.judge import guard
from harness.outputs import artifacts, folders


def a_run(root: Path, backend: str, version: str, epoch_ends: list[float]) -> Path:
    """An sgd and an adam run as a session leaves them; sgd judged by the statistical tier."""
    folder = root / f"r-{backend}"
    for name, quality in (("sgd", 0.3), ("adam", 2.0)):
        run = dataclasses.replace(fake_run(name, quality), epoch_ends=epoch_ends)
        run.history["val_accuracy"] = [0.3, 0.5, 0.7] + [0.7] * 7
        artifacts.save_run(run, folder, SETTINGS, with_plots=False)
    test = guard.Comparison("accuracy (learning seeds)", 10, 40, 0.5, 1.6e-5, "median 0.5", "median 0.5")
    artifacts.save_verdict(folder, SETTINGS, "sgd", guard.StatisticalVerdict(tuple(range(40, 50)), (test,)).to_json())
    session = {"label": SETTINGS.label, "profile": "smoke", "backend": backend, "device": "cpu"}
    session |= {"environment": {"backend": backend, "backend_version": version}, "baselines_dir": str(root / "none")}
    (folder / SETTINGS.label / "session.json").write_text(json.dumps(session))
    return folder


def test_runs_on_two_backends_are_one_table_per_question(tmp_path):
    ends = [2.0 + 0.5 * i for i in range(10)]
    tf, jax = a_run(tmp_path, "tensorflow", "2.21.0", ends), a_run(tmp_path, "jax", "0.10.2", [])
    done = harness("bench", "runs", str(tf), str(jax / SETTINGS.label), "--markdown", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.count("| exercise | tensorflow 2.21.0, cpu | jax 0.10.2, cpu |") == 3
    sgd = next(line for line in lines if line.startswith("| sgd |"))
    assert sgd.count("not asserted · pass (statistical)") == 2, "the smoke profile asserts no behaviour"
    assert "| adam (0.65) | 3.0 s (3) | not timed |" in lines  # val. accuracy 0.7 first in epoch 3, at 3.0 s
    assert "| adam | 2.00 / 0.500 s | not timed |" in lines
    adam = next(line for line in lines if line.startswith("| adam |"))
    assert adam.count("missing") == 2, "no baseline file: said, not made up"


def test_a_folder_without_a_run_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    done = harness("bench", "runs", "empty", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: empty: no run here (no session.json, nor one folder below holding it)"
    ]


def test_damaged_run_files_are_one_line_or_shown_as_missing(tmp_path):
    """A file for a folder, a session record that is not an object: one line. A damaged field: shown as missing."""
    (tmp_path / "afile").write_text("")
    assert harness("bench", "runs", "afile", cwd=tmp_path).stderr.strip() == (
        "error: afile: not a folder (name a run's folder, e.g. artifacts/latest)"
    )
    run = a_run(tmp_path, "tensorflow", "2.21.0", [1.0 + i for i in range(10)]) / SETTINGS.label
    good = (run / "session.json").read_text()
    (run / "session.json").write_text("[1]")
    done = harness("bench", "runs", str(run), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().endswith("session.json: not a session record (a JSON object)")
    (run / "session.json").write_text(good.replace('"environment": {', '"environment": "x", "e": {'))
    metrics = json.loads((run / "sgd" / "metrics.json").read_text())
    metrics["timing"] = "x"
    (run / "sgd" / "metrics.json").write_text(json.dumps(metrics))
    done = harness("bench", "runs", str(run), str(run), cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert any(line.startswith("sgd ") and line.count("not timed") == 2 for line in done.stdout.splitlines())
    assert "(r-tensorflow)" in done.stdout, "two runs with one title are told apart by their run id"


def test_runs_are_named_by_the_ids_report_list_prints(tmp_path):
    ends = [2.0 + 0.5 * i for i in range(10)]
    runs = tmp_path / "artifacts" / folders.RUNS
    a_run(runs, "tensorflow", "2.21.0", ends), a_run(runs, "jax", "0.10.2", [])
    listed = harness("report", "--list", cwd=tmp_path)
    ids = [line.split()[0] for line in listed.stdout.splitlines()]
    assert ids == ["r-jax", "r-tensorflow"], listed.stderr
    done = harness("bench", "runs", *ids, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "jax 0.10.2, cpu" in done.stdout and "tensorflow 2.21.0, cpu" in done.stdout
    wrong = harness("bench", "runs", "r-nope", cwd=tmp_path)
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        "error: no run folder or run id 'r-nope' in artifacts (report --list shows the run ids)"
    )
