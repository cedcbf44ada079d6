"""Discovery and loading: what is a plugin, where its code runs, and how failures are reported."""

from __future__ import annotations

import json
import os
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hotbus.runtime import NAMESPACE
from hotbus.runtime._loading.loader import load, precompile, source_for
from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import Phase, PluginFailed, PluginState, SourceKind

from tests.runtime import events
from tests.runtime.helpers import MakeRuntime, failures, plugin_source

# -- what is a plugin --------------------------------------------------------------------------


async def test_a_single_file_module_is_a_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    assert [(r.name, r.kind, r.state) for r in runtime.status()] == [
        ("dice", SourceKind.MODULE, PluginState.ACTIVE)
    ]


async def test_a_package_directory_is_a_plugin_importing_its_helper_relatively(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice/helper.py", "FACES = 6\n")
    plugin_dir.write(
        "dice/__init__.py",
        plugin_source(
            "dice",
            header="from . import helper",
            body="""
                async def setup(self) -> None:
                    events.note(f"faces {helper.FACES}")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    assert (runtime.status()[0].kind, events.JOURNAL) == (SourceKind.PACKAGE, ["faces 6"])


async def test_a_module_plugin_imports_a_sibling_helper_relatively(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice_tables.py", "FACES = 20\n")
    plugin_dir.write(
        "dice.py",
        plugin_source(
            "dice",
            header="from . import dice_tables",
            body="""
                async def setup(self) -> None:
                    events.note(f"faces {dice_tables.FACES}")
            """,
        ),
    )
    runtime = make_runtime()
    await runtime.start()
    assert events.JOURNAL == ["faces 20"]


HELPERS = {
    "plain": "FACES = 20\n",
    "mentions-plugin": """
        from hotbus import Plugin

        def is_plugin(obj: object) -> bool:
            return isinstance(obj, Plugin)
    """,
}


@pytest.mark.parametrize("helper", HELPERS.values(), ids=HELPERS.keys())
async def test_a_module_defining_no_plugin_is_not_in_status(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, helper: str
) -> None:
    plugin_dir.write("dice_tables.py", helper)
    plugin_dir.write("dice.py", plugin_source("dice", header="from . import dice_tables"))
    runtime = make_runtime()
    await runtime.start()
    assert [row.name for row in runtime.status()] == ["dice"]


@pytest.mark.parametrize("helper", HELPERS.values(), ids=HELPERS.keys())
async def test_a_module_defining_no_plugin_is_no_failure(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, helper: str
) -> None:
    plugin_dir.write("dice_tables.py", helper)
    runtime = make_runtime()
    with runtime.bus.record(PluginFailed) as recorded:
        await runtime.start()
    assert recorded.events == []


async def test_a_module_without_the_word_plugin_is_not_even_discovered(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice_tables.py", HELPERS["plain"])
    runtime = make_runtime()
    with runtime.bus.record("hotbus.plugin.>") as recorded:
        await runtime.start()
    assert recorded.events == []


async def test_a_module_defining_two_plugins_fails_naming_both(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        """
        from hotbus import Plugin

        class Dice(Plugin):
            name = "dice"
            version = "1.0.0"

        class Coin(Plugin):
            name = "coin"
            version = "1.0.0"
        """,
    )
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.VALIDATE
    assert "Dice and Coin" in failure.error.message


async def test_a_plugin_deriving_from_an_aliased_plugin_base_is_discovered(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write(
        "dice.py",
        """
        from hotbus import Plugin as BasePlugin

        class Dice(BasePlugin):
            name = "dice"
            version = "1.0.0"
        """,
    )
    runtime = make_runtime()
    await runtime.start()
    assert [(row.name, row.state) for row in runtime.status()] == [("dice", PluginState.ACTIVE)]


async def test_a_second_plugin_declaring_a_taken_name_fails_at_validate_naming_the_first(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    first = plugin_dir.write("a_dice.py", plugin_source("dice"))
    plugin_dir.write("b_dice.py", plugin_source("dice"))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "b_dice")
    assert failure.phase is Phase.VALIDATE
    assert f"plugin name 'dice' is already taken by {first.resolve()}" in failure.error.message


CHAT_BASE = """
    from hotbus import Plugin

    class ChatPlugin(Plugin):  # the shared base of the chat plugins
        def reply(self, text: str) -> str:
            return f"{self.name}: {text}"
"""
DICE_ON_CHAT_BASE = """
    from .chat_base import ChatPlugin

    class Dice(ChatPlugin):
        name = "dice"
        version = "1.0.0"
"""


async def test_a_plugin_deriving_from_a_base_class_in_a_helper_is_discovered(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("chat_base.py", CHAT_BASE)
    plugin_dir.write("dice.py", DICE_ON_CHAT_BASE)
    runtime = make_runtime()
    await runtime.start()
    assert [(row.name, row.state) for row in runtime.status() if row.name == "dice"] == [
        ("dice", PluginState.ACTIVE)
    ]


# -- where plugin code runs ------------------------------------------------------------------------


async def test_a_plugin_file_named_json_does_not_replace_the_standard_library_json(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("json.py", plugin_source("json"))
    runtime = make_runtime()
    await runtime.start()
    assert runtime.status()[0].state is PluginState.ACTIVE
    assert sys.modules["json"] is json
    assert json.dumps({"faces": 6}) == '{"faces": 6}'


async def test_an_edit_keeping_size_and_mtime_runs_the_new_code_on_reload(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    body = """
        async def setup(self) -> None:
            events.note("code A")
    """
    path = plugin_dir.write("dice.py", plugin_source("dice", body=body))
    before = path.stat()
    runtime = make_runtime(hot_patch=False)  # the reload runs setup again: its code shows
    await runtime.start()
    plugin_dir.write("dice.py", plugin_source("dice", body=body.replace("code A", "code B")))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    await runtime.reload("dice")
    assert [entry for entry in events.JOURNAL if entry.startswith("code")] == ["code A", "code B"]


async def test_a_plugin_file_created_after_discovery_is_found_by_load(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    path = plugin_dir.write("coin.py", plugin_source("coin"))
    assert await runtime.load(path) == "coin"
    assert runtime.plugin("coin").name == "coin"


async def test_the_files_a_plugin_owns_include_the_helpers_it_imported(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    helper = plugin_dir.write("dice_tables.py", "FACES = 20\n")
    main = plugin_dir.write("dice.py", plugin_source("dice", header="from . import dice_tables"))
    runtime = make_runtime()
    await runtime.start()
    assert runtime.files() == {main.resolve(): ["dice"], helper.resolve(): ["dice"]}


async def test_a_helper_imported_by_two_plugins_is_owned_by_both(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    helper = plugin_dir.write("dice_tables.py", "FACES = 20\n")
    plugin_dir.write("coin.py", plugin_source("coin", header="from . import dice_tables"))
    plugin_dir.write("dice.py", plugin_source("dice", header="from . import dice_tables"))
    runtime = make_runtime()
    await runtime.start()
    assert sorted(runtime.files()[helper.resolve()]) == ["coin", "dice"]


async def test_status_lists_the_files_a_plugin_owns(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    helper = plugin_dir.write("dice/helper.py", "FACES = 6\n")
    main = plugin_dir.write(
        "dice/__init__.py", plugin_source("dice", header="from . import helper")
    )
    runtime = make_runtime()
    await runtime.start()
    assert runtime.status()[0].files == sorted([main.resolve(), helper.resolve()])


def _modules_under(package: str) -> list[str]:
    return sorted(n for n in sys.modules if n == package or n.startswith(package + "."))


async def test_unload_purges_every_module_of_the_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice_tables.py", "FACES = 20\n")
    plugin_dir.write("dice.py", plugin_source("dice", header="from . import dice_tables"))
    runtime = make_runtime()
    await runtime.start()
    generation = type(runtime.plugin("dice")).__module__.rsplit(".", 1)[0]
    assert generation.startswith(NAMESPACE + ".")
    assert len(_modules_under(generation)) == 3  # the generation, dice and dice_tables
    await runtime.unload("dice")
    assert _modules_under(generation) == []


# -- failures carry file and line and name the plugin ----------------------------------------------


def _line_of(path: Path, text: str) -> int:
    """The number of the first line of ``path`` containing ``text``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


async def test_a_syntax_error_fails_at_compile_with_file_and_line(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write(
        "dice.py",
        """
        from hotbus import Plugin

        class Dice(Plugin):
            name = "dice"
            version = "1.0.0"

            def broken(:
                pass
        """,
    )
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert (failure.phase, failure.error.file, failure.error.line) == (
        Phase.COMPILE,
        path.resolve(),
        _line_of(path, "def broken(:"),
    )


async def test_an_exception_at_import_fails_at_import_with_file_and_line(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write(
        "dice.py",
        """
        from hotbus import Plugin

        class Dice(Plugin):
            name = "dice"
            version = "1.0.0"

        raise RuntimeError("no dice today")
        """,
    )
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert (failure.phase, failure.error.message, failure.error.file, failure.error.line) == (
        Phase.IMPORT,
        "no dice today",
        path.resolve(),
        _line_of(path, "raise RuntimeError"),
    )


async def test_a_syntax_error_in_a_helper_fails_the_plugin_at_compile_naming_the_helper(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    helper = plugin_dir.write("dice_tables.py", "FACES = 20\nSIDES = = 6\n")
    plugin_dir.write("dice.py", plugin_source("dice", header="from . import dice_tables"))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert (failure.phase, failure.error.file, failure.error.line) == (
        Phase.COMPILE,
        helper.resolve(),
        _line_of(helper, "SIDES = = 6"),
    )


async def test_a_nul_byte_fails_at_compile_naming_the_file_its_line_and_the_fix(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write("dice.py", plugin_source("dice"))
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"x = 1\0\0"
    path.write_bytes(b"\n".join(lines))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert (failure.phase, failure.error.type, failure.error.file, failure.error.line) == (
        Phase.COMPILE,
        "SyntaxError",
        path.resolve(),
        3,
    )
    assert "save it as UTF-8 text" in failure.error.message


async def test_a_nul_byte_in_a_helper_names_the_helper(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    helper = plugin_dir.write("dice_tables.py", "FACES = 20\n")
    helper.write_bytes(b"FACES = 20\nSIDES = 6\0\n")
    plugin_dir.write("dice.py", plugin_source("dice", header="from . import dice_tables"))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert (failure.phase, failure.error.file, failure.error.line) == (
        Phase.COMPILE,
        helper.resolve(),
        2,
    )


async def test_an_absolute_import_of_a_sibling_says_to_import_it_relatively(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice_tables.py", "FACES = 20\n")
    path = plugin_dir.write("dice.py", plugin_source("dice", header="import dice_tables"))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.IMPORT
    assert "write 'from . import dice_tables'" in failure.error.message
    assert (failure.error.type, failure.error.file, failure.error.line) == (
        "hotbus.schemas.PluginLoadError",
        path.resolve(),
        _line_of(path, "import dice_tables"),
    )


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ('name = "Dice!"\nversion = "1.0.0"', "(got 'Dice!')"),
        ('name = "dice"\nversion = "one"', "'one' is not a semantic version"),
        (
            'name = "dice"\nversion = "1.0.0"\ndef setup(self) -> None: ...',
            "setup must be a coroutine function: write 'async def setup'",
        ),
        ('name = "dice"', "declares no version"),
        ('version = "1.0.0"', "declares no name"),
        ('name = "dice"\nversion = "1.0.0"\nrequires = ("dice",)', "requires itself"),
    ],
    ids=["bad-name", "bad-version", "sync-setup", "no-version", "no-name", "requires-itself"],
)
async def test_an_invalid_declaration_fails_at_validate_saying_what_is_wrong(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, declaration: str, message: str
) -> None:
    indented = "\n".join("    " + line for line in declaration.splitlines())
    plugin_dir.write(
        "dice.py", f"from hotbus.runtime import Plugin\n\nclass Dice(Plugin):\n{indented}\n"
    )
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.VALIDATE
    assert message in failure.error.message


async def test_sys_exit_at_import_fails_only_that_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("coin.py", plugin_source("coin"))
    plugin_dir.write("dice.py", plugin_source("dice", header="import sys\nsys.exit(3)"))
    runtime = make_runtime()
    with runtime.bus.record() as recorded:
        try:
            await runtime.start()
        except SystemExit as exit_:  # a failing test, not a dead test session
            pytest.fail(f"sys.exit({exit_.code}) in a plugin module escaped Runtime.start()")
    assert [(f.plugin, f.phase) for f in recorded.of(PluginFailed)] == [("dice", Phase.IMPORT)]
    assert runtime.plugin("coin").name == "coin"


# -- compiling ahead -----------------------------------------------------------------------------


def _holds(code: types.CodeType, inner: types.CodeType) -> bool:
    """Whether ``inner`` is ``code`` or one of the code objects compiled within it."""
    return code is inner or any(
        isinstance(const, types.CodeType) and _holds(const, inner) for const in code.co_consts
    )


def test_a_load_executes_the_code_compiled_ahead_for_the_same_bytes(
    plugin_dir: PluginDir,
) -> None:
    path = plugin_dir.write("dice.py", plugin_source("dice")).resolve()
    source = source_for(path)
    assert source is not None
    ahead = precompile(path)
    assert ahead is not None
    loaded = load(source)
    assert loaded is not None
    try:
        assert _holds(ahead, loaded.plugin_class.setup.__code__)
    finally:
        loaded.release()


def test_a_load_compiles_bytes_that_changed_since_they_were_compiled_ahead(
    plugin_dir: PluginDir,
) -> None:
    path = plugin_dir.write("dice.py", plugin_source("dice", header="FACES = 6")).resolve()
    source = source_for(path)
    assert source is not None
    ahead = precompile(path)
    assert ahead is not None
    plugin_dir.write("dice.py", plugin_source("dice", header="FACES = 20"))
    loaded = load(source)
    assert loaded is not None
    try:
        assert (loaded.module.FACES, _holds(ahead, loaded.plugin_class.setup.__code__)) == (
            20,
            False,
        )
    finally:
        loaded.release()


def test_compiling_ahead_a_file_that_does_not_compile_leaves_it_to_the_load(
    plugin_dir: PluginDir,
) -> None:
    path = plugin_dir.write("dice.py", "SIDES = = 6\n").resolve()
    assert precompile(path) is None


# -- entry points --------------------------------------------------------------------------------


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution ``demo-ep-plugin`` installed in a directory on ``sys.path``, declaring the
    entry point ``demo = demo_ep_plugin:Demo`` in the ``hotbus.plugins`` group."""
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "demo_ep_plugin.py").write_text(plugin_source("demo"), encoding="utf-8")
    info = site / "demo_ep_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: demo-ep-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[hotbus.plugins]\ndemo = demo_ep_plugin:Demo\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("demo_ep_plugin", None)


@pytest.mark.usefixtures("installed_plugin")
async def test_an_entry_point_of_an_installed_distribution_is_a_plugin(
    make_runtime: MakeRuntime,
) -> None:
    runtime = make_runtime(entry_points=True)
    await runtime.start()
    assert [(r.name, r.kind, r.state) for r in runtime.status()] == [
        ("demo", SourceKind.ENTRY_POINT, PluginState.ACTIVE)
    ]


#: Installs a distribution declaring ``broken = <value>``, its module ``broken_ep_plugin.py``
#: holding the given source; returns the module file.
Install = Callable[[str, str], Path]


@pytest.fixture
def install_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Install, in a directory on ``sys.path``, a distribution ``broken-ep-plugin`` whose
    entry point ``broken`` has the value given, and whose module has the source given."""
    site = tmp_path / "site-packages"
    site.mkdir()

    def install(value: str, module_source: str) -> Path:
        module = site / "broken_ep_plugin.py"
        module.write_text(module_source, encoding="utf-8")
        helper = site / "broken_ep_helper.py"
        helper.write_text("def connect():\n    raise ConnectionError('no server')\n")
        info = site / "broken_ep_plugin-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: broken-ep-plugin\nVersion: 1.0\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[hotbus.plugins]\nbroken = {value}\n", encoding="utf-8"
        )
        monkeypatch.syspath_prepend(str(site))
        return module

    yield install
    for name in ("broken_ep_plugin", "broken_ep_helper"):
        sys.modules.pop(name, None)


async def start_with_entry_points(make_runtime: MakeRuntime) -> PluginFailed:
    """Start a runtime with entry points; the one failure of ``broken``."""
    runtime = make_runtime(entry_points=True)
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "broken")
    return failure


async def test_an_entry_point_whose_module_raises_names_it_and_the_users_line(
    install_broken: Install, make_runtime: MakeRuntime
) -> None:
    module = install_broken(
        "broken_ep_plugin:Broken",
        plugin_source("broken", header="from broken_ep_helper import connect\nconnect()"),
    )
    failure = await start_with_entry_points(make_runtime)
    helper = module.with_name("broken_ep_helper.py")
    assert (failure.phase, failure.error.file, failure.error.line) == (Phase.IMPORT, helper, 2)
    assert "entry point broken = broken_ep_plugin:Broken" in failure.error.message
    assert "ConnectionError: no server" in failure.error.message


async def test_an_entry_point_whose_module_imports_what_is_missing_names_the_import(
    install_broken: Install, make_runtime: MakeRuntime
) -> None:
    module = install_broken(
        "broken_ep_plugin:Broken",
        plugin_source("broken", header="import hotbus_tests_not_installed"),
    )
    failure = await start_with_entry_points(make_runtime)
    assert (failure.error.file, failure.error.line) == (
        module,
        _line_of(module, "import hotbus_tests_not_installed"),
    )
    assert "ModuleNotFoundError" in failure.error.message


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("broken_ep_plugin:Nothing", "point the entry point at your Plugin class"),
        ("broken_ep_nowhere:Broken", "install the distribution that provides it"),
    ],
    ids=["missing_attribute", "missing_module"],
)
async def test_an_entry_point_whose_target_does_not_exist_names_its_declaration(
    install_broken: Install, make_runtime: MakeRuntime, value: str, fix: str
) -> None:
    module = install_broken(value, plugin_source("broken"))
    failure = await start_with_entry_points(make_runtime)
    declared = module.with_name("broken_ep_plugin-1.0.dist-info") / "entry_points.txt"
    assert (failure.phase, failure.error.file, failure.error.line) == (Phase.IMPORT, declared, 2)
    assert f"entry point broken = {value}" in failure.error.message
    assert fix in failure.error.message


@pytest.mark.usefixtures("installed_plugin")
async def test_entry_points_are_ignored_when_turned_off(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime(entry_points=False)
    await runtime.start()
    assert runtime.status() == []
