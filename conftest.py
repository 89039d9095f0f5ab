"""pytest wiring: the harness's options and two thin session fixtures; the work lives in ``harness/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jet-harness", "jet-tagging exercise harness")
    group.addoption("--profile", default="quick", help="quick (default) or full: data size and epochs")
    group.addoption("--dataset", default="surrogate", help="surrogate (default), openml, or a .csv/.parquet/.npz path")
    group.addoption("--seed", type=int, default=0, help="training seed (default 0)")
    group.addoption("--artifacts-dir", default="artifacts", help="where plots and metrics.json go (default artifacts/)")
    group.addoption("--baselines-dir", default=None, help="baseline files root (default: the repository's baselines/)")
    group.addoption(
        "--update-baselines",
        action="store_true",
        help="(re)write the baselines of the selected exercises instead of comparing against them",
    )
    group.addoption(
        "--baseline-seeds",
        type=int,
        default=5,
        help="seeds trained per exercise by --update-baselines, from --seed on (default 5)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "training: trains the MLP (deselect with -m 'not training')")
    if config.getoption("baseline_seeds") < 2:
        raise pytest.UsageError("--baseline-seeds must be at least 2: a baseline stores the seed-to-seed spread")


@pytest.fixture(scope="session")
def harness_session(request: pytest.FixtureRequest):
    """The session's training runs, each computed once, artifacts written as they finish."""
    from harness.experiment import Settings, profile
    from harness.session import DEFAULT_BASELINES, Session

    opt = request.config.getoption
    try:
        settings = Settings(dataset=opt("dataset"), profile=profile(opt("profile")), seed=opt("seed"))
        baselines = Path(opt("baselines_dir")) if opt("baselines_dir") else DEFAULT_BASELINES
        session = Session(settings, artifacts_dir=Path(opt("artifacts_dir")), baselines_dir=baselines)
    except HarnessError as exc:
        pytest.exit(f"jet-harness: {exc}", returncode=4)
    request.config.stash[_SESSION] = session
    return session


@pytest.fixture(scope="session")
def update_baselines(request: pytest.FixtureRequest) -> int:
    """0 to compare against stored baselines, else the number of seeds to write them from."""
    opt = request.config.getoption
    return opt("baseline_seeds") if opt("update_baselines") else 0


_SESSION = pytest.StashKey()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is None:
        return
    written = session.finish()
    if session.output_dir:
        terminalreporter.write_sep("-", "jet-harness artifacts")
        terminalreporter.write_line(f"plots and metrics.json: {session.output_dir}/")
        if written:
            terminalreporter.write_line(f"comparison plots: {len(written)} in {session.output_dir / 'compare'}/")
