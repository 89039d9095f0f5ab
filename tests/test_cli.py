"""``python -m harness``: the main job end to end on the smoke profile, and its one-line errors."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest
from run_cli import harness, harness_process

from harness.core.backend import active
from harness.core.progress import Progress
from harness.experiment import Settings
from harness.judge.baseline import own_label
from harness.outputs.text import summary, to_json

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.training
def test_run_writes_artifacts_summary_and_json(tmp_path):
    out = harness("run", "sgd", "lr_0.1", "--profile", "smoke", "--json", "r.json", cwd=tmp_path)
    assert out.returncode == 1, out.stderr  # the repository has no smoke-profile baselines
    assert "sgd       0." in out.stdout and "not asserted  missing" in out.stdout
    assert "2 of 2 exercises FAILED" in out.stdout
    assert "== sgd\nAccuracy: " in out.stdout and "\nfc1 " in out.stdout and "\nfc4 " in out.stdout
    folder = tmp_path / "artifacts" / "latest"
    for name in ("sgd", "lr_0.1"):
        assert {p.name for p in (folder / name).iterdir()} == {
            "history.png",
            "weights.png",
            "confusion.png",
            "roc.png",
            "metrics.json",
        }
    assert (folder / "compare" / "learning_rates.png").exists()
    doc = json.loads((tmp_path / "r.json").read_text())
    assert (doc["dataset"], doc["profile"], doc["seed"]) == ("surrogate", "smoke", 0)
    sgd = doc["experiments"]["sgd"]
    assert set(sgd["layers"]) == {"fc1", "fc2", "fc3", "fc4"}
    assert set(sgd["layers"]["fc1"]) == {"min", "max", "mean", "std"}
    assert len(sgd["history"]["val_loss"]) == 3 and 0 <= sgd["accuracy"] <= 1
    assert doc["passed"] is False and sgd["verdict"]["baseline"] == "missing"
    assert "pytest --update-baselines -k sgd --profile=smoke" in sgd["verdict"]["problems"][0]


@pytest.mark.training
def test_a_run_owns_its_artifacts_and_report(tmp_path):
    """A seed-7 run after a seed-0 run: its folder, its report and ``latest`` hold seed 7's numbers only."""
    assert harness("run", "lr_0.1", "--profile", "smoke", cwd=tmp_path).returncode == 1  # no smoke baselines
    assert harness("run", "l1", "--profile", "smoke", "--seed", "7", cwd=tmp_path).returncode == 1
    latest = tmp_path / "artifacts" / "latest"
    assert sorted(p.name for p in latest.iterdir() if p.is_dir()) == ["compare", "l1", "sgd"]
    for name in ("l1", "sgd"):
        assert json.loads((latest / name / "metrics.json").read_text())["seed"] == 7
    assert "lr_0.1" not in (latest / "report.md").read_text() and "seed `7`" in (latest / "report.md").read_text()
    listing = harness("report", "--list", cwd=tmp_path).stdout.splitlines()
    assert len(listing) == 2 and "seed 0" in listing[0] and listing[1].endswith("seed 7  (latest)")
    first = listing[0].split()[0]
    redrawn = harness("report", "--run", first, cwd=tmp_path)
    assert redrawn.returncode == 0 and f"runs/{first}/surrogate-smoke/report.html" in redrawn.stdout


