"""Stage 3, the experiment definition: what an exercise changes, what it expects, how long it trains.

Users' own exercise files import from here (``from harness.experiment import Experiment, Variant,
more, less``); the course's exercises are data in ``experiments/``.
"""

from harness.experiment.definition import Expectation, Experiment, Variant, by_name, less, more, select
from harness.experiment.profiles import PROFILES, Profile, Settings, profile

__all__ = [
    "PROFILES",
    "Expectation",
    "Experiment",
    "Profile",
    "Settings",
    "Variant",
    "by_name",
    "less",
    "more",
    "profile",
    "select",
]
