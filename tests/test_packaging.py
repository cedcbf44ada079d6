"""Packaging: what the wheel holds, and hotbus installed the way users install it.

- The wheel holds ``hotbus/`` and its ``.dist-info/`` and nothing else, and every package and
  module of the source folders (``runtime/``, ``bus/``, ``schemas/``) at its mapped path, each
  package with its ``py.typed``. The wheel is built once, by pip, from a copy of the work tree:
  pip builds in the source folder, where setuptools reuses ``build/`` (stale files of an earlier
  build would land in the wheel, and the editable install keeps its links there); the copy
  leaves the repository untouched.
- Installed in a fresh virtualenv beside PyPI's ``schemas``, neither overwrites a file of the
  other, ``pip check`` is clean and hotbus works (import, ``hotbus --help``, ``hotbus check``).
- In a user's project with its own ``schemas`` package, in a second virtualenv: the project's
  tests import their own ``schemas`` and use hotbus's pytest fixtures. A second virtualenv, and
  not the first one, because there the project's ``schemas`` would shadow PyPI's, and a pass
  would not tell whose ``schemas`` hotbus met. Both virtualenvs are made at the same time.
- Importing ``hotbus`` to write a plugin loads neither the command line nor the file watcher.

The virtualenv tests install from the package index (hotbus's dependencies, PyPI's ``schemas``,
pytest): without it they fail, saying so.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "version"
]
#: The source folders installed under ``hotbus``; runtime/_facade is ``hotbus`` itself.
TREES = ("runtime", "bus", "schemas")
FACADE = PurePosixPath("runtime/_facade")

#: Time limits of the subprocesses, in seconds.
BUILD_TIMEOUT = 300.0
VENV_TIMEOUT = 120.0
INSTALL_TIMEOUT = 300.0
COMMAND_TIMEOUT = 60.0

#: Left out of the copy the wheel is built from: at the top, what is no source of the build;
#: anywhere, bytecode, tool caches and virtualenvs.
_NOT_SOURCE_AT_TOP = {".git", ".venv", "build", "dist", "htmlcov", ".hypothesis"}
_NOT_SOURCE = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}

#: The environment of every subprocess: this one, without what would make a subprocess import
#: from elsewhere or configure pytest or coverage as this run does.
_DROPPED = {
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONWARNINGS",
    "VIRTUAL_ENV",
    "COVERAGE_PROCESS_START",
    "COVERAGE_RCFILE",
}
ENV = {
    name: value
    for name, value in os.environ.items()
    if name not in _DROPPED and not name.startswith(("PYTEST_", "COV_CORE_"))
}


# -- subprocesses ------------------------------------------------------------------------------


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _tail(label: str, output: str | bytes | None, lines: int = 40) -> str:
    text = _text(output).rstrip()
    if not text:
        return ""
    return f"\n--- {label} (last {lines} lines) ---\n" + "\n".join(text.splitlines()[-lines:])


def _run(
    args: Sequence[str | Path], *, cwd: Path, timeout: float, what: str
) -> subprocess.CompletedProcess[str]:
    """Run ``args``; fail the test, with its output, if it runs past ``timeout``."""
    command = [str(arg) for arg in args]
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            env=ENV,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(
            f"{what}: `{shlex.join(command)}` ran past {timeout:g} s"
            + _tail("stdout", error.stdout)
            + _tail("stderr", error.stderr),
            pytrace=False,
        )


def _ok(args: Sequence[str | Path], *, cwd: Path, timeout: float, what: str) -> str:
    """Run ``args`` and return its stdout; fail the test, with its output, unless it exits 0."""
    result = _run(args, cwd=cwd, timeout=timeout, what=what)
    if result.returncode != 0:
        pytest.fail(
            f"{what}: `{shlex.join(result.args)}` exited {result.returncode}"
            + _tail("stdout", result.stdout)
            + _tail("stderr", result.stderr),
            pytrace=False,
        )
    return result.stdout


def _python_code(python: Path, code: str, *, cwd: Path, what: str) -> str:
    return _ok([python, "-c", textwrap.dedent(code)], cwd=cwd, timeout=COMMAND_TIMEOUT, what=what)


# -- the wheel ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    source: Path  # the copy of the work tree the wheel was built from
    wheel: Path

    def names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())


def _ignore(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == ROOT
    return {
        name
        for name in names
        if name in _NOT_SOURCE
        or name.endswith((".pyc", ".egg-info"))
        or name.startswith(".coverage")
        or (top and name in _NOT_SOURCE_AT_TOP)
        or (Path(folder, name, "pyvenv.cfg").is_file())  # a virtualenv, such as CI's
    }


def _setuptools_77_here() -> bool:
    """Whether setuptools>=77 (what pyproject.toml requires to build) is importable here."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    try:
        major = importlib.metadata.version("setuptools").split(".")[0]
    except importlib.metadata.PackageNotFoundError:
        return False
    return major.isdigit() and int(major) >= 77


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The wheel of a copy of the work tree, built once for this module."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_ignore)
    command: list[str | Path] = [sys.executable, "-m", "pip", "wheel", "--no-deps"]
    what = "building the wheel"
    if _setuptools_77_here():
        command.append("--no-build-isolation")
    else:
        what += " (pip fetches setuptools>=77 from the package index: is it reachable?)"
    command += ["--disable-pip-version-check", "-w", work / "dist", source]
    _ok(command, cwd=work, timeout=BUILD_TIMEOUT, what=what)
    wheels = sorted((work / "dist").glob("hotbus-*.whl"))
    assert len(wheels) == 1, f"expected one hotbus wheel, pip left {wheels}"
    return Build(source, wheels[0])


