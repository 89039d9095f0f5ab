"""Which injected regressions does the guard catch? docs/guard.md's table, reproducible: ``python tools/injections.py``.

Each row patches one thing in the training path (Keras, the data, the harness), in a fresh
process, then judges the exercises it touches (quick profile, seed 0) twice:

- **exact**: the default tier, with this environment's exact record of seed 0;
- **without exact**: everything else the suite runs — the statistical tier on fresh seeds
  (``--tier statistical``), the initial-weight check and the data baseline.

Only the exercises a change can touch are trained (a changed Adam cannot move ``sgd``), so the
table costs about 30 minutes on 2 cores. ``python tools/injections.py ROW ...`` runs those rows;
``--exact-only`` judges by the exact tier alone (the table's first column).
A script, not a test: it lives in tools/, which pytest does not collect.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

SGD_DEFAULT_LR = ("sgd", "scaled", "l1")


def _wrap_init(cls, **changes: Callable) -> None:
    """Change keyword arguments of ``cls.__init__`` whose value a function maps to another."""
    original = cls.__init__

    def init(self, *args, **kwargs):
        import inspect

        bound = inspect.signature(original).bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, change in changes.items():
            bound.arguments[name] = change(bound.arguments[name])
        original(*bound.args, **bound.kwargs)

    cls.__init__ = init


def _optimizer(name: str, **changes: Callable) -> Callable[[], None]:
    def patch() -> None:
        import keras

        _wrap_init(getattr(keras.optimizers, name), **changes)

    return patch


def _registry(module: str, key: str, make: Callable) -> Callable[[], None]:
    """Point a Keras string identifier (``"relu"``, ``"glorot_uniform"``) at another object."""

    def patch() -> None:
        import importlib

        objects = importlib.import_module(module).ALL_OBJECTS_DICT
        objects[key] = make()

    return patch


def _loss(make: Callable) -> Callable[[], None]:
    """Both ways a loss name is looked up: ``model.compile`` (``keras.src.losses.get``) and the public alias."""

    def patch() -> None:
        import keras
        import keras.src.losses

        for module in (keras.losses, keras.src.losses):
            original = module.get
            module.get = lambda identifier, original=original: (
                make() if identifier == "categorical_crossentropy" else original(identifier)
            )

    return patch


def _dataset(change: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]) -> Callable[[], None]:
    def patch() -> None:
        from harness.data import dataset

        original = dataset.load

        def load(*args, **kwargs):
            data = original(*args, **kwargs)
            X, y = change(np.array(data.X), np.array(data.y))
            return replace(data, X=X, y=y)

        dataset.load = load

    return patch


def _shuffle_labels(X, y):
    rng = np.random.default_rng(1)
    rows = rng.choice(len(y), len(y) // 10, replace=False)
    y[rows] = y[rng.permutation(rows)]
    return X, y


def _smear_mass(X, y):
    from harness.data.dataset import FEATURES

    column = FEATURES.index("j_mass_mmdt")
    X[:, column] *= 1 + 0.1 * np.random.default_rng(2).standard_normal(len(X)).astype(np.float32)
    return X, y


def _prepare(change: Callable) -> Callable[[], None]:
    """The prepared split every training reads (the run cache prepares it; the data baseline reads the data)."""

    def patch() -> None:
        from harness.train import run_cache

        original = run_cache.prepare
        run_cache.prepare = lambda data, scaled=False: change(original, data, scaled)

    return patch


def _leak(original, data, scaled):
    split = original(data, scaled)
    n = len(split.X_test)
    return replace(split, X_test=split.X_train[:n], y_test=split.y_train[:n])


def _split_seed() -> None:
    from harness.data import prepare

    prepare.SPLIT_SEED = 43


def _minmax() -> None:
    from sklearn.preprocessing import MinMaxScaler

    from harness.data import prepare

    prepare.StandardScaler = MinMaxScaler


def _keywords(method: str, change: Callable[[dict], dict]) -> Callable[[], None]:
    """``keras.Model.<method>`` called with ``change(its keyword arguments)``: a change inside ``fit``, ``compile``."""

    def patch() -> None:
        import keras

        original = getattr(keras.Model, method)
        setattr(keras.Model, method, lambda self, *a, **kw: original(self, *a, **change(kw)))

    return patch


def _fit(**changes) -> Callable[[], None]:
    return _keywords("fit", lambda kw: {**kw, **changes})


def _policy(name: str) -> Callable[[], None]:
    def patch() -> None:
        import keras

        keras.config.set_dtype_policy(name)

    return patch


def _epoch_cap(most: int) -> Callable[[], None]:
    """``fit`` trains up to epoch ``most`` whatever it is asked, as ``KERAS_MAX_EPOCHS`` would make it."""

    return _keywords("fit", lambda kw: {**kw, "epochs": min(kw.get("epochs", 1), most)})


def _compile(**changes) -> Callable[[], None]:
    return _keywords("compile", lambda kw: {**kw, **changes})


def _validation_split(fraction: float) -> Callable[[], None]:
    """Keras's data adapter cuts ``fraction`` off for validation, whatever ``fit`` was asked."""

    def patch() -> None:
        from keras.src.trainers.data_adapters import array_slicing

        original = array_slicing.train_validation_split
        array_slicing.train_validation_split = lambda arrays, validation_split: original(arrays, fraction)

    return patch


