"""How long an exercise trains (:class:`Profile`) and what one session trains on (:class:`Settings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.core.backend import BACKENDS, active
from harness.core.errors import ConfigError


@dataclass(frozen=True)
class Profile:
    """How much data and how many epochs; ``n_jets=None`` means the whole dataset."""

    name: str
    n_jets: int | None
    epochs: int
    batch_size: int = 1024
    validation_split: float = 0.25
    #: Whether the exercises' expectations are asserted: too little training shows none of them.
    behaviour: bool = True


PROFILES: dict[str, Profile] = {
    # 60 epochs: at 40, lr = 0.1's weights stayed under 5× sgd's for one seed in 40 (docs/exercises.md, "Profiles").
    "quick": Profile("quick", n_jets=100_000, epochs=60),
    # The notebook's own settings.
    "full": Profile("full", n_jets=None, epochs=50),
    # Plumbing only, in seconds: what the harness's own tests use. No behaviour is expected to hold.
    "smoke": Profile("smoke", n_jets=4_000, epochs=3, behaviour=False),
}


@dataclass(frozen=True)
class Settings:
    """What a session trains on: the ``--dataset``, ``--profile``, ``--seed`` and ``--backend`` options.

    ``backend`` defaults to the one this process trains with (:func:`harness.core.backend.active`);
    choosing it is :func:`harness.core.backend.use`'s job, before Keras is imported.
    """

    dataset: str = "surrogate"
    profile: Profile = field(default_factory=lambda: PROFILES["quick"])
    seed: int = 0
    cache_dir: Path | None = None
    backend: str = field(default_factory=active)

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"--seed must be between 0 and 2**32 - 1, got {self.seed}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}: choose one of {', '.join(BACKENDS)}")

    @property
    def label(self) -> str:
        """``<dataset>-<profile>``: names the baseline and artifact folders of this session."""
        return f"{self.dataset_name}-{self.profile.name}"

    @property
    def dataset_name(self) -> str:
        return self.dataset if self.dataset in {"surrogate", "openml"} else Path(self.dataset).stem


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}") from None
