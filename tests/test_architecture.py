"""Architecture guards: imports point one way (schemas <- bus <- runtime), facades are honest.

Nothing in the packages imports the example plugins (loaded by path, never imported statically),
the tests or the benchmarks. Inside a package, modules import each other without loops, at the
top of the file, and use nothing private of one another.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
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


# -- inside a package --------------------------------------------------------------------------


def _module_name(path: Path, root: Path) -> str:
    parts = ["hotbus", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path, root: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of the imports that run when ``path`` is imported.

    Imports under ``if TYPE_CHECKING:`` and inside functions run later or never: they are left
    out, as they cannot form an import loop.
    """
    package = ["hotbus", *path.relative_to(root).parent.parts]
    found: list[tuple[int, str, list[str]]] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name, []) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                found.append((node.lineno, module, [alias.name for alias in node.names]))
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body)
    return found


def _import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Each module of ``package`` (under ``root``) with the modules of ``package`` it imports."""
    modules = {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for _, module, names in _runtime_imports(path, root):
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
            if module in modules:
                targets.append(module)
            graph[name].update(t for t in targets if t != name)
    return graph


def _import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others."""
    from hotbus.runtime import find_cycles

    return find_cycles({name: sorted(deps) for name, deps in graph.items()})


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_loop_inside_a_package(package: str) -> None:
    loops = _import_loops(_import_graph(ROOT, package))
    assert loops == [], "import loops:\n" + "\n".join(" -> ".join(loop) for loop in loops)


def test_the_loop_guard_finds_a_loop_through_a_subpackage(tmp_path: Path) -> None:
    (tmp_path / "runtime" / "_reload").mkdir(parents=True)
    (tmp_path / "runtime" / "_reload" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "runtime" / "_runtime.py").write_text(
        "from hotbus.runtime._reload.plan import members\n", encoding="utf-8"
    )
    (tmp_path / "runtime" / "_reload" / "plan.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from hotbus.runtime import _runtime\n"
        "from hotbus.runtime import _runtime as again\n",
        encoding="utf-8",
    )
    assert _import_loops(_import_graph(tmp_path, "runtime")) == [
        ["hotbus.runtime._reload.plan", "hotbus.runtime._runtime", "hotbus.runtime._reload.plan"]
    ]


def _private_uses(root: Path, package: str) -> list[str]:
    """``file:line: what`` for every private name a module takes from another module.

    That is a private name imported from a module of hotbus, or an attribute ``x._name`` that
    the module does not define itself (``other._key`` in the class that sets ``self._key`` is
    its own), read from anything but a module of the standard library (``sys._getframe``).
    """
    found: list[str] = []
    for path in sorted((root / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        foreign = {"self", "cls"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                foreign.update(
                    (alias.asname or alias.name).partition(".")[0]
                    for alias in node.names
                    if not alias.name.startswith("hotbus")
                )
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hotbus"):
                found.extend(
                    f"{path.relative_to(root)}:{node.lineno}: imports {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                    and not alias.name.startswith("__")
                    and not _is_module(node.module or "", alias.name)
                )
        own = _names_defined(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in own
                and not (isinstance(node.value, ast.Name) and node.value.id in foreign)
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno}: uses {ast.unparse(node)}")
    return found


def _names_defined(tree: ast.Module) -> set[str]:
    """Every function, class, attribute and slot name the module defines."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries, dataclass fields by name
    return names


def _is_module(package: str, name: str) -> bool:
    """Whether ``package.name`` is a module (importing a private module is how packages work)."""
    folder = ROOT / Path(*package.split(".")[1:])
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_uses_anything_private_of_another(package: str) -> None:
    assert _private_uses(ROOT, package) == []


def test_the_privacy_guard_names_file_line_and_use(tmp_path: Path) -> None:
    (tmp_path / "runtime").mkdir()
    (tmp_path / "runtime" / "_scheduler.py").write_text(
        "import sys\n"
        "from hotbus.runtime._engine.engine import _TIMEOUT_SETTING\n"
        "def run(runtime, self):\n"
        "    frame = sys._getframe()\n"
        "    self._lock\n"
        "    return runtime._records\n",
        encoding="utf-8",
    )
    assert _private_uses(tmp_path, "runtime") == [
        f"{Path('runtime/_scheduler.py')}:2: imports _TIMEOUT_SETTING",
        f"{Path('runtime/_scheduler.py')}:6: uses runtime._records",
    ]


def _top_level_imports_after_code(path: Path) -> list[int]:
    """Lines of module-level imports that come after other module-level code."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    late: list[int] = []
    code_seen = False
    for node in body:
        is_import = isinstance(node, ast.Import | ast.ImportFrom) or (
            isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        )
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if is_import and code_seen:
            late.append(node.lineno)
        elif not is_import and not is_docstring:
            code_seen = True
    return late


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_come_first_in_every_module(package: str) -> None:
    late = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in _top_level_imports_after_code(path)
    ]
    assert late == []


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


def _documented_api() -> list[str]:
    """The names the README documents as the ``hotbus`` facade."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- api -->\s*```python\s*from hotbus import \(([^)]*)\)", readme)
    assert found is not None, "README.md documents the hotbus facade in a marked block"
    return sorted(name.strip() for name in found.group(1).split(",") if name.strip())


def test_the_hotbus_facade_exports_exactly_its_documented_api() -> None:
    import hotbus

    assert sorted(hotbus.__all__) == _documented_api()


@pytest.mark.parametrize("package", PACKAGES)
def test_all_has_no_duplicates(package: str) -> None:
    names: list[str] = list(importlib.import_module(f"hotbus.{package}").__all__)
    assert sorted({name for name in names if names.count(name) > 1}) == []
