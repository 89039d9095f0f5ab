"""Benchmark fixtures: the full-size prepared split, and the device recorded in every result file."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "full_suite: the long benchmarks (-m full_suite): the notebook against the harness (~12 min), seeds side by"
        " side (K = 1 to 40, tens of minutes), the suite's own time (~15 min)",
    )


def pytest_benchmark_update_machine_info(config, machine_info):
    """pytest-benchmark knows nothing of GPUs or Keras backends: add what the harness sees."""
    from harness.core.device import device_info

    machine_info["jet_harness"] = device_info()


@pytest.fixture(scope="session")
def full_split():
    """The notebook-size surrogate (830k jets), split and one-hot encoded as the harness does."""
    from harness.data.dataset import load
    from harness.data.prepare import prepare

    return prepare(load("surrogate"))


@pytest.fixture(scope="session")
def device():
    from harness.core.device import device_info

    return device_info()
