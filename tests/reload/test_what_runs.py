"""What runs is what is on disk: no valid change is dropped, and no stale code keeps running.

Every test saves real files under a real watcher. ``core`` is a plugin and ``app`` requires it,
so that one save-all (or a cascade) puts both in one transaction: a member that fails keeps its
running version, and every other member commits on its own, against that running version; a
member depending on one that never loaded waits for it, blocked.
"""

from __future__ import annotations

import pytest
from hotbus import Runtime
from hotbus.schemas import (
    Phase,
    PluginFailed,
    PluginState,
    ReloadCommitted,
    ReloadReason,
    ReloadRejected,
    ReloadRequested,
    StateDiscarded,
)
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import TIMEOUT, committed, plugin_source, status_of, values

REQUIRES_CORE = "requires = ('core',)"
BROKEN_IMPORT = "import hotbus_tests_no_such_module\n"


def core(value: int, trailer: str = "") -> str:
    """Plugin ``core`` serving ``value``."""
    return plugin_source(value, name="core", trailer=trailer)


def app(value: int, trailer: str = "", body: str = "") -> str:
    """Plugin ``app`` serving ``value``, requiring ``core``."""
    return plugin_source(value, name="app", body=REQUIRES_CORE + "\n" + body, trailer=trailer)


async def _start(plugin_dir: PluginDir, hotbus: Harness) -> Runtime:
    plugin_dir.write("core.py", core(1))
    plugin_dir.write("app.py", app(10))
    runtime = await hotbus.start()
    assert (await values(runtime, "core"), await values(runtime, "app")) == ([1], [10])
    return runtime


# -- partitioned transactions ----------------------------------------------------------------


