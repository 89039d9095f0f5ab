"""The report, as a user sees it: built from files, rendered in a real browser, shipped by an example CI job."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from experiments import registry
from harness.experiment import PROFILES, Settings
from harness.judge import baseline, guard
from harness.measure.metrics import LAYERS, compute
from harness.outputs import artifacts, plots, report

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Settings(profile=PROFILES["smoke"])


@dataclass
class FakeRun:
    """What a training run hands the later stages, made without training."""

    experiment: str
    seed: int = 0
    history: dict = field(default_factory=dict)
    kernels: dict = field(default_factory=dict)
    initial_kernels: dict = field(default_factory=dict)
    y_test: np.ndarray = None
    y_pred: np.ndarray = None
    classes: tuple = ("g", "q", "t", "w", "z")
    diverged_epoch: int | None = None
    train_seconds: float = 1.0
    steps_per_epoch: int | None = 10
    epoch_ends: list = field(default_factory=list)


def fake_run(name: str, quality: float, seed: int = 0) -> FakeRun:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 5, 500)
    scores = rng.random((500, 5)) + quality * np.eye(5)[truth]
    shapes = {"fc1": (16, 64), "fc2": (64, 32), "fc3": (32, 32), "fc4": (32, 5)}
    epochs = np.arange(10)
    loss = 0.7 + 0.8 * np.exp(-epochs / 3) * (1 + 0.01 * seed)
    jitter = 0.05 * (-1.0) ** epochs if name == "sgd" else 0.0  # SGD's jagged validation loss
    history = {"loss": list(loss), "val_loss": list(loss + 0.05 + jitter), "accuracy": [0.5] * 10}
    return FakeRun(
        experiment=name,
        seed=seed,
        history={**history, "val_accuracy": [0.5] * 10},
        kernels={k: rng.normal(0, 0.2, s) for k, s in shapes.items()},
        initial_kernels={k: rng.normal(0, 0.2, s) for k, s in shapes.items()},
        y_test=np.eye(5)[truth],
        y_pred=scores / scores.sum(axis=1, keepdims=True),
    )


@pytest.fixture(scope="module")
def drawn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Artifacts of an ``sgd`` and an ``adam`` run, and baselines: ``sgd``'s matches, ``adam``'s has drifted.

    Drawn once per module (seconds of plots); each test gets a copy (:func:`run_dir`).
    """
    tmp_path = tmp_path_factory.mktemp("run")
    runs = {"sgd": fake_run("sgd", 0.3), "adam": fake_run("adam", 2.0)}
    for run in runs.values():
        artifacts.save_run(run, tmp_path / RUN, SETTINGS)
    plans = artifacts.plan_comparisons(registry())
    artifacts.save_comparisons(plans, runs, tmp_path / RUN, SETTINGS)
    record = {"label": SETTINGS.label, "dataset": "surrogate", "profile": "quick", "seed": 0, "device": "cpu"}
    record |= {"backend": "jax", "environment": {"python": "3.11", "backend": "jax", "keras": "3.15"}}
    record["baselines_dir"] = str(tmp_path / "baselines")
    (tmp_path / RUN / SETTINGS.label / "session.json").write_text(json.dumps(record))
    for name, quality in (("sgd", 0.3), ("adam", 0.3)):
        seeds = [fake_run(name, quality, seed) for seed in range(3)]
        stored = baseline.from_runs(
            name, SETTINGS.label, {r.seed: compute(r) for r in seeds}, {r.seed: r.history for r in seeds}
        )
        baseline.write(tmp_path / "baselines" / SETTINGS.label / f"{name}.json", stored)
    return tmp_path


@pytest.fixture
def run_dir(drawn_run: Path, tmp_path: Path) -> Path:
    """A test's own copy of :func:`drawn_run`, its run record naming the copy's baselines."""
    shutil.copytree(drawn_run, tmp_path, dirs_exist_ok=True)
    session = tmp_path / RUN / SETTINGS.label / "session.json"
    session.write_text(json.dumps({**json.loads(session.read_text()), "baselines_dir": str(tmp_path / "baselines")}))
    return tmp_path


#: A run's own folder, as a session lays it out: ``artifacts/runs/<run id>/``.
RUN = Path("artifacts") / "runs" / "r1"


def write_report(run_dir: Path) -> tuple[Path, Path]:
    folder = run_dir / RUN / SETTINGS.label
    return report.write(folder, registry(), run_dir / "baselines", SETTINGS.label)


def judged(run_dir: Path, name: str, rejected: bool) -> None:
    """Store the guard's verdict on ``name`` as a test would: one rank test, rejected or not."""
    test = guard.Comparison("accuracy (learning seeds)", 6, 40, 1e-7 if rejected else 0.5, 1.6e-5, "median 0.5", "0.7")
    verdict = guard.StatisticalVerdict((40, 41, 42, 43, 44, 45), (test,))
    artifacts.save_verdict(run_dir / RUN, SETTINGS, name, {**verdict.to_json(), "notes": ["exact tier did not apply"]})


