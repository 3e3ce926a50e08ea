"""Every import is declared: a fresh virtual environment installs all that the code needs.

``nowcast/`` may import the standard library and ``[project].dependencies``; a package of an
optional extra only inside ``try: ... except ImportError`` whose handler names the extra (the
install hint the user sees). ``tests/`` may also import the ``test`` extra. Import names are
mapped to distributions with :func:`importlib.metadata.packages_distributions` (``cv2`` is
``opencv-python-headless``); a name that is not installed here (``tomli`` on Python 3.11) is
taken as its own distribution name. Imports inside functions count too.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


def _distribution(requirement: str) -> str:
    """The normalised distribution name of a PEP 508 requirement ('tomli; python_version...')."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return _normalise(match.group(1))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


DEPENDENCIES = {_distribution(r) for r in PROJECT["dependencies"]}
EXTRAS = {
    extra: {_distribution(r) for r in requirements}
    for extra, requirements in PROJECT["optional-dependencies"].items()
}


@cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def _distributions_of(module: str) -> set[str]:
    """Distributions that provide top-level ``module`` (itself, when it is not installed here)."""
    found = _installed().get(module)
    return {_normalise(d) for d in found} if found else {_normalise(module)}


def _handler_names_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any(isinstance(n, ast.Name) and n.id in IMPORT_ERRORS for n in names)


def _imports(tree: ast.AST) -> Iterator[tuple[str, ast.Try | None, int]]:
    """(top-level module, the try guarding it against ImportError or None, line) of each import."""
    guards: dict[int, ast.Try] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_handler_names_import_error(h) for h in node.handlers):
            for statement in node.body:
                for inner in ast.walk(statement):
                    guards[id(inner)] = node
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            yield name.split(".")[0], guards.get(id(node)), node.lineno


def _local_modules(folder: Path) -> set[str]:
    return {p.stem for p in folder.rglob("*.py")} | {
        p.name for p in folder.rglob("*") if p.is_dir()
    }


def _undeclared(folder: str, allowed: set[str]) -> list[str]:
    """'file:line module (distributions)' for each import outside ``allowed`` and the extras."""
    local = {"nowcast", "tests"} | _local_modules(REPO / folder)
    problems = []
    for path in sorted((REPO / folder).rglob("*.py")):
        source = path.read_text()
        for module, guard, line in _imports(ast.parse(source)):
            if module in sys.stdlib_module_names or module in local:
                continue
            provided = _distributions_of(module)
            if provided & allowed:
                continue
            where = f"{path.relative_to(REPO)}:{line} {module} ({', '.join(sorted(provided))})"
            extras = [e for e, members in EXTRAS.items() if provided & members]
            if not extras:
                problems.append(f"{where}: not declared in pyproject.toml")
            elif guard is None:
                problems.append(f"{where}: extra {extras} imported outside try/except ImportError")
            elif not _handler_hints(source, guard, extras):
                problems.append(f"{where}: the ImportError handler names none of {extras}")
    return problems


def _handler_hints(source: str, guard: ast.Try, extras: list[str]) -> bool:
    """Whether the except clauses (their code and comments) name one of ``extras``."""
    lines = source.splitlines()
    handler_text = "\n".join(
        "\n".join(lines[h.lineno - 1 : (h.end_lineno or h.lineno)]) for h in guard.handlers
    )
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", handler_text))
    constants = "\n".join(line for line in lines if any(line.startswith(f"{n} =") for n in named))
    return any(extra in handler_text + constants for extra in extras)


def test_package_imports_only_its_declared_dependencies() -> None:
    assert _undeclared("nowcast", DEPENDENCIES) == []


def test_tests_import_only_dependencies_and_the_test_extra() -> None:
    assert _undeclared("tests", DEPENDENCIES | EXTRAS["test"]) == []


def test_tomli_is_declared_for_python_3_10() -> None:
    # config.py reads TOML with tomllib, which Python 3.10 lacks.
    markers = [r for r in PROJECT["dependencies"] if _distribution(r) == "tomli"]
    assert markers and "python_version" in markers[0] and "3.11" in markers[0]


@pytest.mark.parametrize(
    ("code", "allowed", "expected"),
    [
        ("import not_a_real_package\n", set(), "not declared"),
        ("import pysteps\n", set(), "outside try/except ImportError"),
        ("try:\n    import pysteps\nexcept ImportError:\n    pass\n", set(), "names none of"),
        ("try:\n    import pysteps\nexcept ImportError:  # baselines\n    pass\n", set(), None),
        ("def f():\n    import numpy\n", set(), "not declared"),
        ("import numpy\n", {"numpy"}, None),
    ],
)
def test_the_check_catches_undeclared_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, allowed: set[str], expected: str
) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "mod.py").write_text(code)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    monkeypatch.setitem(EXTRAS, "baselines", {"pysteps"})
    problems = _undeclared("pkg", allowed)
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems
