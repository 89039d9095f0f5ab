"""The pytest plugin: the harness's options, two thin session fixtures, and the run's summary.

The root ``conftest.py`` loads it from the checkout; the work lives in the stages.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pytest

from experiments import registry
from harness import options
from harness.core import backend, environment
from harness.core.environment import lock_drift
from harness.core.errors import HarnessError
from harness.core.progress import Progress
from harness.data import dataset
from harness.experiment import Settings, profile
from harness.firmware import missing as missing_firmware
from harness.judge.baseline import DEFAULT_BASELINES
from harness.judge.guard import fresh_problem, strength_problem
from harness.outputs.folders import ensure_writable, new_run_id

_SESSION = pytest.StashKey()
_STORE = pytest.StashKey()
_RUN_ID = pytest.StashKey()
_FIRMWARE_SKIPPED = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jet-harness", "jet-tagging exercise harness")
    options.add(group.addoption, options.OPTIONS, pytest=True)
    group.addoption(
        "--firmware-scan",
        action="store_true",
        help="with -m firmware: also convert each exercise at every point of the precision scan and draw it, "
        "with hls4ml's profiling figures (about 70 s per exercise on 2 cores)",
    )
    group.addoption(
        "--update-baselines",
        action="store_true",
        help="(re)write the baselines of the selected exercises instead of comparing against them",
    )
    group.addoption(
        "--baseline-seeds",
        type=int,
        default=40,
        help="seeds trained side by side per exercise by --update-baselines, from --seed on (default 40)",
    )
    group.addoption(
        "--weak-baseline",
        action="store_true",
        help="let --update-baselines write fewer seeds than the guard's power target needs (plumbing tests)",
    )
    group.addoption(
        "--record-exact",
        action="store_true",
        help="add this machine's exact record of --seed to the selected baselines (their seeds untouched); "
        "a record that would change is written only where fresh seeds still train like the baseline",
    )
    group.addoption(
        "--intended",
        action="store_true",
        help="with --record-exact: the change is intended; record training without asking the statistical tier, "
        "and firmware that lost its expectations or a moved firmware probe",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "training: trains the MLP (deselect with -m 'not training')")
    config.addinivalue_line("markers", "exercise: one of an exercise's own tests (behaviour, baseline, weights)")
    config.addinivalue_line("markers", "firmware: the trained models through hls4ml (its own step: pytest -m firmware)")
    try:  # before any test module imports Keras, which reads KERAS_BACKEND once; xdist workers inherit it
        _check_strength(config)
        backend.use(config.getoption("backend"))
        _check_given(config)
    except HarnessError as exc:
        raise pytest.UsageError(f"jet-harness: {exc}") from None
    worker = getattr(config, "workerinput", None)
    if worker is not None:  # a pytest-xdist worker: use the controller's shared run store and run id
        config.stash[_STORE] = Path(worker["jet_harness_store"])
        config.stash[_RUN_ID] = worker["jet_harness_run_id"]
        return
    if config.getoption("numprocesses", None):  # the pytest-xdist controller
        config.stash[_STORE] = Path(tempfile.mkdtemp(prefix="jet-harness-runs-"))
    config.stash[_RUN_ID] = _run_id(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist: hand every worker the folder where runs are shared, so each trains once."""
    node.workerinput["jet_harness_store"] = str(node.config.stash[_STORE])
    node.workerinput["jet_harness_run_id"] = node.config.stash[_RUN_ID]


def _check_strength(config: pytest.Config) -> None:
    """Refuse, before any training, an update that would silently weaken the guard."""
    n = config.getoption("baseline_seeds")
    if n < 2:
        raise pytest.UsageError("--baseline-seeds must be at least 2: a baseline stores the seed-to-seed spread")
    if config.getoption("fresh_seeds") < 1:
        raise pytest.UsageError("--fresh-seeds must be at least 1")

    if problem := fresh_problem(config.getoption("fresh_seeds"), None, len(registry())):
        raise pytest.UsageError(f"jet-harness: {problem}")
    if config.getoption("update_baselines") and not config.getoption("weak_baseline"):
        if problem := strength_problem(n, config.getoption("fresh_seeds")):
            raise pytest.UsageError(f"{problem}; pass --weak-baseline to write it anyway")


