"""The course exercises, as data. ``harness.experiment.registry()`` reads ``EXERCISES``."""

from .exercises import EXERCISES

__all__ = ["EXERCISES"]
