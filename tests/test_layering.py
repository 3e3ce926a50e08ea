"""The stages import only downwards: no CLI libraries below nowcast.cli, no torch in nowcast.io.

The library checks run in a fresh interpreter, so modules imported earlier by the test
session cannot hide or fake an import. Every submodule of a stage is imported,
not only its ``__init__``.

The AST check reads every import statement under ``nowcast/`` (inside functions too, relative
ones resolved) and enforces (a) the layer order :data:`ORDER`, (b) no cycles between packages
and (c) three extra rules: verification imports nothing from training, data imports no reader
module, and one reader does not import another.
"""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARY = (
    "nowcast.io",
    "nowcast.data",
    "nowcast.models",
    "nowcast.training",
    "nowcast.forecasting",
    "nowcast.verification",
)
CLI_ONLY = {"typer", "rich"}


def _imported_after(packages: Sequence[str]) -> set[str]:
    """Top-level names in ``sys.modules`` after importing ``packages`` and all their modules."""
    code = f"""
import importlib, json, pkgutil, sys
for name in {list(packages)!r}:
    package = importlib.import_module(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(info.name)
print(json.dumps(sorted({{module.split(".")[0] for module in sys.modules}})))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_library_stages_do_not_import_cli_libraries() -> None:
    # Importing every stage at once gives the union of their imports: if typer
    # and rich are absent from it, no single stage imports them.
    imported = _imported_after(LIBRARY)
    assert {"nowcast", "torch", "netCDF4"} <= imported
    assert not imported & CLI_ONLY, f"library stages import {sorted(imported & CLI_ONLY)}"


def test_io_does_not_import_torch() -> None:
    imported = _imported_after(["nowcast.io"])
    assert "netCDF4" in imported and "h5py" in imported
    assert "torch" not in imported and not imported & CLI_ONLY


def test_the_check_sees_imports_of_the_cli() -> None:
    assert CLI_ONLY <= _imported_after(["nowcast.cli"])


# --- The AST check: every import statement under nowcast/, whether or not it runs. ---

#: The layers, low to high: a module may import its own layer and lower ones. A layer is a
#: sub-package or a module directly in ``nowcast/`` (``config_resolve`` merges config and
#: presets); ``api`` is the Python API (``nowcast/api*``); ``nowcast/__main__.py`` is ``cli``.
ORDER = (
    "errors",
    "config",
    "presets",
    "config_resolve",
    "io",
    "synthetic",
    "plotting",
    "data",
    "motion",
    "models",
    "training",
    "forecasting",
    "verification",
    "api",
    "cli",
)
READERS = "nowcast.io.readers"
#: Modules of nowcast.io.readers that every reader may import; any other is one reader (a
#: module, or a sub-package such as ``cf`` whose modules import each other).
SHARED_READER_HELPERS = frozenset({"registry", "hdf5", "zr"})


@dataclass(frozen=True)
class Import:
    """One import of a nowcast module: dotted names of the importer and of what it imports."""

    importer: str
    target: str
    where: str


def _modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under ``root/nowcast`` (a package is its __init__)."""
    found: dict[str, Path] = {}
    for path in sorted((root / "nowcast").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(root: Path) -> list[Import]:
    """Every import of a nowcast module, at any depth (inside functions too).

    ``from package import name`` imports the module ``package.name`` when there is one, else
    ``package`` itself; relative imports are resolved against the importer's package.
    """
    modules = _modules(root)
    found: list[Import] = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, package)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            else:
                continue
            where = f"{path.relative_to(root)}:{node.lineno}"
            found += [
                Import(name, t, where)
                for t in dict.fromkeys(targets)
                if t.split(".")[0] == "nowcast"
            ]
    return found


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The absolute name of the module that ``from ... import`` reads from, in ``package``."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    parts = parts[: len(parts) + 1 - node.level]
    return ".".join([*parts, node.module] if node.module else parts)


