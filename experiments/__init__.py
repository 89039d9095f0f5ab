"""The course exercises, as data; :func:`registry` is what every stage reads them through."""

from harness.experiment import Experiment, by_name

from .exercises import EXERCISES

__all__ = ["EXERCISES", "registry"]


def registry() -> dict[str, Experiment]:
    """The exercises by name, in order, checked (unique names, references that exist)."""
    return by_name(EXERCISES)
