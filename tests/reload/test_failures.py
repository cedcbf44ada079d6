"""A reload that fails at any stage leaves the old version serving, says where, and a fix loads.

Staging failures (compile, import, validate, config) are rejected before anything running is
touched; failures of the new version coming up (setup, hand-off) roll back to the old version
with its state. (The running version failing to export or tear down does not stop a reload:
see test_retiring.py.) Either way, saving a fixed file then loads the fix with no restart.

Every version of ``p`` written here declares a config model that the ``[plugins.p]`` section of
``hotbus.toml`` satisfies, so that one version can break just the config.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hotbus import Plugin, Runtime
from hotbus.schemas import (
    Phase,
    PluginFailed,
    PluginState,
    ReloadCommitted,
    ReloadRejected,
    ReloadRolledBack,
)
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import (
    IMPORTS_HELPER,
    SERVES_HELPER,
    TIMEOUT,
    answers,
    committed,
    plugin_source,
    status_of,
    values,
    write_file,
)

CONFIG = "[plugins.p]\nlimit = 1\n"
GOOD_CONFIG_MODEL = """
from pydantic import BaseModel


class PConfig(BaseModel):
    limit: int = 0
"""
BAD_CONFIG_MODEL = """
from pydantic import BaseModel, ConfigDict


class PConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int
"""


def p_source(
    value: int, *, config_model: str = GOOD_CONFIG_MODEL, body: str = "", trailer: str = ""
) -> str:
    """Plugin ``p`` with ``value``, taking the ``[plugins.p]`` section with ``config_model``."""
    members = "config_model = PConfig\n" + body
    return plugin_source(value, header=config_model, body=members, trailer=trailer)


def line_of(text: str, marker: str) -> int:
    """The 1-based number of the line of ``text`` containing ``marker``."""
    numbers = [n for n, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(numbers) == 1, f"{marker!r} is on lines {numbers}"
    return numbers[0]


@dataclass(frozen=True)
class Case:
    """One way of breaking a reload: what to save, what to expect."""

    #: The new source of ``p.py`` (value 2).
    source: str
    outcome: type[ReloadRejected | ReloadRolledBack]
    phase: Phase
    #: Where the error points: ``"p.py"`` or ``"hotbus.toml"``, and markers of the lines it
    #: may point at (empty: the error names the file; which line is not specified).
    file: str
    markers: tuple[str, ...] = ()
    #: Whether it fails before the serving instance is taken down (staging, export).
    same_instance: bool = False

    @property
    def lines(self) -> set[int]:
        return {line_of(self.source, marker) for marker in self.markers}


SETUP_RAISES = """
async def setup(self) -> None:
    raise RuntimeError('setup failed on purpose')
"""
SETUP_HANGS = """
async def setup(self) -> None:
    import asyncio
    await asyncio.sleep(30)  # hangs
"""
IMPORT_STATE_RAISES = """
async def import_state(self, state: Counter) -> None:
    raise RuntimeError('import_state failed on purpose')