def _layer(module: str) -> str | None:
    """The layer of ``module``; None for the package ``nowcast`` itself (its __init__)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    if parts[1] == "__main__":
        return "cli"
    return "api" if parts[1].startswith("api") else parts[1]


def _reader(module: str) -> str | None:
    """The reader that ``module`` is part of; None outside the readers and for shared helpers."""
    if not module.startswith(READERS + "."):
        return None
    first = module[len(READERS) + 1 :].split(".")[0]
    return None if first in SHARED_READER_HELPERS else first


def _rule_problems(found: Import) -> list[str]:
    """Rules (a) and (c): the layer order and the three extra rules, for one import.

    The package ``nowcast`` itself is outside the order: Python runs its __init__ before any
    of its modules, so importing it (``__version__``) adds nothing, and what the __init__
    imports is checked by the cycle rule instead.
    """
    low, high = _layer(found.importer), _layer(found.target)
    problems = [
        f"{m} is in no layer of ORDER"
        for m, lay in ((found.importer, low), (found.target, high))
        if lay is not None and lay not in ORDER
    ]
    if problems or low is None or high is None:
        return [f"{found.where}: {p}" for p in problems]
    if ORDER.index(high) > ORDER.index(low):
        problems.append(f"{low} imports {found.target}, of the higher layer {high}")
    if low == "verification" and high == "training":
        problems.append(f"verification imports {found.target} from training")
    if low == "data" and (found.target + ".").startswith(READERS + "."):
        problems.append(f"data imports the reader module {found.target}")
    mine, theirs = _reader(found.importer), _reader(found.target)
    if mine and theirs and mine != theirs:
        problems.append(f"reader {mine} imports reader {theirs} ({found.target})")
    return [f"{found.where}: {p}" for p in problems]


def _node(module: str, modules: Mapping[str, Path]) -> str:
    """The cycle graph's node of ``module``: its package, or itself when it is a package.

    Each module directly in ``nowcast/`` (errors, config, ...) is a layer of its own, so it is
    its own node too.
    """
    path = modules.get(module)
    if (path is not None and path.name == "__init__.py") or module.count(".") < 2:
        return module
    return module.rpartition(".")[0]


def _cycle_problems(root: Path, found: list[Import]) -> list[str]:
    """Rule (b): one line per cycle between packages, with the imports that close it."""
    modules = _modules(root)
    edges: dict[str, dict[str, Import]] = {}
    for imp in found:
        start, end = _node(imp.importer, modules), _node(imp.target, modules)
        if start != end:
            edges.setdefault(start, {}).setdefault(end, imp)
    problems: list[str] = []
    seen: set[str] = set()
    for node in sorted(edges):
        path = _path_back(node, edges)
        if path and node not in seen:
            seen |= set(path)
            steps = [edges[a][b] for a, b in itertools.pairwise(path)]
            problems.append(
                "cycle "
                + " -> ".join(path)
                + ": "
                + "; ".join(f"{s.where} imports {s.target}" for s in steps)
            )
    return problems


def _path_back(node: str, edges: Mapping[str, Mapping[str, Import]]) -> list[str]:
    """The shortest path of packages from ``node`` back to itself; empty when there is none."""
    paths = {node: [node]}
    queue = [node]
    for current in queue:
        for nxt in sorted(edges.get(current, {})):
            if nxt == node:
                return [*paths[current], node]
            if nxt not in paths:
                paths[nxt] = [*paths[current], nxt]
                queue.append(nxt)
    return []


def layering_problems(root: Path = REPO) -> list[str]:
    """Every breach of rules (a), (b) and (c) in ``root/nowcast``, one line each."""
    found = _imports(root)
    return [p for imp in found for p in _rule_problems(imp)] + _cycle_problems(root, found)


def test_imports_follow_the_layers_without_cycles() -> None:
    assert layering_problems() == []


def test_the_shared_reader_helpers_exist() -> None:
    # A helper that was renamed or moved would otherwise stay exempt under its old name.
    readers = REPO / "nowcast" / "io" / "readers"
    assert all((readers / f"{name}.py").is_file() for name in SHARED_READER_HELPERS)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"io/a.py": "from nowcast.data import b\n", "data/b.py": ""}, "of the higher layer data"),
        ({"io/a.py": "def f():\n    from ..cli import c\n", "cli/c.py": ""}, "higher layer cli"),
        ({"config.py": "import nowcast.presets\n", "presets.py": ""}, "higher layer presets"),
        ({"extra/a.py": "from nowcast import errors\n", "errors.py": ""}, "in no layer"),
        (
            {"io/x/a.py": "from ..y import b\n", "io/y/b.py": "from nowcast.io.x import a\n"},
            "cycle",
        ),
        (
            {
                "__init__.py": "from nowcast.cli import main\n",
                "cli/__init__.py": "import nowcast\n",
            },
            "cycle",
        ),
        (
            {"verification/a.py": "from nowcast.training.b import f\n", "training/b.py": ""},
            "training",
        ),
        (
            {
                "data/a.py": "from nowcast.io.readers import registry\n",
                "io/readers/registry.py": "",
            },
            "data imports",
        ),
        ({"io/readers/knmi.py": "from . import odim\n", "io/readers/odim.py": ""}, "reader knmi"),
        (
            {
                "io/readers/cf/a.py": "from nowcast.io.readers.knmi import K\n",
                "io/readers/knmi.py": "",
            },
            "reader cf",
        ),
        (
            {
                "io/readers/cf/a.py": "from . import b\n",
                "io/readers/cf/b.py": "from .. import zr\n",
                "io/readers/zr.py": "",
            },
            None,
        ),
        (
            {
                "io/writers/a.py": "from nowcast import __version__\n",
                "__main__.py": "import nowcast.cli\n",
                "cli/c.py": "",
            },
            None,
        ),
    ],
)
def test_the_check_reports_each_kind_of_breach(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    for name, code in {"__init__.py": "", **files}.items():
        path = tmp_path / "nowcast" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    problems = layering_problems(tmp_path)
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems
