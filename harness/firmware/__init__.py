"""Stage 5½, firmware: a trained model through hls4ml, its C simulation compiled with g++, run on the test set.

Optional: ``pip install -e ".[hls4ml]"`` and a C++ compiler. :func:`missing` says in one line
what is absent, and the firmware tests skip with that reason. The precision config is
:mod:`.config`'s, the conversion :mod:`.convert`'s.
"""

from __future__ import annotations

import importlib.util
import shutil

#: What to install when the firmware stage cannot run.
INSTALL = 'pip install -e ".[hls4ml]" and a C++ compiler (Debian: apt-get install g++)'


def missing() -> str | None:
    """Why the firmware stage cannot run here, in one line, or ``None`` when it can."""
    if importlib.util.find_spec("hls4ml") is None:
        return f"hls4ml is not installed ({INSTALL})"
    if shutil.which("g++") is None:
        return f"no g++ on PATH for hls4ml's C simulation ({INSTALL})"
    return None
