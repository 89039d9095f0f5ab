"""The packages' imports flow one way: no module imports, at any depth, one that imports it back.

Every import counts: at module level, inside a function (where a cycle hides until the function
runs), and ``importlib.import_module`` with a constant name.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "experiments")


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