async def test_a_valid_change_commits_when_a_dependent_in_its_transaction_is_broken(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await _start(plugin_dir, hotbus)
    await plugin_dir.save("app.py", app(11, trailer=BROKEN_IMPORT))
    await hotbus.wait_for(ReloadRejected, lambda e: e.plugin == "app", timeout=TIMEOUT)
    await plugin_dir.save("core.py", core(2))
    await hotbus.wait_for(ReloadCommitted, committed("core", 2), timeout=TIMEOUT)
    assert (await values(runtime, "core"), await values(runtime, "app")) == ([2], [10])
    assert status_of(runtime, "app").error is not None  # and says why it runs the old one


async def test_fixing_the_broken_dependent_then_loads_it_against_the_new_core(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await _start(plugin_dir, hotbus)
    await plugin_dir.save("app.py", app(11, trailer=BROKEN_IMPORT))
    await hotbus.wait_for(ReloadRejected, lambda e: e.plugin == "app", timeout=TIMEOUT)
    await plugin_dir.save("core.py", core(2))
    await hotbus.wait_for(ReloadCommitted, committed("core", 2), timeout=TIMEOUT)
    await plugin_dir.save("app.py", app(12))
    await hotbus.wait_for(ReloadCommitted, committed("app", 12), timeout=TIMEOUT)
    assert (await values(runtime, "core"), await values(runtime, "app")) == ([2], [12])
    assert status_of(runtime, "app").error is None


async def test_a_dependents_change_commits_against_the_running_version_of_a_broken_dependency(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await _start(plugin_dir, hotbus)
    plugin_dir.write("core.py", core(2, trailer=BROKEN_IMPORT))
    await plugin_dir.save("app.py", app(11))  # both settle together: one transaction
    rejected = await hotbus.wait_for(ReloadRejected, lambda e: e.plugin == "core", timeout=TIMEOUT)
    assert (rejected.serving, rejected.held) == (True, [])
    await hotbus.wait_for(ReloadCommitted, committed("app", 11), timeout=TIMEOUT)
    assert (await values(runtime, "core"), await values(runtime, "app")) == ([1], [11])


async def test_a_dependent_of_a_plugin_that_never_loaded_waits_for_it_and_says_so(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await hotbus.start()
    plugin_dir.write("core.py", core(1, trailer=BROKEN_IMPORT))
    plugin_dir.write("app.py", app(10))
    rejected = await hotbus.wait_for(ReloadRejected, lambda e: e.plugin == "core", timeout=TIMEOUT)
    assert (rejected.serving, rejected.held) == (False, ["app"])
    await runtime.idle()
    assert status_of(runtime, "app").state is PluginState.BLOCKED
    await plugin_dir.save("core.py", core(2))
    await hotbus.wait_for(ReloadCommitted, committed("core", 2), timeout=TIMEOUT)
    await runtime.idle()
    assert (await values(runtime, "core"), await values(runtime, "app")) == ([2], [10])


async def test_a_new_plugin_saved_with_a_broken_one_starts(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await _start(plugin_dir, hotbus)
    plugin_dir.write("core.py", core(2, trailer=BROKEN_IMPORT))
    plugin_dir.write("fresh.py", plugin_source(5, name="fresh"))
    await hotbus.wait_for(ReloadCommitted, committed("fresh", 5), timeout=TIMEOUT)
    await runtime.idle()
    assert status_of(runtime, "fresh").state is PluginState.ACTIVE
    assert (await values(runtime, "fresh"), await values(runtime, "core")) == ([5], [1])


async def test_a_version_rejected_for_a_missing_dependency_loads_when_it_appears(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("app.py", plugin_source(10, name="app"))
    runtime = await hotbus.start()
    await plugin_dir.save("app.py", app(11))
    rejected = await hotbus.wait_for(ReloadRejected, timeout=TIMEOUT)
    assert (rejected.plugin, rejected.phase) == ("app", Phase.DEPENDENCY)
    assert await values(runtime, "app") == [10]
    plugin_dir.write("core.py", core(1))
    retry = await hotbus.wait_for(
        ReloadRequested, lambda e: e.reason is ReloadReason.DEPENDENCY, timeout=TIMEOUT
    )
    assert retry.plugin == "app"
    await hotbus.wait_for(ReloadCommitted, committed("app", 11), timeout=TIMEOUT)
    assert await values(runtime, "app") == [11]


# -- a running version that fails to retire ----------------------------------------------------

EXPORT_RAISES = """
async def export_state(self) -> Counter:
    raise RuntimeError('export is broken in this version')
"""
TEARDOWN_RAISES = """
async def teardown(self) -> None:
    raise RuntimeError('teardown is broken in this version')
"""


async def test_a_fix_commits_although_the_running_version_fails_to_export(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=EXPORT_RAISES))
    runtime = await hotbus.start()
    await values(runtime)
    await plugin_dir.save("p.py", plugin_source(2))
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    failed = hotbus.events.of(PluginFailed)
    assert [(e.plugin, e.phase, e.error.message) for e in failed] == [
        ("p", Phase.EXPORT, "export is broken in this version")
    ]
    assert failed[0].error.line is not None
    (discarded,) = hotbus.events.of(StateDiscarded)
    assert "export is broken in this version" in discarded.reason
    answers = await values(runtime)
    assert answers == [2]  # the old version's subscription was released with it


async def test_a_fix_commits_although_the_running_version_fails_to_tear_down(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=TEARDOWN_RAISES))
    runtime = await hotbus.start()
    await values(runtime)
    await plugin_dir.save("p.py", plugin_source(2))
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    failed = hotbus.events.of(PluginFailed)
    assert [(e.plugin, e.phase) for e in failed] == [("p", Phase.TEARDOWN)]
    assert failed[0].plan_id is None  # no outcome reports it: the console prints it alone
    assert await values(runtime) == [2]
    assert not hotbus.events.of(StateDiscarded)  # the export worked: the state went along


# -- what staging read is what counts ------------------------------------------------------------

TRUNCATES_P = """
from pathlib import Path

Path(__file__).with_name("p.py").write_bytes(b"")  # a write landing while p is being staged
"""


async def test_a_file_rewritten_to_its_settled_bytes_after_staging_read_other_bytes_reloads(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    """p settles at A, but staging reads an emptied p.py (written in between), and p.py then
    returns to A: the runtime must run A, not the version before it."""
    plugin_dir.write("a.py", plugin_source(1, name="a"))
    plugin_dir.write("p.py", plugin_source(1, body="requires = ('a',)"))
    runtime = await hotbus.start()
    new_p = plugin_source(2, body="requires = ('a',)")
    plugin_dir.write("a.py", plugin_source(2, name="a", header=TRUNCATES_P))
    await plugin_dir.save("p.py", new_p)  # settles with a.py: p is staged after a runs
    await hotbus.wait_for(ReloadRejected, lambda e: e.plugin == "p", timeout=TIMEOUT)
    await plugin_dir.save("p.py", new_p)  # back to the bytes that settled before
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    assert await values(runtime) == [2]


# -- files moving around ---------------------------------------------------------------------


@pytest.mark.parametrize("debounce_ms", [20.0, 5.0])  # the default, and a short write window
async def test_renaming_a_plugin_file_back_to_its_name_keeps_it_serving(
    plugin_dir: PluginDir, hotbus: Harness, debounce_ms: float
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start(debounce_ms=debounce_ms)
    (plugin_dir / "p.py").rename(plugin_dir / "q.py")
    await hotbus.wait_for(ReloadCommitted, committed("p", 1), timeout=TIMEOUT)
    await runtime.idle()
    assert await values(runtime) == [1]
    (plugin_dir / "q.py").rename(plugin_dir / "p.py")
    await hotbus.wait_for(ReloadCommitted, committed("p", 1), timeout=TIMEOUT)
    await runtime.idle()
    row = status_of(runtime, "p")
    assert (row.state, row.files) == (PluginState.ACTIVE, [(plugin_dir / "p.py").resolve()])
    assert await values(runtime) == [1]


@pytest.mark.parametrize("broken", ["def broken(:\n", BROKEN_IMPORT])
async def test_a_plugin_whose_first_load_fails_is_named_by_its_declared_name(
    plugin_dir: PluginDir, hotbus: Harness, broken: str
) -> None:
    plugin_dir.write("file_stem.py", plugin_source(1, name="declared", trailer=broken))
    runtime = await hotbus.start()
    assert [(row.name, row.state) for row in runtime.status()] == [("declared", PluginState.FAILED)]
    await plugin_dir.save("file_stem.py", plugin_source(2, name="declared"))
    await hotbus.wait_for(ReloadCommitted, committed("declared", 2), timeout=TIMEOUT)
    assert [(row.name, row.state) for row in runtime.status()] == [("declared", PluginState.ACTIVE)]


async def test_a_new_file_failing_its_first_load_is_named_by_its_declared_name(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    runtime = await hotbus.start()
    plugin_dir.write("file_stem.py", plugin_source(1, name="declared", trailer=BROKEN_IMPORT))
    rejected = await hotbus.wait_for(ReloadRejected, timeout=TIMEOUT)
    assert (rejected.plugin, rejected.serving) == ("declared", False)
    assert [row.name for row in runtime.status()] == ["declared"]


async def test_a_held_dependent_runs_its_new_version_when_the_culprit_is_deleted_and_restored(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    """app's change waits for a broken core; core is then deleted (app is blocked) and restored:
    app must start on the source on disk, not on the version it ran when it was held."""
    runtime = await _start(plugin_dir, hotbus)
    plugin_dir.write("core.py", core(2, trailer=BROKEN_IMPORT))
    await plugin_dir.save("app.py", app(11))
    await hotbus.wait_for(ReloadRejected, lambda e: e.plugin == "core", timeout=TIMEOUT)
    plugin_dir.delete("core.py")
    await hotbus.wait_for(ReloadCommitted, committed("core", None), timeout=TIMEOUT)
    await runtime.idle()
    assert status_of(runtime, "app").state is PluginState.BLOCKED
    plugin_dir.write("core.py", core(3))
    await hotbus.wait_for(ReloadCommitted, committed("core", 3), timeout=TIMEOUT)
    await runtime.idle()
    assert (await values(runtime, "core"), await values(runtime, "app")) == ([3], [11])
