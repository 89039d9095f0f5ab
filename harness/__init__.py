"""A pytest-driven experiment and regression harness for the jet-tagging MLP exercises.

Stages, one module each, data flowing one way:
:mod:`~harness.dataset` → :mod:`~harness.prepare` → :mod:`~harness.experiment` →
:mod:`~harness.training` → :mod:`~harness.metrics` → :mod:`~harness.checks`,
:mod:`~harness.baseline`, :mod:`~harness.artifacts` / :mod:`~harness.plots`.
"""

__version__ = "0.1.0"
