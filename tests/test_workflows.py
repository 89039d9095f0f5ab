"""The baselines workflow's own commands, run here: two shard jobs on two "machines", then the merge job."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from run_cli import ROOT, pythonpath

from harness.core.backend import active
from harness.judge import baseline

WORKFLOW = ROOT / ".github" / "workflows" / "baselines.yml"


def step(job: dict, name: str) -> str:
    return next(s["run"] for s in job["steps"] if s.get("name") == name)


def expand(command: str, values: dict[str, str]) -> str:
    """GitHub's ``${{ … }}`` expressions, the two forms this workflow uses: a name, and ``a && 'x' || 'y'``."""

    def value(match: re.Match) -> str:
        expression = match.group(1).strip()
        if expression in values:
            return values[expression]
        name, then, otherwise = re.fullmatch(r"(\S+) && '([^']*)' \|\| '([^']*)'", expression).groups()
        return then if values[name] == "true" else otherwise

    return re.sub(r"\$\{\{(.*?)\}\}", value, command)


def sh(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """A ``run:`` line as the runner's bash runs it, with this checkout's Python and code."""
    command = re.sub(r"^python ", f"{sys.executable} ", command)
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, env=env)


def test_the_shards_cover_disjoint_seeds_in_order():
    matrix = yaml.safe_load(WORKFLOW.read_text())["jobs"]["shard"]["strategy"]["matrix"]["seeds"]
    spans = [tuple(map(int, s.split("-"))) for s in matrix]
    assert spans[0][0] == 0 and all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))


@pytest.mark.training
def test_two_shard_jobs_and_the_merge_job_write_one_baseline(tmp_path):
    doc = yaml.safe_load(WORKFLOW.read_text())
    shard_job, merge_job = doc["jobs"]["shard"], doc["jobs"]["merge"]
    assert merge_job["needs"] == "shard"
    inputs = {"inputs.exercises": "sgd", "inputs.profile": "smoke", "inputs.backend": active()}
    label = baseline.own_label("surrogate-smoke", active())
    merger = tmp_path / "merge-machine"
    committed = merger / "baselines" / label / "sgd.json"  # a committed file with exact records, written over
    committed.parent.mkdir(parents=True)
    shutil.copy(ROOT / "baselines" / "surrogate-quick" / "sgd.json", committed)
    records = json.loads(committed.read_text())["exact"]
    shards = shard_job["strategy"]["matrix"]["seeds"][:2]  # two machines, at once as a matrix runs them

    def shard(seeds: str) -> tuple[Path, subprocess.CompletedProcess]:
        machine = tmp_path / f"machine-{seeds}"
        machine.mkdir()
        return machine, sh(expand(step(shard_job, "Train a shard"), {**inputs, "matrix.seeds": seeds}), machine)

    with ThreadPoolExecutor(len(shards)) as pool:
        for seeds, (machine, done) in zip(shards, pool.map(shard, shards), strict=True):
            assert done.returncode == 0, done.stderr
            shutil.copytree(machine / "shard", merger / "shards" / f"shard-{seeds}")  # upload, download-artifact
    merged = sh(expand(step(merge_job, "Merge"), {**inputs, "inputs.keep_exact": "true"}), merger)
    assert merged.returncode == 0, merged.stderr
    assert f"wrote baselines/{label}/sgd.json: 40 seeds (0-39)" in merged.stdout
    assert f"its {len(records)} exact record(s) of the file written over: kept" in merged.stdout
    written = json.loads(committed.read_text())
    assert written["seeds"] == list(range(40)) and written["trainer"] == "keras-replicas"
    assert written["exact"] == records
