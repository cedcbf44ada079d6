"""Architecture guards: imports point one way (schemas <- bus <- runtime), facades are honest.

Nothing in the packages imports the example plugins (loaded by path, never imported statically),
the tests or the benchmarks.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "bus", "runtime")
_NEVER = {"plugins", "tests", "bench"}
#: What each package must never import: everything above it.
FORBIDDEN = {"schemas": {"bus", "runtime", *_NEVER}, "bus": {"runtime", *_NEVER}, "runtime": _NEVER}


def _imported_modules(path: Path, root: Path) -> list[tuple[int, str, str]]:
    """``(line, absolute module, statement)`` for every import in ``path``, however nested."""
    package = ["hotbus", *path.relative_to(root).parent.parts]  # installed under hotbus
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, ast.unparse(node)) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module, ast.unparse(node)))
    return found


def _layer(module: str) -> str:
    """The folder a module comes from: ``hotbus.bus._bus`` is ``bus``, ``plugins.x`` ``plugins``."""
    first, _, rest = module.partition(".")
    return rest.partition(".")[0] if first == "hotbus" else first


def _wrong_way_imports(root: Path, package: str) -> list[str]:
    """``file:line: statement`` for every import of ``package`` that points the wrong way."""
    files = sorted((root / package).rglob("*.py"))
    if not files:
        raise AssertionError(f"no Python files under {root / package}")
    return [
        f"{path.relative_to(root)}:{line}: {statement}"
        for path in files
        for line, module, statement in _imported_modules(path, root)
        if _layer(module) in FORBIDDEN[package]
    ]


# -- import direction --------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_nothing_above_it(package: str) -> None:
    wrong = _wrong_way_imports(ROOT, package)
    assert wrong == [], (
        f"{package} may not import {sorted(FORBIDDEN[package])} "
        "(dependencies point schemas <- bus <- runtime):\n" + "\n".join(wrong)
    )


def test_import_guard_names_file_line_and_import(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "_bad.py").write_text(
        "import os\n\nfrom hotbus.bus import Bus\nimport hotbus.runtime._console.cli as cli\n",
        encoding="utf-8",
    )
    assert _wrong_way_imports(tmp_path, "schemas") == [
        f"{Path('schemas/_bad.py')}:3: from hotbus.bus import Bus",
        f"{Path('schemas/_bad.py')}:4: import hotbus.runtime._console.cli as cli",
    ]


def test_import_guard_forbids_runtime_to_import_plugins(tmp_path: Path) -> None:
    (tmp_path / "runtime").mkdir()
    (tmp_path / "runtime" / "_loader.py").write_text(
        "from hotbus.bus import Bus\nimport plugins.dice\n", encoding="utf-8"
    )
    assert _wrong_way_imports(tmp_path, "runtime") == [
        f"{Path('runtime/_loader.py')}:2: import plugins.dice"
    ]


def test_import_guard_sees_nested_and_relative_imports(tmp_path: Path) -> None:
    (tmp_path / "bus" / "inner").mkdir(parents=True)
    (tmp_path / "bus" / "inner" / "_mod.py").write_text(
        "from . import sibling\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ...runtime import Runtime\n"
        "def later():\n"
        "    from hotbus.runtime._console.cli import cli\n",
        encoding="utf-8",
    )
    assert _wrong_way_imports(tmp_path, "bus") == [
        f"{Path('bus/inner/_mod.py')}:4: from ...runtime import Runtime",
        f"{Path('bus/inner/_mod.py')}:6: from hotbus.runtime._console.cli import cli",
    ]


# -- facades -----------------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_exists(package: str) -> None:
    module = importlib.import_module(f"hotbus.{package}")
    assert [name for name in module.__all__ if not hasattr(module, name)] == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_class_and_function_of_the_package_is_in_all(package: str) -> None:
    module = importlib.import_module(f"hotbus.{package}")
    unlisted = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and _layer(getattr(value, "__module__", "")) == package
        and name not in module.__all__
    ]
    assert unlisted == []


@pytest.mark.parametrize("package", PACKAGES)
def test_all_has_no_duplicates(package: str) -> None:
    names: list[str] = list(importlib.import_module(f"hotbus.{package}").__all__)
    assert sorted({name for name in names if names.count(name) > 1}) == []