def _bias(value: float) -> Callable[[], None]:
    """``Dense``'s default bias initializer, ``"zeros"``, becomes a constant."""

    def patch() -> None:
        import keras

        _wrap_init(
            keras.layers.Dense, bias_initializer=lambda v: keras.initializers.Constant(value) if v == "zeros" else v
        )

    return patch


def _epsilon(value: float) -> Callable[[], None]:
    """Keras's fuzz factor (``keras.config.epsilon``), which clips the cross-entropy's probabilities."""

    def patch() -> None:
        import keras

        keras.config.set_epsilon(value)

    return patch


def _act(name: str) -> Callable:
    def make():
        import keras

        return getattr(keras.activations, name)

    return make


def _init(name: str) -> Callable:
    def make():
        import keras

        return getattr(keras.initializers, name)

    return make


def _focal():
    import keras

    return lambda y, p: keras.losses.categorical_focal_crossentropy(y, p)


def _smoothing():
    import keras

    return lambda y, p: keras.losses.categorical_crossentropy(y, p, label_smoothing=0.1)


ACT = "keras.src.activations"
INIT = "keras.src.initializers"

#: name → (what changed, patch, the exercises it can touch)
ROWS: dict[str, tuple[str, Callable[[], None], tuple[str, ...]]] = {
    "sgd_lr": (
        "SGD default lr 0.01 → 0.02",
        _optimizer("SGD", learning_rate=lambda v: 0.02 if v == 0.01 else v),
        SGD_DEFAULT_LR,
    ),
    "sgd_lr_10pct": (
        "SGD default lr 0.01 → 0.011",
        _optimizer("SGD", learning_rate=lambda v: 0.011 if v == 0.01 else v),
        SGD_DEFAULT_LR,
    ),
    "adam_lr": ("Adam lr 0.001 → 0.003", _optimizer("Adam", learning_rate=lambda v: 0.003), ("adam",)),
    "adam_eps": ("Adam epsilon 1e-7 → 1e-4", _optimizer("Adam", epsilon=lambda v: 1e-4), ("adam",)),
    "adam_beta1": ("Adam β₁ 0.9 → 0.8", _optimizer("Adam", beta_1=lambda v: 0.8), ("adam",)),
    "momentum": ("SGD momentum 0 → 0.9", _optimizer("SGD", momentum=lambda v: 0.9), ("sgd", "lr_0.1")),
    "l1": ("L1 0.01 → 0.001", lambda: _wrap_l1(), ("l1",)),
    "tanh": (
        "ReLU → tanh",
        _registry(ACT, "relu", _act("tanh")),
        ("sgd", "lr_0.1", "adam"),
    ),
    "leaky": ("ReLU → LeakyReLU(0.2)", _registry(ACT, "relu", _act("leaky_relu")), ("sgd", "adam")),
    "he_normal": (
        "Glorot-uniform → He-normal init",
        _registry(INIT, "glorot_uniform", _init("HeNormal")),
        ("sgd",),
    ),
    "glorot_normal": (
        "Glorot-uniform → Glorot-normal init",
        _registry(INIT, "glorot_uniform", _init("GlorotNormal")),
        ("sgd",),
    ),
    "lecun_uniform": (
        "Glorot-uniform → LeCun-uniform init",
        _registry(INIT, "glorot_uniform", _init("LecunUniform")),
        ("sgd",),
    ),
    "smoothing": ("cross-entropy label smoothing 0 → 0.1", _loss(_smoothing), ("sgd", "adam")),
    "focal": ("cross-entropy → focal cross-entropy (γ = 2)", _loss(_focal), ("sgd", "adam")),
    "labels": ("10 % of labels shuffled", _dataset(_shuffle_labels), ("sgd", "adam")),
    "mass": ("jet mass smeared by 10 %", _dataset(_smear_mass), ("sgd",)),
    "minmax": ("StandardScaler → MinMaxScaler", _minmax, ("scaled",)),
    "no_scaler": ("scaler dropped", _prepare(lambda original, data, scaled: original(data, False)), ("scaled",)),
    "leak": ("test set drawn from the training jets (a leak)", _prepare(_leak), ("adam",)),
    "split_seed": ("train/test split random_state 42 → 43", _split_seed, ("sgd",)),
    "batch": ("batch 1024 → 512 (in `fit`)", _fit(batch_size=512), ("sgd",)),
    "val_split": ("validation_split 0.25 → 0.1 (in Keras's data adapter)", _validation_split(0.1), ("sgd",)),
    "epochs": ("at most 50 of the 60 epochs (a cap inside `fit`)", _epoch_cap(50), ("sgd",)),
    "no_shuffle": ("shuffle=False in `fit`", _fit(shuffle=False), ("sgd",)),
    "batch_shuffle": (
        'shuffle="batch" in `fit` (batches shuffled, rows within them not)',
        _fit(shuffle="batch"),
        ("sgd",),
    ),
    "float64": ("dtype policy float32 → float64", _policy("float64"), ("sgd", "adam")),
    "bias": ("`Dense` bias initializer zeros → 0.1", _bias(0.1), ("sgd", "adam")),
    "epsilon": (
        "Keras's epsilon 1e-7 → 1e-3 (a control on TensorFlow: its cross-entropy reads the softmax's logits)",
        _epsilon(1e-3),
        ("sgd", "adam"),
    ),
    "steps_per_execution": (
        "steps_per_execution 32 → 1 in `compile` (a control: same arithmetic)",
        _compile(steps_per_execution=1),
        ("sgd",),
    ),
}


