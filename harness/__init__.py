"""A pytest-driven experiment and regression harness for the jet-tagging MLP exercises.

Stages, data flowing one way (each imports only those before it; ``tests/test_layout.py``):
:mod:`~harness.dataset` → :mod:`~harness.prepare` → :mod:`~harness.experiment` (the exercises
themselves: ``experiments/``) → :mod:`~harness.training`, :mod:`~harness.side_by_side`,
:mod:`~harness.run_cache` → :mod:`~harness.metrics` → :mod:`~harness.checks`, :mod:`~harness.exact`,
:mod:`~harness.guard`, :mod:`~harness.baseline` → :mod:`~harness.artifacts` / :mod:`~harness.plots`,
:mod:`~harness.report`, :mod:`~harness.bench`; :mod:`~harness.session` wires them for the pytest
plugin (``conftest.py``) and :mod:`~harness.cli`.
"""

__version__ = "0.1.0"
