"""TensorFlow's C++ start-up chatter kept off stderr, every other line let through.

TensorFlow logs through its own copies of absl straight to file descriptor 2, before
``TF_CPP_MIN_LOG_LEVEL`` is read: a oneDNN banner, "no CUDA drivers" and ``failed call to
cuInit`` on a CPU machine, and a ``NodeDef mentions attribute`` error for an attribute the
running op ignores. None of them is about the harness's run, and they bury the lines that are.
Only lines that match :data:`NOISE` are dropped; any other error still reaches the user.
TensorFlow's Python logger gets one filter too: :class:`RetracingAdvice`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator

#: absl's log prefix (``E0000 00:00:1795695240.405656    2990 file.cc:52] ``) or none, then a known message.
NOISE = re.compile(
    rb"^(?:[IWE]\d{4} [\d:. ]+\d+ [\w.]+:\d+\] )?(?:"
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|oneDNN custom operations are on"
    rb"|This TensorFlow binary is optimized to use available CPU instructions"
    rb"|Could not find cuda drivers on your machine"
    rb"|failed call to cuInit"
    rb"|NodeDef mentions attribute \w+ which is not in the op definition"
    rb"|Unable to register cu(?:DNN|FFT|BLAS) factory"
    rb"|computation placer already registered"
    rb")"
)


@contextlib.contextmanager
def tensorflow_noise_filtered() -> Iterator[None]:
    """Within the block, lines written to file descriptor 2 that match :data:`NOISE` are dropped.

    Works under pytest's output capture too: the kept lines go wherever descriptor 2 pointed
    when the block began (a terminal, a CI log, pytest's capture file), as they are written.
    """
    sys.stderr.flush()
    target = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forward = threading.Thread(target=_forward, args=(read_end, target), daemon=True)
    forward.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(target, 2)  # the pipe's last writer closes: the thread reads to its end and stops
        forward.join(timeout=5)
        os.close(target)


def _forward(read_end: int, target: int) -> None:
    """Copy the pipe to ``target`` line by line, leaving out noise; a partial line (a progress redraw) at once."""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            kept = b"".join(line for line in chunk.splitlines(keepends=True) if not NOISE.match(line))
            try:
                while kept:
                    kept = kept[os.write(target, kept) :]
            except OSError:  # the block ended and gave up waiting: nothing is left to write to
                return


class RetracingAdvice(logging.Filter):
    """Drops TensorFlow's advice to avoid retracing: the harness retraces by design, not by mistake.

    Every exercise run builds a new model, whose predict function is traced anew, and each side-by-side
    stack traces its loop for two batch shapes; after five such traces TensorFlow logs the advice on
    every run. Any other TensorFlow warning passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def drop_retracing_advice() -> None:
    """Install :class:`RetracingAdvice` on TensorFlow's logger, once per process."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, RetracingAdvice) for f in logger.filters):
        logger.addFilter(RetracingAdvice())
