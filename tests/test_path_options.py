"""Path options outside the repository: the ``--option=PATH`` form works, and it is the form we tell users to type."""

from __future__ import annotations

import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATH_OPTIONS = ("--dataset", "--artifacts-dir", "--baselines-dir")
#: A pytest command line in a code span of the README or a docs page: ``pytest ...``.
COMMAND = re.compile(r"`(pytest [^`]*)`")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def pages() -> str:
    return "\n".join(page.read_text() for page in PAGES)


def test_every_pytest_command_in_the_docs_joins_path_options_with_equals():
    """A pasted ``pytest --dataset /data/jets.csv`` fails before this project's options exist."""
    commands = COMMAND.findall(pages())
    assert len(commands) > 10
    spaced = [c for c in commands if re.search(rf"({'|'.join(PATH_OPTIONS)}) +[^-\s]", c)]
    assert spaced == []


def test_a_path_outside_the_repository_works_with_equals_and_the_space_form_fails_as_documented(tmp_path):
    script = Path(sysconfig.get_path("scripts")) / "pytest"
    if not script.exists():
        pytest.skip(f"no pytest script at {script}")
    data = tmp_path / "jets.csv"
    data.write_text("class\n")

    def collect(*options: str) -> subprocess.Popen:
        command = [str(script), "--collect-only", "-q", "-p", "no:cacheprovider", *options]  # no test path: pytest
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # side by side: each is a Python importing TensorFlow
    joined, spaced = collect(f"--dataset={data}", f"--baselines-dir={tmp_path}"), collect("--dataset", str(data))
    out, err = joined.communicate(timeout=120)
    assert joined.returncode == 0, out[-2000:] + err[-2000:]
    assert "test_baseline[sgd]" in out
    _, err = spaced.communicate(timeout=120)
    assert spaced.returncode == 4 and "unrecognized arguments: --dataset" in err
    assert "fails with `unrecognized arguments: --dataset`" in pages()
