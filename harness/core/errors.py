"""The one exception type a user ever sees: a mistake in their input, never a bug of ours."""

from __future__ import annotations


class HarnessError(Exception):
    """A user-facing problem, reported as one line: what went wrong, where, and what to do.

    The CLI and the pytest plugin print it without a traceback; anything else that
    escapes is a bug and keeps its traceback.
    """


class DatasetError(HarnessError):
    """A dataset that cannot be loaded or does not look like the jet dataset."""


class BaselineError(HarnessError):
    """A stored baseline that is missing, unreadable or for something that no longer exists."""


class ConfigError(HarnessError):
    """A bad option: unknown profile, experiment, seed or directory."""