def _installed_path(path: PurePosixPath) -> PurePosixPath:
    """Where a file of the source folders lands: runtime/_facade/x -> hotbus/x, bus/x ->
    hotbus/bus/x, runtime/_reload/x -> hotbus/runtime/_reload/x."""
    if path.is_relative_to(FACADE):
        return PurePosixPath("hotbus", path.relative_to(FACADE))
    return PurePosixPath("hotbus", path)


def _source_files(source: Path, pattern: str) -> list[PurePosixPath]:
    """The files matching ``pattern`` in the source folders, relative to ``source``."""
    found = [path for tree in TREES for path in (source / tree).rglob(pattern)]
    assert found, f"no {pattern} under {', '.join(TREES)} of {source}"
    return sorted(PurePosixPath(path.relative_to(source).as_posix()) for path in found)


def _packages(source: Path) -> dict[str, PurePosixPath]:
    """Every package of the source folders (a folder with an __init__.py): its import name, and
    the folder it lands in."""
    found: dict[str, PurePosixPath] = {}
    for init in _source_files(source, "__init__.py"):
        folder = _installed_path(init).parent
        found[".".join(folder.parts)] = folder
    return found


def _listing(paths: Iterable[object]) -> str:
    return "\n".join(f"  {path}" for path in sorted(map(str, paths)))


@pytest.mark.timeout(BUILD_TIMEOUT + 60)
def test_the_wheel_holds_only_hotbus_and_its_dist_info(build: Build) -> None:
    names = build.names()
    dist_info = f"hotbus-{VERSION}.dist-info/"
    assert f"{dist_info}RECORD" in names, f"{build.wheel.name} has no {dist_info}RECORD"
    outside = {name for name in names if not name.startswith(("hotbus/", dist_info))}
    assert not outside, (
        f"{build.wheel.name} installs files outside hotbus/ and {dist_info}:\n" + _listing(outside)
    )


@pytest.mark.timeout(BUILD_TIMEOUT + 60)
def test_every_package_of_the_source_folders_is_in_the_wheel(build: Build) -> None:
    packages = _packages(build.source)
    assert {"hotbus", "hotbus.runtime", "hotbus.bus", "hotbus.schemas"} <= packages.keys()
    names = build.names()
    missing = {name for name, folder in packages.items() if f"{folder}/__init__.py" not in names}
    assert not missing, (
        "packages of the source folders missing from the wheel (list them in "
        "[tool.setuptools] packages of pyproject.toml):\n" + _listing(missing)
    )


@pytest.mark.timeout(BUILD_TIMEOUT + 60)
def test_the_wheel_holds_every_module_at_its_mapped_path_and_no_other(build: Build) -> None:
    expected = {str(_installed_path(path)): path for path in _source_files(build.source, "*.py")}
    in_wheel = {name for name in build.names() if name.endswith(".py")}
    missing = {f"{expected[name]} -> {name}" for name in expected.keys() - in_wheel}
    assert not missing, "modules missing from the wheel:\n" + _listing(missing)
    extra = in_wheel - expected.keys()
    assert not extra, "modules in the wheel that no source file maps to:\n" + _listing(extra)


@pytest.mark.timeout(BUILD_TIMEOUT + 60)
def test_the_wheel_is_marked_typed(build: Build) -> None:
    # One marker in the top-level package covers its subpackages (PEP 561).
    assert "hotbus/py.typed" in build.names()