def _check_given(config: pytest.Config) -> None:
    """What the user gave, checked before any test runs: one line, not a banner after minutes of tests."""

    environment.check_training_settings()
    profile(config.getoption("profile"))
    spec = config.getoption("dataset")
    # the surrogate is ours, nothing to check; --collect-only trains nothing, and says what would run
    if spec != "surrogate" and not hasattr(config, "workerinput") and not config.option.collectonly:
        dataset.load(spec)


def _run_id(config: pytest.Config) -> str | None:
    """One id for this pytest invocation (all its workers): the folder its artifacts and report own."""

    opt = config.getoption
    try:
        settings = Settings(dataset=opt("dataset"), profile=profile(opt("profile")), seed=opt("seed"))
    except HarnessError:
        return None  # the session fixture reports the mistake in one line
    return new_run_id(Path(opt("artifacts_dir")), settings)


def pytest_unconfigure(config: pytest.Config) -> None:
    store = config.stash.get(_STORE, None)
    if store is not None and not hasattr(config, "workerinput"):
        shutil.rmtree(store, ignore_errors=True)


@pytest.hookimpl(trylast=True)  # after -m and -k deselected theirs: count only what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Firmware tests run as their own step (``-m firmware``), and only where hls4ml and g++ are here."""
    chosen = [item for item in items if item.get_closest_marker("firmware")]
    if not chosen:
        return
    asked = "firmware" in (config.option.markexpr or "") and "not firmware" not in config.option.markexpr
    reason = missing_firmware() if asked else "the firmware step runs on its own: pytest -m firmware"
    if reason:
        for item in chosen:
            item.add_marker(pytest.mark.skip(reason=reason))
        config.stash[_FIRMWARE_SKIPPED] = (len(chosen), reason)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Benchmarks run only when asked for: ``pytest tests/benchmarks --benchmark-only``."""
    if collection_path.name == "benchmarks" and not config.getoption("benchmark_only", False):
        return True
    return None


class ProgressLog:
    """Progress lines as log records (logger ``jet_harness.progress``, INFO): pytest's own reporting.

    They never break pytest's progress line; ``-o log_cli=true --log-cli-level=INFO`` shows them
    live, and a failing test's report carries the ones written while it ran.
    """

    logger = logging.getLogger("jet_harness.progress")
    logger.setLevel(logging.INFO)  # pytest captures INFO from here whatever the root logger's level

    def isatty(self) -> bool:
        return False  # one record per line, never a redrawn one

    def write(self, text: str) -> None:
        if text.strip():
            self.logger.info(text.rstrip("\n"))

    def flush(self) -> None:
        pass


def _session(config: pytest.Config):
    from harness.session import Session  # imports Keras: only after pytest_configure chose the backend

    opt = config.getoption
    settings = Settings(dataset=opt("dataset"), profile=profile(opt("profile")), seed=opt("seed"))
    baselines = Path(opt("baselines_dir")) if opt("baselines_dir") else DEFAULT_BASELINES
    return Session(
        settings,
        artifacts_dir=Path(opt("artifacts_dir")),
        baselines_dir=baselines,
        store=config.stash.get(_STORE, None),
        run_id=config.stash.get(_RUN_ID, None),
        plots=not opt("no_plots"),
        tier=opt("tier"),
        fresh_seeds=opt("fresh_seeds"),
        on_epoch=Progress(ProgressLog(), interval=30.0).epoch,
    )


@pytest.fixture(scope="session")
def harness_session(request: pytest.FixtureRequest):
    """The session's training runs, each computed once, artifacts written as they finish."""

    try:
        session = _session(request.config)
        # Mistakes in what is given are one line, once, before any training: a bad dataset file,
        # a baselines folder that an update could not write after its minutes of training.
        dataset.load(session.settings.dataset, session.settings.cache_dir)
        if request.config.getoption("update_baselines"):
            ensure_writable(session.baselines_dir / session.settings.label, "baselines directory", "--baselines-dir")
    except HarnessError as exc:
        pytest.exit(f"jet-harness: {exc}", returncode=4)
    request.config.stash[_SESSION] = session
    return session


