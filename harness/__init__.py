"""A pytest-driven experiment and regression harness for the jet-tagging MLP exercises.

One package per stage; data flows one way, and each stage imports only those above it in this
list (``tests/test_layout.py`` checks both):

================  ===================================================================
``core``          the one error type, files, tables, the backend choice, the environment
``data``          the dataset (file, OpenML or the surrogate) and the prepared split
``experiment``    what an exercise is (the exercises themselves are ``experiments/``)
``train``         the notebook's MLP trained alone or many seeds side by side, cached
``measure``       metrics and timings of a run
``firmware``      the trained models through hls4ml's C simulation: fixed point against float
``judge``         behaviour, initial weights, the exact and statistical tiers: one verdict
``outputs``       run folders, plots, artifacts, the report, tables of many runs
``bench``         benchmark result files of many machines in one table
================  ===================================================================

:mod:`harness.session` wires the stages for both front ends: the pytest plugin
(:mod:`harness.plugin`, loaded by the root ``conftest.py``) and the CLI (:mod:`harness.cli`),
which share their options (:mod:`harness.options`).
"""

__version__ = "0.1.0"
