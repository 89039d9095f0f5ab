"""Seeds side by side against the harness's own lone run, in one run (group ``seeds``).

``pytest tests/benchmarks/test_seed_speed.py --benchmark-only`` (add ``--backend jax``). Each round
trains ``sgd`` on the quick profile (100k jets × 60 epochs) for K seeds in one ``model.fit``,
prediction included; the lone round is :func:`harness.train.training.train`, what a test runs.
``extra_info.seconds_per_seed`` (median / K) is the number to compare: the target is a lone
TensorFlow run's ÷ 10 at K = 40.
"""

from __future__ import annotations

import resource

import pytest
from test_speed import record

from experiments import registry
from harness.data import dataset
from harness.data.prepare import prepare
from harness.experiment import PROFILES
from harness.train import side_by_side, training

QUICK = PROFILES["quick"]
ROUNDS = 2


@pytest.fixture(scope="module")
def quick_split():
    return prepare(dataset.load("surrogate").head(QUICK.n_jets))


def peak_rss_mib() -> float:
    """This process's resident-memory high-water mark so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.full_suite  # 150 seeds and 2 lone fits on the quick profile: not the quick hardware comparison
@pytest.mark.benchmark(group="seeds")
@pytest.mark.parametrize("k", [0, 1, 4, 10, 20, 40], ids=lambda k: "lone-model.fit" if k == 0 else f"K={k}")
def test_seeds(benchmark, quick_split, device, k):
    experiment = registry()["sgd"]
    if k == 0:
        benchmark.pedantic(training.train, args=(experiment, quick_split, QUICK, 0), rounds=ROUNDS, warmup_rounds=0)
    else:
        seeds = list(range(k))
        benchmark.pedantic(
            side_by_side.train_seeds,
            args=(experiment, quick_split, QUICK, seeds),
            kwargs={"chunk": k},
            rounds=ROUNDS,
            warmup_rounds=0,
        )
    members = max(k, 1)
    fitted = int(QUICK.n_jets * 0.8 * (1 - QUICK.validation_split)) * QUICK.epochs * members
    record(
        benchmark,
        device,
        fitted,
        profile=QUICK.name,
        seeds=members,
        seconds_per_seed=benchmark.stats.stats.median / members,
        peak_rss_mib=peak_rss_mib(),
    )
