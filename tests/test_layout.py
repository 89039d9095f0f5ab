"""The packages' imports flow one way: no module imports, at any depth, one that imports it back,
and no stage imports a stage below it in the data flow.

Every import counts: at module level, inside a function (where a cycle hides until the function
runs), and ``importlib.import_module`` with a constant name.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "experiments")
#: The stages in data-flow order (``harness/__init__.py``): each may import only those before it.
#: ``experiments`` (the course's exercises, as data) sits with the definition stage it fills.
STAGES = (
    "harness.core",
    "harness.data",
    "harness.experiment",
    "experiments",
    "harness.train",
    "harness.measure",
    "harness.firmware",
    "harness.judge",
    "harness.outputs",
    "harness.bench",
    "harness.session",
    "harness.options",
    "harness.plugin",
    "harness.cli",
    "harness.__main__",
)


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``packages`` under ``root``."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (file ``path``) imports, wherever in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # ``from . import training``
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
    return {n for n in names if n in known and n != name}


def cycles(root: Path, packages: tuple[str, ...]) -> list[list[str]]:
    """Each import cycle among ``packages``' modules, as the path that closes it (empty: none)."""
    files = modules(root, packages)
    graph = {name: imported(name, path, set(files)) for name, path in files.items()}
    found, done = [], set()

    def walk(name: str, path: list[str]) -> None:
        if name in path:
            found.append([*path[path.index(name) :], name])
            return
        if name in done:
            return
        for dep in sorted(graph[name]):
            walk(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        walk(name, [])
    return found


def stage_of(module: str, stages: tuple[str, ...]) -> int | None:
    """The index of the stage ``module`` belongs to (``None``: the top-level ``harness`` package itself)."""
    for index, stage in enumerate(stages):
        if module == stage or module.startswith(stage + "."):
            return index
    return None


def upward(root: Path, packages: tuple[str, ...], stages: tuple[str, ...]) -> list[str]:
    """Each import of a later stage by an earlier one, as ``importer -> imported``; a module in no stage is one."""
    files = modules(root, packages)
    found = []
    for name, path in files.items():
        own = stage_of(name, stages)
        if own is None and name not in packages:
            found.append(f"{name}: in no stage")
            continue
        for dep in sorted(imported(name, path, set(files))):
            theirs = stage_of(dep, stages)
            if own is not None and theirs is not None and theirs > own:
                found.append(f"{name} -> {dep}")
    return found


def test_each_stage_imports_only_the_stages_before_it():
    assert upward(ROOT, PACKAGES, STAGES) == []


def test_the_stage_check_sees_an_upward_import(tmp_path):
    """The check above against a package where the first stage imports the second: it must fail."""
    (tmp_path / "pkg" / "low").mkdir(parents=True)
    (tmp_path / "pkg" / "high").mkdir()
    for init in ("pkg", "pkg/low", "pkg/high"):
        (tmp_path / init / "__init__.py").write_text("")
    (tmp_path / "pkg" / "high" / "b.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "low" / "a.py").write_text("def f():\n    from pkg.high import b\n")
    stages = ("pkg.low", "pkg.high")
    assert upward(tmp_path, ("pkg",), stages) == ["pkg.low.a -> pkg.high", "pkg.low.a -> pkg.high.b"]
    (tmp_path / "pkg" / "low" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "high" / "b.py").write_text("from pkg.low import a\n")
    assert upward(tmp_path, ("pkg",), stages) == [], "downward is the data flow"


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(ROOT, PACKAGES) == []


def test_the_walk_finds_a_cycle_hidden_in_a_function_or_behind_importlib(tmp_path):
    """The check above against packages built with a cycle: it must see each kind of import."""
    cases = {
        "function": ("def f():\n    from . import b\n", "from .a import f\n"),
        "importlib": ("import importlib\nimportlib.import_module('pkg.b')\n", "from pkg import a\n"),
        "module level": ("from pkg.b import x\n", "from . import a\nx = 1\n"),
    }
    for kind, (a, b) in cases.items():
        root = tmp_path / kind.replace(" ", "_")
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "__init__.py").write_text("")
        (root / "pkg" / "a.py").write_text(a)
        (root / "pkg" / "b.py").write_text(b)
        assert cycles(root, ("pkg",)) == [["pkg.a", "pkg.b", "pkg.a"]], kind
    (root / "pkg" / "b.py").write_text("x = 1\n")
    assert cycles(root, ("pkg",)) == [], "one way is no cycle"


def unexplained_late_imports(root: Path, packages: tuple[str, ...]) -> list[str]:
    """Imports inside a function whose group carries no comment saying why they wait."""
    found = []
    for name, path in modules(root, packages).items():
        lines = path.read_text().splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            previous_end = None
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    grouped = previous_end is not None and node.lineno == previous_end + 1
                    previous_end = node.end_lineno
                    if not grouped and "#" not in lines[node.lineno - 1]:
                        found.append(f"{name}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def test_each_import_inside_a_function_says_why_it_waits():
    """Keras after the backend choice, an optional or slow library where it is used: each one says which."""
    assert unexplained_late_imports(ROOT, PACKAGES) == []


def test_the_reason_check_sees_a_silent_late_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("def f():\n    import json\n    import os\n")
    assert unexplained_late_imports(tmp_path, ("pkg",)) == ["pkg.a:2: import json"]
    (tmp_path / "pkg" / "a.py").write_text("def f():\n    import json  # why\n    import os\n")
    assert unexplained_late_imports(tmp_path, ("pkg",)) == []


def test_a_plain_install_holds_every_stage(tmp_path):
    """``pip install .`` (not editable) must ship each stage's subpackage: a bare package list once dropped them."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"  # a copy: pip builds in the tree, and a stale build/ there would hide the loss
    for name in PACKAGES:
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheel = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q"]
    built = subprocess.run([*wheel, "-w", str(tmp_path)], cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = {str(path.relative_to(ROOT)) for path in modules(ROOT, PACKAGES).values()}
    assert wanted - shipped == set()


def test_collecting_the_suite_imports_no_keras():
    """``pytest -k adma``, ``--collect-only`` and a bad option answer in seconds: only a test that trains loads
    Keras and its backend (TensorFlow's import alone is ~6 s of CPU), never collection."""
    import subprocess
    import sys

    from run_cli import pythonpath

    script = (
        "import sys, pytest; code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider']);"
        "print('loaded:', *[m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "tests/test_exercises.py::test_baseline[adam]" in done.stdout
    assert done.stdout.splitlines()[-1] == "loaded:", done.stdout.splitlines()[-1]