@pytest.mark.timeout(BUILD_TIMEOUT + 60)
def test_the_wheel_holds_the_dashboards_page_script_and_style(build: Build) -> None:
    assets = {
        str(_installed_path(path))
        for path in _source_files(build.source, "*")
        if "assets" in path.parts and path.suffix in {".html", ".js", ".css"}
    }
    assert {
        "hotbus/runtime/_dashboard/assets/index.html",
        "hotbus/runtime/_dashboard/assets/dashboard.js",
        "hotbus/runtime/_dashboard/assets/dashboard.css",
    } <= assets
    missing = assets - build.names()
    assert not missing, (
        "dashboard assets missing from the wheel (package-data in pyproject.toml):\n"
        + _listing(missing)
    )


def test_the_editable_install_serves_the_dashboards_assets() -> None:
    from importlib import resources

    folder = resources.files("hotbus.runtime._dashboard") / "assets"
    for name in ("index.html", "dashboard.js", "dashboard.css"):
        assert (folder / name).read_bytes(), name


# -- installed in fresh virtualenvs ------------------------------------------------------------


def _venv(where: Path, requirements: Sequence[str | Path]) -> Path:
    """A fresh virtualenv at ``where`` with ``requirements`` installed by its pip: its python."""
    _ok(
        [sys.executable, "-m", "venv", where],
        cwd=where.parent,
        timeout=VENV_TIMEOUT,
        what=f"creating the virtualenv {where.name}",
    )
    python = where / ("Scripts" if os.name == "nt" else "bin") / "python"
    _ok(
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            *requirements,
        ],
        cwd=where.parent,
        timeout=INSTALL_TIMEOUT,
        what=f"{where.name}: installing from the package index (is it reachable?)",
    )
    return python


@dataclass(frozen=True)
class Venvs:
    beside_schemas: Path  # the python of a virtualenv with the wheel and PyPI's schemas
    with_pytest: Path  # the python of one with the wheel, pytest and pytest-asyncio, no schemas


@pytest.fixture(scope="module")
def venvs(build: Build, tmp_path_factory: pytest.TempPathFactory) -> Venvs:
    """Both virtualenvs, made side by side: each mostly waits for pip."""
    where = tmp_path_factory.mktemp("venvs")
    with ThreadPoolExecutor(max_workers=2) as pool:
        beside_schemas = pool.submit(_venv, where / "beside-schemas", [build.wheel, "schemas"])
        with_pytest = pool.submit(
            _venv, where / "with-pytest", [build.wheel, "pytest", "pytest-asyncio"]
        )
        return Venvs(beside_schemas.result(), with_pytest.result())


VENV_TEST_TIMEOUT = BUILD_TIMEOUT + VENV_TIMEOUT + INSTALL_TIMEOUT + 180


_RECORDS = """
import base64, hashlib, importlib.metadata, json, os

found = {}
for name in ("hotbus", "schemas"):
    files = importlib.metadata.distribution(name).files or []
    changed = []
    for file in files:
        if file.hash is None or file.suffix == ".pyc":  # bytecode may be written again
            continue
        digest = hashlib.new(file.hash.mode, file.locate().read_bytes()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != file.hash.value:
            changed.append(str(file))
    found[name] = {"files": [os.path.normpath(file) for file in files], "changed": changed}
print(json.dumps(found))
"""


@pytest.mark.timeout(VENV_TEST_TIMEOUT)
def test_beside_pypi_schemas_no_file_is_shared_and_pip_check_is_clean(
    venvs: Venvs, tmp_path: Path
) -> None:
    python, cwd = venvs.beside_schemas, tmp_path
    records = json.loads(_python_code(python, _RECORDS, cwd=cwd, what="reading RECORDs"))
    hotbus_files = set(records["hotbus"]["files"])
    schemas_files = set(records["schemas"]["files"])
    assert "schemas/__init__.py" in schemas_files, sorted(schemas_files)
    assert "hotbus/schemas/__init__.py" in hotbus_files
    shared = hotbus_files & schemas_files
    assert not shared, "files installed by both hotbus and schemas:\n" + _listing(shared)
    for name in ("hotbus", "schemas"):
        assert records[name]["changed"] == [], f"{name}'s files changed after install"
    _ok(
        [python, "-m", "pip", "check", "--disable-pip-version-check"],
        cwd=cwd,
        timeout=COMMAND_TIMEOUT,
        what="pip check",
    )


