"""Write ``baselines/constraints.txt``: the versions the exact records were made with.

``python tools/lock.py`` walks the installed requirements of ``jet-harness`` and its extras
(test, jax, torch, lint, hls4ml) and pins each to the version installed here. ``.ci/run`` and docs/usage.md's
CI example install with ``-c baselines/constraints.txt``, so a fresh clone's CI trains with the
packages the exact records hold and the exact tier applies; run this after re-recording with other
packages. A local build label (``torch 2.13.0+cpu``) is dropped: ``==2.13.0`` admits it.
"""

from __future__ import annotations

import datetime
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "baselines" / "constraints.txt"
EXTRAS = ("test", "jax", "torch", "lint", "hls4ml")


def closure(name: str, extras: tuple[str, ...]) -> dict[str, str]:
    """Installed distribution name -> version, for ``name[extras]`` and everything it requires."""
    pinned: dict[str, str] = {}
    todo = [(name, set(extras))]
    while todo:
        dist_name, wanted = todo.pop()
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            continue  # an extra not installed here (torch, say): nothing to pin
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if key in pinned and not wanted:
            continue
        pinned[key] = dist.version.split("+")[0]
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
                todo.append((req.name, set(req.extras)))
    pinned.pop("jet-harness", None)
    return dict(sorted(pinned.items()))


def main() -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    python = sys.version.split()[0]
    head = [
        "# The packages the exact records in baselines/ were made with (tools/lock.py).",
        f"# Written {datetime.date.today()} at commit {commit.stdout.strip() or 'unknown'}, Python {python}.",
        '# Install with: pip install -c baselines/constraints.txt -e ".[test]"',
    ]
    body = [f"{name}=={version}" for name, version in closure("jet-harness", EXTRAS).items()]
    OUT.write_text("\n".join(head + body) + "\n")
    print(f"wrote {OUT}: {len(body)} packages")


if __name__ == "__main__":
    main()