def test_report_has_a_row_per_exercise_with_baseline_verdicts(run_dir):
    """The baseline column is the verdict the run's tests recorded, with the tier that decided it."""
    html_path, md_path = write_report(run_dir)
    page = html_path.read_text()
    rows = re.findall(r'<tr class="exercise">(.*?)</tr>', page)
    assert [re.search(r'href="#([^"]+)"', row).group(1) for row in rows] == ["sgd", "adam"]
    assert all('class="not-run">not run</td>' in row for row in rows), "not judged: no verdict is made up"
    assert "http" not in page.replace("http://www.w3.org", ""), "no CDN or remote resource: the page works offline"
    assert page.count("data:image/png;base64,") >= 2 * 5 + 1
    assert "| `adam` | ✅ pass | ⚪ not run |" in md_path.read_text()

    judged(run_dir, "sgd", rejected=False)
    judged(run_dir, "adam", rejected=True)
    html_path, md_path = write_report(run_dir)
    rows = re.findall(r'<tr class="exercise">(.*?)</tr>', html_path.read_text())
    assert 'class="pass">pass (statistical)</td>' in rows[0] and 'class="fail">fail (statistical)</td>' in rows[1]
    markdown = md_path.read_text()
    assert "| `adam` | ✅ pass | ❌ fail (statistical) |" in markdown
    assert "- `adam` baseline: accuracy (learning seeds): fresh median 0.5 vs stored 0.7 (p = 1e-07" in markdown
    adam = html_path.read_text().split('<section id="adam">')[1]
    assert "statistical tier: fail (fresh seeds 40-45)" in adam and "exact tier did not apply" in adam


def test_the_session_table_names_each_setting_once(run_dir):
    """The fingerprint repeats the run's backend; the table shows it once, beside the other settings."""
    html_path, _ = write_report(run_dir)
    table = re.search(r'<table class="session">(.*?)</table>', html_path.read_text()).group(1)
    names = re.findall(r"<tr><td>([^<]+)</td>", table)
    assert names.count("backend") == 1 and {"python", "keras", "device"} <= set(names)


def test_a_failing_exercise_shows_its_curve_over_the_baseline_band(run_dir):
    judged(run_dir, "adam", rejected=True)
    page = write_report(run_dir)[0].read_text()
    adam = page[page.index('<section id="adam">') :]
    assert (
        'alt="training loss and validation loss over the baseline band: at each epoch, the 5th to 95th percentile'
        in adam
    )
    band = run_dir / RUN / SETTINGS.label / "adam" / report.BAND_PNG
    assert band.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "the band figure is an artifact like the others"


def test_report_command_rewrites_pages_from_files(run_dir, capsys):
    from harness.cli import main

    assert main(["report", "--artifacts-dir", str(run_dir / "artifacts")]) == 0
    assert f"report: {run_dir / RUN / SETTINGS.label / 'report.html'}" in capsys.readouterr().out
    assert main(["report", "--artifacts-dir", str(run_dir / "artifacts"), "--list"]) == 0
    assert capsys.readouterr().out.startswith("r1  ")
    assert main(["report", "--artifacts-dir", str(run_dir / "artifacts"), "--run", "r2"]) == 2
    assert "no run 'r2'" in capsys.readouterr().err
    assert main(["report", "--artifacts-dir", str(run_dir / "nothing")]) == 2
    assert "no run found" in capsys.readouterr().err


def test_a_redrawn_report_judges_with_the_baselines_its_run_was_judged_against(run_dir, capsys):
    """The run was judged against its own ``baselines/`` (recorded in session.json), where ``adam`` deviates.

    Redrawn against the repository's baselines instead, as it once was, it would say "missing" (the
    repository has no smoke-profile baselines): the redraw must keep the run's verdict.
    """
    from harness.cli import main

    judged(run_dir, "adam", rejected=True)
    assert main(["report", "--artifacts-dir", str(run_dir / "artifacts")]) == 0
    markdown = (run_dir / RUN / SETTINGS.label / "report.md").read_text()
    assert "| `adam` | ✅ pass | ❌ fail (statistical) |" in markdown


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return found


HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic"]  # fmt: skip


def test_report_renders_in_a_browser_with_every_image_loaded(run_dir, tmp_path):
    html_path, _ = write_report(run_dir)
    browser = chromium()
    profile = tmp_path / "chromium-profile"
    dom = subprocess.run(
        [browser, *HEADLESS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
         "--window-size=1280,900", "--dump-dom",
         html_path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    images = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    assert images, dom.stderr[-2000:]
    loaded, total = map(int, images.groups())
    assert loaded == total >= 11
    shrunk = re.search(r'data-images-shrunk="([^"]*)"', dom.stdout).group(1)
    assert shrunk == "", f"figures drawn smaller than their own size (unreadable text): {shrunk}"
    assert len(re.findall(r'<tr class="exercise">', dom.stdout)) == 2
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *HEADLESS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1280,900",
         html_path.as_uri()],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000


def test_example_workflow_installs_runs_uploads_and_summarizes():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "jet-harness.yml").read_text())
    steps = workflow["jobs"]["exercises"]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert 'pip install -c baselines/constraints.txt -e ".[test]"' in runs and "pytest" in runs
    assert "report.md" in runs and "GITHUB_STEP_SUMMARY" in runs
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "artifacts/" and upload["if"] == "always()"
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as True


