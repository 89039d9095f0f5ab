"""Many models of one exercise through hls4ml with one compile: what a firmware baseline over seeds costs.

hls4ml's C simulation does not run the weights it was compiled with: at its first call, its top
function loads every weight and bias from ``firmware/weights/*.txt`` (``WriteWeightsTxt``, on by
default), into arrays of the types the config gave them. Seeds of one exercise differ only in
those numbers, so the library compiled for the first model computes every other's firmware once
their weight files are in its place and a fresh copy of it is loaded (a copy: the load happens
once per loaded library). Each further model is still converted and written by hls4ml; its
generated sources must equal the compiled ones (:func:`sources`), or it is compiled on its own.
:func:`simulate_many` is checked against one full compile per model (``tests/test_firmware.py``),
and every statistical firmware run repeats the session seed through it (a twin, as training's).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harness.firmware.config import BACKEND, IO_TYPE, hls_config
from harness.firmware.convert import simulate

#: The generated files that decide what the firmware computes, apart from its weights.
SOURCES = ("firmware/*.h", "firmware/*.cpp", "firmware/nnet_utils/*.h", "myproject_bridge.cpp")
#: Keras numbers each model's input layer anew (``input_layer_4``): a variable's name, not what it computes.
_INPUT_NAME = re.compile(rb"input_layer_\d+")


def sources(project: Path) -> str:
    """sha256 of a written project's sources, weights and the build's stamp left out."""
    h = hashlib.sha256()
    for pattern in SOURCES:
        for path in sorted(project.glob(pattern)):
            text = _INPUT_NAME.sub(b"input_layer", path.read_bytes())
            h.update(path.relative_to(project).as_posix().encode() + b"\0" + text)
    return h.hexdigest()


def simulate_many(
    models: Sequence, X: np.ndarray, point: str, work: Path | None = None
) -> tuple[list[np.ndarray], dict[str, str]]:
    """Each model's fixed-point outputs on ``X`` at ``point``, compiling once where the sources agree,
    and the firmware's environment (:func:`harness.firmware.convert.simulate`).

    The projects are written in ``work`` (a temporary folder, removed after, when none is given).
    """
    if not models:
        return [], {}
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="jet-harness-firmware-many-") if own else work)
    try:
        return _simulate_many(models, X, point, work)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _simulate_many(models: Sequence, X: np.ndarray, point: str, work: Path) -> tuple[list[np.ndarray], dict[str, str]]:
    compiled = work / "compiled"
    first, _, environment = simulate(models[0], X, compiled, point)
    library, reference = _library(compiled), sources(compiled)
    outputs = [first]
    for i, model in enumerate(models[1:], start=1):
        written, hls_model = work / f"model{i}", _write(model, work / f"model{i}", point)
        if sources(written) != reference:  # another architecture or config: its own compile
            outputs.append(simulate(model, X, work / f"alone{i}", point)[0])
            continue
        for text in (written / "firmware" / "weights").glob("*.txt"):
            shutil.copyfile(text, compiled / "firmware" / "weights" / text.name)
        outputs.append(_predict(hls_model, library, work / f"model{i}.so", X))
        shutil.rmtree(written)
    return outputs, environment


def _library(project: Path) -> Path:
    (found,) = project.glob("firmware/myproject-*.so")
    return found


def _write(model, folder: Path, point: str):
    """``model`` converted and written by hls4ml into ``folder``, not compiled."""
    import hls4ml  # optional: only where the firmware stage runs

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # said once, by the compiled model's own conversion
        hls_model = hls4ml.converters.convert_from_keras_model(
            model, hls_config=hls_config(model, point), output_dir=str(folder), backend=BACKEND, io_type=IO_TYPE
        )
        hls_model.write()
    return hls_model


def _predict(hls_model, library: Path, copy: Path, X: np.ndarray) -> np.ndarray:
    """``hls_model``'s own ``predict``, run by a fresh copy of ``library``: it loads the weight files now in place."""
    shutil.copyfile(library, copy)
    hls_model._top_function_lib = ctypes.cdll.LoadLibrary(str(copy))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            fixed = np.asarray(hls_model.predict(np.ascontiguousarray(X, dtype=np.float32)), dtype=np.float64)
    finally:
        _unload(hls_model._top_function_lib)
        copy.unlink()
    return fixed.reshape(len(X), -1)


def _unload(library: ctypes.CDLL) -> None:
    """dlclose ``library``: hundreds of seeds would otherwise keep hundreds of copies mapped."""
    dlclose = ctypes.CDLL(None).dlclose
    dlclose.argtypes, dlclose.restype = [ctypes.c_void_p], ctypes.c_int
    dlclose(library._handle)