@pytest.fixture(scope="session")
def update_baselines(request: pytest.FixtureRequest) -> int:
    """0 to compare against stored baselines, else the number of seeds to write them from."""
    opt = request.config.getoption
    return opt("baseline_seeds") if opt("update_baselines") else 0


def _say_what_k_selected(terminalreporter, keyword: str, exitstatus: int) -> None:
    """A ``-k`` that selects none of the exercises says so, with their names: a typo must not pass silently."""

    names = ", ".join(registry())
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        terminalreporter.write_line(f"jet-harness: -k {keyword!r} selects no test; exercises: {names}")
        return
    reports = [
        r for key, stat in terminalreporter.stats.items() if key != "deselected" for r in stat if hasattr(r, "keywords")
    ]
    if reports and not any("exercise" in r.keywords for r in reports):
        ran = len({r.nodeid for r in reports})
        terminalreporter.write_line(
            f"jet-harness: -k {keyword!r} selects none of the exercises ({names}); "
            f"it ran {ran} of the harness's own tests only"
        )


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if (skipped := config.stash.get(_FIRMWARE_SKIPPED, None)) and not hasattr(config, "workerinput"):
        terminalreporter.write_line(f"jet-harness: {skipped[0]} firmware tests skipped: {skipped[1]}")
    if config.option.keyword and not config.option.markexpr and not hasattr(config, "workerinput"):
        _say_what_k_selected(terminalreporter, config.option.keyword, exitstatus)
    session = config.stash.get(_SESSION, None)
    store = config.stash.get(_STORE, None)
    if session is None and store and not hasattr(config, "workerinput") and any(store.rglob("*.npz")):
        session = _session(config)  # the xdist controller: draw from the runs the workers stored
    if session is None:
        return
    try:
        written = session.finish()
    except HarnessError as exc:
        terminalreporter.write_line(f"jet-harness: no report: {exc}")
        return
    trained = session.runs.trained_log()
    if trained:
        once = "each once" if len(set(trained)) == len(trained) else "SOME MORE THAN ONCE"
        terminalreporter.write_line(f"jet-harness: {len(trained)} training runs shared between workers, {once}")
    if written or (not session.plots and session.runs.completed()):
        settings = session.settings
        terminalreporter.write_sep("-", f"jet-harness: {settings.label}, seed {settings.seed}, {settings.backend}")
        for line in session.verdicts():
            terminalreporter.write_line(line)
        note = session.shared_baselines_note([run.experiment for run in session.runs.completed()])
        if note:
            terminalreporter.write_line(note)
        what = "plots and metrics.json" if session.plots else "metrics.json (--no-plots)"
        terminalreporter.write_line(f"{what}: {session.output_dir}/")
        terminalreporter.write_line(f"latest run: {session.artifacts_dir / 'latest'}/ (this one)")
        for path in written:
            if path.name.startswith("report."):
                terminalreporter.write_line(f"report: {path}")

    if drift := lock_drift(session.baselines_dir, session.settings.backend):
        terminalreporter.write_line(f"jet-harness note: {drift}")
    for line in session.writes():  # baseline writes, which tests' captured output would hide
        terminalreporter.write_line(f"jet-harness {line}")
    for note in session.guard_notes():  # once per run, whether or not this run drew a report
        terminalreporter.write_line(f"jet-harness note: {note}")