_WORKS = """
import asyncio, importlib.util, json, sys
from pathlib import Path

import hotbus, hotbus.bus, hotbus.runtime, hotbus.schemas, hotbus.testing
from hotbus import Bus, Event


class Ping(Event):
    topic = "demo.ping"
    n: int


async def main() -> list[int]:
    bus, got = Bus(), []
    bus.subscribe(Ping, lambda event: got.append(event.n))
    await bus.publish(Ping(n=7))
    return got


assert asyncio.run(main()) == [7]
print(json.dumps({
    "hotbus": [m.__file__ for m in (hotbus, hotbus.bus, hotbus.runtime, hotbus.schemas)],
    "schemas": importlib.util.find_spec("schemas").origin,
    "top_level_schemas_imported": "schemas" in sys.modules,
}))
"""


@pytest.mark.timeout(VENV_TEST_TIMEOUT)
def test_hotbus_works_beside_pypi_schemas(build: Build, venvs: Venvs, tmp_path: Path) -> None:
    python, cwd = venvs.beside_schemas, tmp_path
    site = Path(
        _python_code(
            python,
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=cwd,
            what="finding site-packages",
        ).strip()
    )
    found = json.loads(_python_code(python, _WORKS, cwd=cwd, what="using hotbus"))
    assert [Path(file) for file in found["hotbus"]] == [
        site / "hotbus" / "__init__.py",
        site / "hotbus" / "bus" / "__init__.py",
        site / "hotbus" / "runtime" / "__init__.py",
        site / "hotbus" / "schemas" / "__init__.py",
    ]
    assert Path(found["schemas"]) == site / "schemas" / "__init__.py"  # the top name is PyPI's
    assert found["top_level_schemas_imported"] is False  # hotbus never imports a top-level schemas
    script = python.parent / "hotbus"
    usage = _ok([script, "--help"], cwd=cwd, timeout=COMMAND_TIMEOUT, what="hotbus --help")
    assert "usage" in usage.lower()
    _ok(
        [script, "check", build.source / "plugins"],
        cwd=cwd,
        timeout=COMMAND_TIMEOUT,
        what="hotbus check plugins",
    )


