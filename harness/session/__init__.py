"""One session of the harness, shared by ``pytest`` and ``python -m harness run``.

:mod:`~harness.session.training` holds the float model's part (runs, metrics, checks, baselines,
artifacts); :mod:`~harness.session.firmware` adds the trained models through hls4ml. Front ends use
:class:`Session`, which is both.
"""

from harness.session.firmware import Session
from harness.session.training import DEFAULT_BASELINES, TrainingSession

__all__ = ["DEFAULT_BASELINES", "Session", "TrainingSession"]