def test_layers_in_report_columns_exist():
    assert all(c.split(".")[0] in (*LAYERS, "accuracy", "val_loss") for c in report.COLUMNS)


@pytest.fixture
def figures(monkeypatch):
    """What each figure the plots module saves shows: per axes its title, y label and labelled y ticks."""
    drawn = []
    save = plots._save

    def record(fig, path):
        fig.canvas.draw()
        axes = []
        for ax in fig.axes:
            low, high = sorted(ax.get_ylim())
            ticks = [
                t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True) if low <= v <= high
            ]
            axes.append({"title": ax.get_title(), "ylabel": ax.get_ylabel(), "scale": ax.get_yscale(), "ticks": ticks})
        drawn.append(axes)
        save(fig, path)

    monkeypatch.setattr(plots, "_save", record)
    return drawn


def test_log_axes_have_labelled_ticks_and_titles_name_only_what_was_trained(tmp_path, figures):
    """A loss between 0.7 and 1.5 spans less than a decade: a log axis labels more than one tick there."""
    runs = {name: fake_run(name, 0.5) for name in ("sgd", "lr_0.1")}
    written = artifacts.save_comparisons(artifacts.plan_comparisons(registry()), runs, tmp_path, SETTINGS)
    assert [p.name for p in written] == ["learning_rates.png", "sgd_vs_lr_0.1_fc1.png"]
    curves, overlay = figures
    titles = [ax["title"] for ax in curves]
    assert titles == ["learning rates: sgd, lr_0.1: validation loss", "learning rates: sgd, lr_0.1: training loss"]
    assert overlay[0]["title"] == "fc1 weights"
    for ax in [*curves, *overlay]:
        assert ax["scale"] == "log" and len([t for t in ax["ticks"] if t]) >= 4, ax


def test_overlaid_weight_histograms_share_their_bins(monkeypatch):
    """Bars of one width for both runs: otherwise their heights are not comparable."""
    import matplotlib.axes

    edges = []
    hist = matplotlib.axes.Axes.hist

    def spy(self, *args, **kwargs):
        result = hist(self, *args, **kwargs)
        edges.append(result[1])
        return result

    monkeypatch.setattr(matplotlib.axes.Axes, "hist", spy)
    runs = {"sgd": fake_run("sgd", 0.5), "l1": fake_run("l1", 0.5)}
    runs["l1"].kernels["fc1"] = runs["l1"].kernels["fc1"] * 0.05  # L1 pulls fc1 towards zero
    plots.weight_overlay(runs, "fc1", Path(os.devnull))
    assert len(edges) == 2 and np.array_equal(edges[0], edges[1])
    assert edges[0][0] <= min(r.kernels["fc1"].min() for r in runs.values())


def test_the_roc_says_where_a_zero_background_efficiency_is_drawn(run_dir, figures):
    plots.roc(fake_run("sgd", 0.3), Path(os.devnull))
    assert figures[0][0]["ylabel"] == f"background efficiency (0 drawn at {plots.ROC_FLOOR:g})"
    assert "is drawn at the axis floor" in write_report(run_dir)[0].read_text()


def test_the_recorded_commit_is_marked_dirty_when_a_tracked_file_changed(tmp_path):
    """A report from modified code must not claim to be from the commit it started from."""
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(tmp_path / "c")], check=True, timeout=60)
    code = "from harness.core.environment import commit; print(commit())"

    def commit() -> str:
        env = {**os.environ, "PYTHONPATH": str(tmp_path / "c")}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path / "c", timeout=60
        )
        return done.stdout.strip()

    clean = commit()
    assert re.fullmatch(r"[0-9a-f]{7,}", clean), clean
    with open(tmp_path / "c" / "README.md", "a") as readme:
        readme.write("changed\n")
    assert commit() == f"{clean}+dirty"


def test_a_log_axis_labels_its_whole_range_not_only_below_one():
    """A loss from 0.55 to 1.6 once got labels 0.6-1 and none above 1."""
    import matplotlib.pyplot as plt

    from harness.outputs.plots import _log_ticks

    fig, ax = plt.subplots()
    try:
        ax.set_yscale("log")
        ax.set_ylim(0.55, 1.6)
        _log_ticks(ax)
        ticks = [t for t in ax.get_yticks() if 0.55 <= t <= 1.6]
    finally:
        plt.close(fig)
    assert len(ticks) >= 4 and max(ticks) > 1.2, ticks