"""

CASES: dict[str, Case] = {
    "syntax_error": Case(
        p_source(2, trailer="def broken(:\n"),
        ReloadRejected,
        Phase.COMPILE,
        "p.py",
        ("def broken(:",),
        same_instance=True,
    ),
    "import_error": Case(
        p_source(2, trailer="import hotbus_tests_no_such_module\n"),
        ReloadRejected,
        Phase.IMPORT,
        "p.py",
        ("import hotbus_tests_no_such_module",),
        same_instance=True,
    ),
    "exception_at_import": Case(
        p_source(2, trailer="raise RuntimeError('broken at import')\n"),
        ReloadRejected,
        Phase.IMPORT,
        "p.py",
        ("raise RuntimeError('broken at import')",),
        same_instance=True,
    ),
    "renamed_plugin": Case(
        plugin_source(2, name="renamed", header=GOOD_CONFIG_MODEL, body="config_model = PConfig"),
        ReloadRejected,
        Phase.VALIDATE,
        "p.py",
        ("class Renamed(Plugin):", "name = 'renamed'"),  # as every other manifest problem
        same_instance=True,
    ),
    "invalid_config": Case(
        p_source(2, config_model=BAD_CONFIG_MODEL),
        ReloadRejected,
        Phase.CONFIG,
        "hotbus.toml",
        same_instance=True,
    ),
    "setup_raises": Case(
        p_source(2, body=SETUP_RAISES),
        ReloadRolledBack,
        Phase.SETUP,
        "p.py",
        ("raise RuntimeError('setup failed on purpose')",),
    ),
    "setup_hangs": Case(
        p_source(2, body=SETUP_HANGS),
        ReloadRolledBack,
        Phase.SETUP,
        "p.py",
    ),
    "import_state_raises": Case(
        p_source(2, body=IMPORT_STATE_RAISES),
        ReloadRolledBack,
        Phase.HANDOFF,
        "p.py",
        ("raise RuntimeError('import_state failed on purpose')",),
    ),
}


@dataclass(frozen=True)
class Failed:
    """What a failed reload left: the runtime, the outcome, and the version that served before."""

    runtime: Runtime
    case: Case
    outcome: ReloadRejected | ReloadRolledBack
    old_version: str
    old_instance: Callable[[], Plugin | None]
    config_file: Path


#: The cases whose failure comes before the running instance is taken down.
BEFORE_TEARDOWN = sorted(name for name, case in CASES.items() if case.same_instance)
#: The cases whose error points at a line of the source.
WITH_LINE = sorted(name for name, case in CASES.items() if case.markers)
every_case = pytest.mark.parametrize("failed", sorted(CASES), indirect=True)


@pytest.fixture
async def failed(
    request: pytest.FixtureRequest, plugin_dir: PluginDir, hotbus: Harness, tmp_path: Path
) -> Failed:
    """``p`` (value 1) served two asks, then a broken value 2 was saved and its reload failed."""
    case = CASES[request.param]
    config_file = tmp_path / "hotbus.toml"
    write_file(config_file, CONFIG)
    plugin_dir.write("p.py", p_source(1))
    runtime = await hotbus.start(config_file=config_file, setup_timeout_s=0.3)
    assert [a.count for a in await answers(runtime) + await answers(runtime)] == [1, 2]
    old_version = status_of(runtime, "p").version
    assert old_version is not None
    old_instance = weakref.ref(runtime.plugin("p"))
    await plugin_dir.save("p.py", case.source)
    outcome = await hotbus.wait_for(case.outcome, lambda e: e.plugin == "p", timeout=TIMEOUT)
    return Failed(runtime, case, outcome, old_version, old_instance, config_file.resolve())


@every_case
async def test_a_failed_reload_publishes_its_outcome_with_the_phase(failed: Failed) -> None:
    assert (failed.outcome.topic, failed.outcome.phase) == (
        failed.case.outcome.topic,
        failed.case.phase,
    )


@every_case
async def test_a_failed_reload_names_the_file_at_fault(
    failed: Failed, plugin_dir: PluginDir
) -> None:
    files = {"p.py": (plugin_dir / "p.py").resolve(), "hotbus.toml": failed.config_file}
    assert failed.outcome.error.file == files[failed.case.file]


@every_case
async def test_the_failure_a_failed_reload_reports_names_its_outcomes_plan(
    failed: Failed, hotbus: Harness
) -> None:
    reported = [e for e in hotbus.events.of(PluginFailed) if e.phase is failed.case.phase]
    assert [(e.plugin, e.plan_id) for e in reported] == [("p", failed.outcome.plan_id)]


@pytest.mark.parametrize("failed", WITH_LINE, indirect=True)
async def test_a_failed_reload_names_the_line_at_fault(failed: Failed) -> None:
    assert failed.outcome.error.line in failed.case.lines


@every_case
async def test_a_failed_reload_keeps_the_old_version_active(failed: Failed) -> None:
    row = status_of(failed.runtime, "p")
    assert (row.state, row.version) == (PluginState.ACTIVE, failed.old_version)


@every_case
async def test_a_failed_reload_keeps_the_old_code_serving_with_its_state(failed: Failed) -> None:
    assert [(a.value, a.count) for a in await answers(failed.runtime)] == [(1, 3)]


@pytest.mark.parametrize("failed", BEFORE_TEARDOWN, indirect=True)
async def test_a_reload_failing_before_the_teardown_leaves_the_same_instance_serving(
    failed: Failed,
) -> None:
    assert failed.runtime.plugin("p") is failed.old_instance()


@every_case
async def test_saving_a_fix_after_a_failed_reload_commits_it(
    failed: Failed, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await plugin_dir.save("p.py", p_source(3))
    await hotbus.wait_for(ReloadCommitted, committed("p", 3), timeout=TIMEOUT)
    assert await values(failed.runtime) == [3]


# -- plugins that never loaded ---------------------------------------------------------------


async def test_a_plugin_that_failed_to_compile_at_startup_loads_when_a_fix_is_saved(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, trailer="def broken(:\n"))
    runtime = await hotbus.start()
    assert status_of(runtime, "p").state is PluginState.FAILED
    await plugin_dir.save("p.py", plugin_source(3))
    await hotbus.wait_for(ReloadCommitted, committed("p", 3), timeout=TIMEOUT)
    assert await values(runtime) == [3]


async def test_saving_a_fixed_helper_named_in_a_failed_plugins_traceback_retries_the_plugin(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("helper.py", "VALUE = 1 // 0\n")
    plugin_dir.write(
        "p.py",
        plugin_source(1, header=IMPORTS_HELPER, body=SERVES_HELPER),
    )
    runtime = await hotbus.start()
    assert status_of(runtime, "p").state is PluginState.FAILED
    await plugin_dir.save("helper.py", "VALUE = 9\n")
    await hotbus.wait_for(ReloadCommitted, committed("p", 1), timeout=TIMEOUT)
    assert await values(runtime) == [9]