@pytest.mark.training
def test_run_judges_against_baselines_and_exits_1_on_a_regression(tmp_path):
    """``run adam`` trains its reference too, judges every check, and its exit status is the verdict."""
    train = ("seeds", "train", "adam", "--seeds", "100-129", "--profile", "smoke", "--out", "b")
    trained = harness(*train, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    run = ("run", "adam", "--profile", "smoke", "--baselines-dir", "b", "--no-plots", "--json", "r.json")
    passed = harness(*run, cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "all 1 exercises passed" in passed.stdout and json.loads((tmp_path / "r.json").read_text())["passed"]
    assert "training data (_data.json): pass" in passed.stdout
    assert "adam      0." in passed.stdout and "pass (statistical)" in passed.stdout
    assert "note: exact tier did not apply: the baseline holds no exact record" in passed.stdout
    assert (tmp_path / "artifacts/latest/sgd/metrics.json").exists(), "the reference was trained"

    path = tmp_path / "b" / own_label("surrogate-smoke", active()) / "adam.json"
    doc = json.loads(path.read_text())
    doc["metrics"]["accuracy"]["values"] = [0.99 + 1e-4 * i for i in range(30)]
    path.write_text(json.dumps(doc))
    data = tmp_path / "b/surrogate-smoke/_data.json"
    moments = json.loads(data.read_text())
    moments["metrics"]["mean(j_mass_mmdt)"]["values"][0] *= 2  # as if the jets' masses had changed
    data.write_text(json.dumps(moments))
    failed = harness(*run, cwd=tmp_path)
    assert failed.returncode == 1
    assert "training data (_data.json): fail" in failed.stdout and "mean(j_mass_mmdt)" in failed.stdout
    # "(learning seeds)", or "(learning and saturated seeds)" where a seed saturated (JAX, smoke: 1 in 30)
    assert "adam baseline:" in failed.stdout and re.search(r"accuracy \([a-z ]+ seeds\): fresh median", failed.stdout)
    assert "1 of 1 exercises FAILED" in failed.stdout
    verdict = json.loads((tmp_path / "r.json").read_text())["experiments"]["adam"]["verdict"]
    assert verdict["baseline"] == "fail" and verdict["tier"] == "statistical"


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "adma"], "error: unknown exercise(s) adma: choose from sgd, scaled, l1, lr_1e-05, lr_0.1, adam"),
        (["run", "--dataset", "missing.csv"], "error: missing.csv: no such dataset file"),
        (["run", "--dataset", "openml", "--profile", "smoke"], "error: cannot download OpenML dataset"),
        (["run", "--artifacts-dir", "/proc/forbidden"], "error: artifacts directory /proc/forbidden is not writable"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(tmp_path, args, message):
    """In a new process, as a terminal shows them: one line on stderr, no traceback."""
    out = harness_process(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_summary_prints_the_notebooks_layer_lines_under_a_header():
    metrics = {"accuracy": 0.75}
    for i, layer in enumerate(("fc1", "fc2", "fc3", "fc4")):
        metrics.update({f"{layer}.min": -i, f"{layer}.max": i, f"{layer}.mean": 0.0, f"{layer}.std": 0.5})
    text = summary("adam", metrics, diverged_epoch=7)
    assert text.splitlines() == [
        "== adam",
        "Accuracy: 0.75",
        "Diverged: loss not finite at epoch 7",
        "kernel  min  max  mean  std",
        "fc1     0    0    0     0.5",
        "fc2     -1   1    0     0.5",
        "fc3     -2   2    0     0.5",
        "fc4     -3   3    0     0.5",
    ]


def test_json_writes_non_finite_numbers_as_strings():
    metrics = {"accuracy": math.nan, **{f"fc{i}.{s}": 1.0 for i in range(1, 5) for s in ("min", "max", "mean", "std")}}
    doc = to_json(
        Settings(), {"lr_0.1": {"metrics": metrics, "history": {"loss": [1.0, math.inf]}, "diverged_epoch": 2}}
    )
    text = json.dumps(doc, allow_nan=False)
    assert '"accuracy": "nan"' in text and '"inf"' in text


class FakeStream:
    def __init__(self, tty: bool) -> None:
        self.text, self.tty = "", tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_is_one_updating_line_on_a_terminal_and_sparse_in_ci():
    logs = {"loss": 1.0, "val_loss": 1.1}
    streams = {"tty": FakeStream(True), "quick-ci": FakeStream(False), "every-epoch-ci": FakeStream(False)}
    for key, stream in streams.items():
        progress = Progress(stream, interval=0.0 if key == "every-epoch-ci" else 3600.0)
        for epoch in range(1, 51):
            progress.epoch("adam", epoch, 50, logs)
        progress.done()
    assert "\n" not in streams["tty"].text and streams["tty"].text.count("\r") == 51
    assert streams["quick-ci"].text == "", "a run shorter than the interval prints nothing"
    lines = streams["every-epoch-ci"].text.splitlines()
    assert len(lines) == 50 and lines[-1].startswith("[adam] epoch 50/50 loss 1.0000 val_loss 1.1000 (")


def test_a_missing_data_baseline_is_not_called_a_difference():
    """``run --profile smoke`` has no smoke baselines: say they are missing, not that the data changed."""
    from harness.outputs.text import verdict_table

    missing = {"verdict": "missing", "problems": ["_data.json: no baseline"], "failed": True}
    assert verdict_table(Settings(), {}, missing).endswith("; the training data has no baseline to compare with")
    changed = {"verdict": "fail", "problems": ["mean(j_mass): moved"], "failed": True}
    assert verdict_table(Settings(), {}, changed).endswith("; the training data differs from the baselines'")


def test_progress_under_pytest_is_log_records_not_lines_between_the_dots(caplog):
    """Under pytest, progress goes through its logging: live with ``log_cli``, never into the dot line."""
    import logging

    from harness.plugin import ProgressLog

    with caplog.at_level(logging.INFO, logger="jet_harness.progress"):
        Progress(ProgressLog(), interval=0.0).epoch("adam", 1, 1, {"loss": 1.0, "val_loss": 1.1})
    assert [r.getMessage()[:46] for r in caplog.records] == ["[adam] epoch 1/1 loss 1.0000 val_loss 1.1000 ("]


def test_baselines_lists_each_machine_once_and_prunes_one_from_every_file(tmp_path):
    """Two machines' records in two exercises' files: one line each; pruning one leaves the other."""
    from harness.core.environment import EXACT_KEYS
    from harness.judge import baseline, exact

    env = {key: "x" for key in EXACT_KEYS} | {"backend": "jax", "cpu_model": "GenuineIntel 6 207"}
    here = exact.Record(env, {0: ("d" * 64, {})}, "abc", "p" * 64)
    there = exact.Record({**env, "cpu_model": "AuthenticAMD 25 17"}, {0: ("e" * 64, {})}, "abc", "q" * 64)
    (tmp_path / "surrogate-quick").mkdir()
    for name in ("sgd", "adam"):
        per_seed = {0: {"accuracy": 0.5}, 1: {"accuracy": 0.6}}
        stored = baseline.from_runs(name, "surrogate-quick", per_seed, names=("accuracy",))
        baseline.write(tmp_path / "surrogate-quick" / f"{name}.json", dataclasses.replace(stored, exact=(here, there)))
    listed = harness("baselines", "list", f"--baselines-dir={tmp_path}", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == [here.id, there.id]
    assert "AuthenticAMD 25 17" in rows[1] and "2 in surrogate-quick" in rows[1]
    pruned = harness("baselines", "prune", there.id, f"--baselines-dir={tmp_path}", cwd=tmp_path)
    assert pruned.returncode == 0 and pruned.stdout.count(f"removed exact record {there.id}") == 2, pruned.stderr
    for name in ("sgd", "adam"):
        assert [r.id for r in baseline.load(tmp_path / "surrogate-quick" / f"{name}.json").exact] == [here.id]
    again = harness("baselines", "prune", there.id, f"--baselines-dir={tmp_path}", cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.strip() == (
        f"error: no exact record {there.id!r} in {tmp_path} (records: {here.id})"
    )


def test_baselines_lists_and_prunes_the_firmware_records_of_one_toolchain(tmp_path):
    """The firmware stage's exact records (per exercise and the probe's) are listed per toolchain, once, and
    pruned from every firmware file; the stored seeds' firmware, a distribution, stays."""
    from harness.judge import firmware

    here = {"hls4ml": "1.3.0", "compiler": "g++ (Debian 12.2.0-14+deb12u1) 12.2.0"}
    there = {**here, "compiler": "g++ (GCC) 14.1.0"}

    def record(seed: int, environment: dict[str, str]) -> firmware.Record:
        return firmware.Record("r" * 64, seed, "ap_fixed<16,6>", "d" * 16, 0.7, 0.99, environment)

    stored = firmware.Seeds("ap_fixed<16,6>", "keras-replicas", "tensorflow", here, {0: "diverged"}, "t" * 16)
    for name in ("sgd", "adam"):
        path = firmware.path_for(tmp_path, "surrogate-quick", name)
        firmware.write(path, name, [record(0, here), record(0, there)], stored)
    firmware.write(firmware.probe_path(tmp_path), "probe", [record(20512, there)])
    listed = harness("baselines", "list", f"--baselines-dir={tmp_path}", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {row.split()[0]: row for row in listed.stdout.splitlines()[1:]}
    assert len(rows) == 2, listed.stdout
    gone = next(i for i, row in rows.items() if "g++ 14.1.0" in row)
    assert (
        "firmware: hls4ml 1.3.0, g++ 14.1.0" in rows[gone]
        and "3 in firmware-probe.json, surrogate-quick/firmware" in rows[gone]
    )
    pruned = harness("baselines", "prune", gone, f"--baselines-dir={tmp_path}", cwd=tmp_path)
    assert pruned.returncode == 0 and pruned.stdout.count(f"removed exact record {gone}") == 3, pruned.stderr
    for name in ("sgd", "adam"):
        path = firmware.path_for(tmp_path, "surrogate-quick", name)
        assert [r.environment for r in firmware.load(path)] == [here]
        assert firmware.load_seeds(path) == stored
    assert firmware.load(firmware.probe_path(tmp_path)) == ()


def test_baselines_list_reads_the_repositorys_own_folder_without_complaint():
    """``baselines/benchmarks/`` holds pytest-benchmark results beside the exercises' folders: not baselines."""
    listed = harness("baselines", "list", cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    assert "skipped" not in listed.stdout + listed.stderr and "benchmarks" not in listed.stdout + listed.stderr
    assert len(listed.stdout.splitlines()) > 1