def _wrap_l1() -> None:
    import keras

    _wrap_init(keras.regularizers.L1, l1=lambda v: 0.001 if v == 0.01 else v)


def judge_row(name: str, exact_only: bool = False) -> dict:
    """Apply one row's patch in this process and judge the exercises it touches (``exact_only``: the
    exact tier alone, minutes instead of half an hour for the whole table)."""
    title, patch, exercises = ROWS[name]
    patch()
    from harness.core.errors import HarnessError
    from harness.experiment import PROFILES, Settings
    from harness.session import Session

    session = Session(Settings(profile=PROFILES["quick"]), artifacts_dir=None, plots=False)
    result = {"row": name, "change": title, "exercises": {}, "exact_only": exact_only}
    try:
        data = session.check_data().problems
    except Exception as exc:  # a row may break the data stage itself: that is a catch too
        data = [f"{type(exc).__name__}: {exc}"]
    result["data"] = data
    for exercise in exercises:
        start = time.perf_counter()
        session.tier = "auto"
        exact_result = session.check_baseline(exercise)
        init = session.check_init(exercise).problems
        session.tier = "statistical"
        try:
            statistical = [] if exact_only else session.check_baseline(exercise).problems
        except HarnessError as exc:  # the tier stopped, in one line: a catch too
            statistical = [f"stopped: {exc}"]
        result["exercises"][exercise] = {
            "exact": {"tier": exact_result.tier, "problems": exact_result.problems},
            "init": init,
            "statistical": statistical,
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(json.dumps({exercise: result["exercises"][exercise]})[:300], file=sys.stderr, flush=True)
    return result


def table(results: list[dict]) -> str:
    """docs/guard.md's Markdown table: caught by the exact tier; caught without it, and by what."""
    lines = ["| injected change | exact tier | without the exact tier |", "| --- | --- | --- |"]
    for r in results:
        exact_hits = [e for e, v in r["exercises"].items() if v["exact"]["tier"] == "exact" and v["exact"]["problems"]]
        exact_cell = ", ".join(f"`{e}`" for e in exact_hits) or "**not caught**"
        other = []
        if r["data"]:
            other.append("data baseline")
        init = [e for e, v in r["exercises"].items() if v["init"]]
        if init:
            other.append("initial weights (" + ", ".join(f"`{e}`" for e in init) + ")")
        for e, v in r["exercises"].items():
            if v["statistical"]:
                what = sorted({_caught_by(p) for p in v["statistical"]})
                other.append(f"`{e}` ({', '.join(what)})")
        missed = "not run (--exact-only)" if r.get("exact_only") else "**not caught**"
        title = ROWS[r["row"]][0] if r["row"] in ROWS else r["change"]  # the title as it reads now
        lines.append(f"| {title} | {exact_cell} | {'; '.join(other) or missed} |")
    return "\n".join(lines)


def _caught_by(problem: str) -> str:
    """A statistical-tier problem, in the table's words: the metric a test flagged, or the check that failed."""
    if problem.startswith("model.fit(shuffle=True)"):
        return "fit's shuffling probe"
    if " side by side no longer trains as its own model.fit" in problem:
        return "the twin"
    if problem.startswith("stopped: "):
        return "stopped: " + problem.split(": ", 2)[1].split(" trained")[0]
    return problem.split(" (")[0].split(":")[0]


def main(argv: list[str]) -> int:
    exact_only = "--exact-only" in argv
    argv = [a for a in argv if a != "--exact-only"]
    out = Path("/tmp/injections-exact" if exact_only else "/tmp/injections")
    out.mkdir(exist_ok=True)
    if len(argv) == 1 and argv[0] in ROWS:
        (out / f"{argv[0]}.json").write_text(json.dumps(judge_row(argv[0], exact_only), indent=1, default=str))
        return 0
    if unknown := [a for a in argv if a not in ROWS]:
        print(f"unknown row(s) {', '.join(unknown)}: choose from {', '.join(ROWS)}", file=sys.stderr)
        return 2
    rows = argv or list(ROWS)
    for name in rows:
        if (out / f"{name}.json").exists():
            continue
        start = time.perf_counter()
        flag = ["--exact-only"] if exact_only else []
        done = subprocess.run([sys.executable, __file__, name, *flag], capture_output=True, text=True)
        status = "ok" if done.returncode == 0 else f"FAILED rc={done.returncode}: {done.stderr[-2000:]}"
        print(f"{name}: {status} ({time.perf_counter() - start:.0f} s)", flush=True)
    results = [json.loads((out / f"{n}.json").read_text()) for n in ROWS if (out / f"{n}.json").exists()]
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))
