"""Progress of long trainings: one updating line on a terminal, sparse lines in a CI log."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Protocol


class Stream(Protocol):
    def write(self, text: str) -> object: ...
    def flush(self) -> None: ...
    def isatty(self) -> bool: ...


class Progress:
    """An ``on_epoch`` callback for :class:`~harness.train.run_cache.Runs`.

    On a terminal it redraws one line per epoch. Elsewhere (a CI log) it writes a line only
    when ``interval`` seconds have passed since its last one, plus the final epoch of a run
    that printed anything: a quick run stays silent, a 50-epoch run shows a line every 30 s.
    """

    def __init__(self, stream: Stream, interval: float = 30.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.interval = interval
        self._started = self._last = 0.0
        self._printed = False

    def epoch(self, name: str, epoch: int, epochs: int, logs: Mapping[str, float]) -> None:
        now = time.monotonic()
        if epoch == 1:
            self._started = self._last = now
            self._printed = False
        loss, val_loss = logs.get("loss", math.nan), logs.get("val_loss", math.nan)
        text = f"[{name}] epoch {epoch}/{epochs} loss {loss:.4f} val_loss {val_loss:.4f}"
        if self.tty:
            self.stream.write(f"\r\033[K{text}")
        elif now - self._last >= self.interval or (epoch == epochs and self._printed):
            self.stream.write(f"{text} ({now - self._started:.0f}s)\n")
            self._last, self._printed = now, True
        self.stream.flush()

    def done(self) -> None:
        """Clear the terminal line before the caller prints its summary."""
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
