"""The stages import only downwards: no CLI libraries below nowcast.cli, no torch in nowcast.io.

Each check runs in a fresh interpreter, so modules imported earlier by the test
session cannot hide or fake an import. Every submodule of a stage is imported,
not only its ``__init__``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

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