_PROJECT = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        testpaths = ["tests"]
        asyncio_mode = "auto"
        asyncio_default_fixture_loop_scope = "function"
        """,
    "schemas/__init__.py": '''
        """The project's own models."""

        from pydantic import BaseModel

        OWNER = "chatapp"


        class User(BaseModel):
            name: str
            admin: bool = False
        ''',
    "tests/test_app.py": '''
        import sys
        from pathlib import Path

        import hotbus.schemas
        import pytest
        import schemas
        from hotbus import ChatMessage, ChatReply
        from hotbus.testing import Harness, PluginDir
        from schemas import User

        PROJECT = Path(__file__).resolve().parents[1]
        GREETER = """
        from hotbus import ChatMessage, ChatReply, Plugin, subscribe
        from schemas import User


        class Greeter(Plugin):
            name = "greeter"
            version = "1.0.0"

            @subscribe(ChatMessage)
            async def on_message(self, message: ChatMessage) -> None:
                user = User(name=message.user)
                await self.ctx.publish(ChatReply(plugin=self.name, text=f"hello {user.name}"))
        """


        def test_schemas_is_the_projects_own() -> None:
            assert Path(schemas.__file__) == PROJECT / "schemas" / "__init__.py"
            assert schemas.OWNER == "chatapp" and User.__module__ == "schemas"
            assert User(name="ann").model_dump() == {"name": "ann", "admin": False}
            assert "site-packages" in Path(hotbus.schemas.__file__).parts


        def test_the_plugin_comes_from_the_entry_point(request: pytest.FixtureRequest) -> None:
            plugin = request.config.pluginmanager.get_plugin("hotbus")
            assert plugin is not None and plugin.__name__ == "hotbus.testing"


        def test_plugin_dir_fixture(plugin_dir: PluginDir) -> None:
            assert plugin_dir.write("greeter.py", GREETER).read_text() == GREETER


        async def test_hotbus_fixture(plugin_dir: PluginDir, hotbus: Harness) -> None:
            assert hotbus.plugins is plugin_dir
            plugin_dir.write("greeter.py", GREETER)
            runtime = await hotbus.start()
            await runtime.bus.publish(ChatMessage(user="ann", text="hi"))
            reply = await hotbus.wait_for(ChatReply, timeout=10)
            assert reply.text == "hello ann"
            assert sys.modules["schemas"] is schemas and schemas.User is User
        ''',
}


@pytest.mark.timeout(VENV_TEST_TIMEOUT)
def test_a_project_with_its_own_schemas_uses_the_pytest_plugin(
    venvs: Venvs, tmp_path: Path
) -> None:
    project = tmp_path / "chatapp"
    for name, text in _PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    output = _ok(
        [
            venvs.with_pytest,
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            tmp_path / "tmp",
        ],
        cwd=project,
        timeout=COMMAND_TIMEOUT * 2,
        what="the project's tests",
    )
    assert re.search(r"\b4 passed\b", output), output


# -- the API for plugin authors ----------------------------------------------------------------

#: What writing a plugin must not load: the command line (argparse, and hotbus's own modules for
#: it, under runtime/_console), the file watcher (watchdog), the dashboard (its modules under
#: runtime/_dashboard, and its web stack, starlette and uvicorn) and the fleet's NATS client
#: (nats, and hotbus's fleet bridge, under runtime/_fleet).
_AUTHOR_IMPORTS = (
    "import hotbus",
    "from hotbus import Plugin, State, subscribe, Runtime, Bus, Event, ChatMessage, ChatReply",
)
_PROBE = """
import json, sys
{statement}
print(json.dumps(sorted(sys.modules)))
"""


def _heavy(module: str) -> bool:
    top = module.partition(".")[0]
    if top in {"argparse", "watchdog", "starlette", "uvicorn", "nats"}:
        return True
    return top == "hotbus" and any(
        part in module for part in ("_cli", "_console", "_dashboard", "_fleet")
    )


def _importers(importtime: str, modules: Iterable[str]) -> dict[str, str]:
    """``module: importer <- its importer <- ...`` for ``modules``, from ``python -X importtime``
    output, which lists each module after what it imported, indented two spaces deeper."""
    rows: list[tuple[int, str]] = []
    for line in importtime.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            field = line.rsplit("|", 1)[1]
            rows.append(((len(field) - len(field.lstrip()) - 1) // 2, field.strip()))
    chains: dict[str, str] = {}
    for index, (depth, name) in enumerate(rows):
        if name not in modules:
            continue
        chain: list[str] = []
        for later_depth, later in rows[index + 1 :]:
            if later_depth == depth - 1 - len(chain):
                chain.append(later)
        chains[name] = " <- ".join(chain)
    return chains


@pytest.mark.parametrize("statement", _AUTHOR_IMPORTS, ids=["import", "from-import"])
def test_writing_a_plugin_loads_neither_the_command_line_nor_the_watcher(
    statement: str, tmp_path: Path
) -> None:
    code = _PROBE.format(statement=statement)
    result = _run(
        [sys.executable, "-I", "-X", "importtime", "-c", code],
        cwd=tmp_path,
        timeout=COMMAND_TIMEOUT,
        what=statement,
    )
    errors = "\n".join(
        line for line in result.stderr.splitlines() if not line.startswith("import time:")
    )
    assert result.returncode == 0, f"{statement} failed:\n{errors}"
    heavy = [module for module in json.loads(result.stdout) if _heavy(module)]
    chains = _importers(result.stderr, heavy)
    assert not heavy, f"`{statement}` loads what writing a plugin never needs:\n" + "\n".join(
        f"  {module}  (imported by {chains.get(module) or '?'})" for module in heavy
    )


def test_the_dashboard_class_loads_no_web_stack_until_it_serves(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from hotbus import Dashboard\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] in "
        "('starlette', 'uvicorn', 'anyio', 'h11'))))\n"
    )
    result = _run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        timeout=COMMAND_TIMEOUT,
        what="from hotbus import Dashboard",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_facade_exports_the_author_and_host_api() -> None:
    import hotbus

    assert hotbus.__all__ == [
        "Bus",
        "ChatJoined",
        "ChatMessage",
        "ChatParted",
        "ChatReply",
        "Context",
        "Dashboard",
        "Event",
        "HotbusError",
        "Plugin",
        "Runtime",
        "Settings",
        "State",
        "subscribe",
    ]
    assert hotbus.__all__ == sorted(hotbus.__all__)
    assert [name for name in hotbus.__all__ if not hasattr(hotbus, name)] == []


def test_the_testing_module_exports_its_fixtures_and_helpers() -> None:
    import hotbus.testing

    assert hotbus.testing.__all__ == [
        "SAVE_STYLES",
        "Harness",
        "PluginDir",
        "SaveStyle",
        "hotbus",
        "plugin_dir",
    ]
    assert [name for name in hotbus.testing.__all__ if not hasattr(hotbus.testing, name)] == []


def test_the_pytest_plugin_imports_nothing_heavy_until_a_test_uses_it(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "import hotbus.testing\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('hotbus.', 'pydantic',"
        " 'blinker')))))\n"
    )
    result = _run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        timeout=COMMAND_TIMEOUT,
        what="import hotbus.testing",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["hotbus.testing"]
