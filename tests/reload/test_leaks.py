"""After a commit the old version is checked for collectability, off the critical path.

The check must not stall serving (one collection for every version retired together), must
not blame a version that is still finishing work in flight (a task of its own, a handler the
reload could not stop), and must name what really holds a leaked version.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hotbus.schemas import (
    PluginLeaked,
    PluginState,
    ReloadAction,
    ReloadCommitted,
    ReloadReason,
    ReloadRequested,
)
from hotbus.testing import Harness, PluginDir

from tests.reload import lingering
from tests.reload.events import Busy, Slow
from tests.reload.helpers import TIMEOUT, committed, plugin_source, status_of

KEEPS_ITSELF = """
async def setup(self) -> None:
    events.KEPT.append(self)  # outlives this version: a leak
"""
#: Each version runs a task of its own that it never stops (not through ctx.start_task).
LINGERS_IN_A_TASK = """
async def setup(self) -> None:
    asyncio.get_running_loop().create_task(self.linger(), name="lingerer")

async def linger(self) -> None:
    for _ in range(1000):  # 10 s at most
        if lingering.RELEASE.is_set():
            return
        await asyncio.sleep(0.01)
"""
#: Each version runs a thread that it never stops.
LINGERS_IN_A_THREAD = """
async def setup(self) -> None:
    threading.Thread(target=self.linger, name="lingering-thread", daemon=True).start()

def linger(self) -> None:
    lingering.RELEASE.wait(10)
"""
#: A handler that ignores the reload's cancellation and finishes its work anyway.
FINISHES_ITS_HANDLER = """
@subscribe('test.slow')
async def on_slow(self, event: events.Slow) -> None:
    await self.ctx.publish(events.Busy())
    for _ in range(1000):  # 10 s at most
        if lingering.RELEASE.is_set():
            return
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            pass  # finishes what it began
"""
HEADER = "import asyncio\nimport threading\nfrom tests.reload import lingering"
#: Short, so that a lingering version's patience (quiesce_timeout_s + 1 s) ends soon.
QUIESCE_S = 0.2


@pytest.fixture(autouse=True)
def _let_go(hotbus: Harness) -> Iterator[None]:
    lingering.reset()
    yield
    lingering.RELEASE.set()  # every lingering task, thread and handler ends (before stopping)


def source(value: int, body: str, name: str = "p") -> str:
    return plugin_source(value, name=name, header=HEADER, body=body)


def old_class_of(hotbus: Harness, name: str = "p") -> weakref.ref[type]:
    assert hotbus.runtime is not None
    return weakref.ref(type(hotbus.runtime.plugin(name)))


def collected(ref: weakref.ref[Any]) -> bool:
    gc.collect()
    return ref() is None


async def test_a_committed_reload_reports_no_leak(plugin_dir: PluginDir, hotbus: Harness) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start()
    await plugin_dir.save("p.py", plugin_source(2), "atomic")
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    await runtime.idle()  # the leak check runs in a task started right after the commit
    assert hotbus.events.of(PluginLeaked) == []


async def test_a_committed_reload_leaves_the_old_version_collectable(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start()
    old_class = old_class_of(hotbus)
    await plugin_dir.save("p.py", plugin_source(2), "atomic")
    await hotbus.wait_for(ReloadCommitted, committed("p", 2), timeout=TIMEOUT)
    await runtime.idle()
    assert collected(old_class)


async def test_a_plugin_version_kept_alive_after_its_reload_is_reported_as_leaked(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=KEEPS_ITSELF))
    runtime = await hotbus.start()
    old_version = status_of(runtime, "p").version
    await plugin_dir.save("p.py", plugin_source(2, body=KEEPS_ITSELF), "atomic")
    leaked = await hotbus.wait_for(PluginLeaked, timeout=TIMEOUT)
    assert (leaked.plugin, leaked.version) == ("p", old_version)


async def test_a_leak_report_names_the_module_global_holding_the_version(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=KEEPS_ITSELF))
    await hotbus.start()
    await plugin_dir.save("p.py", plugin_source(2, body=KEEPS_ITSELF), "atomic")
    leaked = await hotbus.wait_for(PluginLeaked, timeout=TIMEOUT)
    holder = leaked.referrers[0]
    assert holder.startswith("module tests.reload.events: KEPT: list -> [0]: P object"), holder


async def test_each_leaked_version_is_reported_once(plugin_dir: PluginDir, hotbus: Harness) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=KEEPS_ITSELF))
    runtime = await hotbus.start(watch=False)
    versions = [status_of(runtime, "p").version]
    for value in (2, 3):
        plugin_dir.write("p.py", plugin_source(value, body=KEEPS_ITSELF))
        await runtime.reload("p")
        versions.append(status_of(runtime, "p").version)
        await runtime.idle()
    await asyncio.sleep(0.3)  # more rounds of the check, had it kept the versions
    await runtime.idle()
    reported = [(e.plugin, e.version) for e in hotbus.events.of(PluginLeaked)]
    assert reported == [("p", versions[0]), ("p", versions[1])]


async def test_a_version_kept_running_by_a_task_of_its_own_is_reported_naming_the_task(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", source(1, LINGERS_IN_A_TASK))
    runtime = await hotbus.start(watch=False, quiesce_timeout_s=QUIESCE_S)
    old_version = status_of(runtime, "p").version
    plugin_dir.write("p.py", source(2, LINGERS_IN_A_TASK))
    await runtime.reload("p")
    leaked = await hotbus.wait_for(PluginLeaked, timeout=TIMEOUT)
    assert (leaked.plugin, leaked.version) == ("p", old_version)
    assert leaked.referrers[0].startswith("task 'lingerer': in P.linger ("), leaked.referrers


async def test_a_version_kept_running_by_a_thread_of_its_own_is_reported_naming_the_thread(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", source(1, LINGERS_IN_A_THREAD))
    runtime = await hotbus.start(watch=False, quiesce_timeout_s=QUIESCE_S)
    old_version = status_of(runtime, "p").version
    plugin_dir.write("p.py", source(2, LINGERS_IN_A_THREAD))
    await runtime.reload("p")
    leaked = await hotbus.wait_for(PluginLeaked, timeout=TIMEOUT)
    assert (leaked.plugin, leaked.version) == ("p", old_version)
    holder = leaked.referrers[0]
    assert holder.startswith("thread 'lingering-thread': in P.linger ("), holder
    assert ", local self: P object -> class P" in holder, holder


async def finishing_then_released(
    hotbus: Harness, body: str, before_reload: Callable[[], Any] | None = None
) -> tuple[weakref.ref[type], list[PluginLeaked]]:
    """Reload a version of ``p`` that is still finishing work; let the work end 0.4 s after
    the commit (past the check's grace, within the version's patience); return the old class
    and the leak reports once all is idle."""
    hotbus.plugins.write("p.py", source(1, body))
    runtime = await hotbus.start(watch=False, quiesce_timeout_s=QUIESCE_S)
    old_class = old_class_of(hotbus)
    if before_reload is not None:
        await before_reload()
    hotbus.plugins.write("p.py", source(2, body))
    assert isinstance(await runtime.reload("p"), ReloadCommitted)
    await asyncio.sleep(0.4)
    assert hotbus.events.of(PluginLeaked) == []
    lingering.RELEASE.set()
    await runtime.idle()
    return old_class, hotbus.events.of(PluginLeaked)


@pytest.mark.no_cover  # a tracer holds frames and delays interrupts: measure as users run
async def test_no_leak_is_reported_while_the_old_version_finishes_a_task_of_its_own(
    hotbus: Harness,
) -> None:
    old_class, leaked = await finishing_then_released(hotbus, LINGERS_IN_A_TASK)
    assert leaked == []
    assert collected(old_class)


@pytest.mark.no_cover  # a tracer holds frames and delays interrupts: measure as users run
async def test_no_leak_is_reported_while_an_in_flight_handler_of_the_old_version_finishes(
    hotbus: Harness,
) -> None:
    async def start_the_slow_handler() -> None:
        await hotbus.bus.publish(Slow())
        await hotbus.wait_for(Busy, timeout=TIMEOUT)

    old_class, leaked = await finishing_then_released(
        hotbus, FINISHES_ITS_HANDLER, start_the_slow_handler
    )
    assert leaked == []
    assert collected(old_class)


async def test_unloading_many_plugins_at_once_runs_one_check_for_all_of_them(
    plugin_dir: PluginDir, hotbus: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"p{index}" for index in range(20)]
    for index, name in enumerate(names):
        plugin_dir.write(f"{name}.py", plugin_source(index, name=name))
    plugin_dir.write("stays.py", plugin_source(0, name="stays"))  # loaded last, not unloaded
    runtime = await hotbus.start(watch=False)
    old_classes = [old_class_of(hotbus, name) for name in names]
    collections: list[int] = []
    collect = gc.collect

    def counting(*args: int) -> int:
        collections.append(1)
        return collect(*args)

    monkeypatch.setattr(gc, "collect", counting)
    for name in names:
        runtime.bus.publish_nowait(
            ReloadRequested(plugin=name, action=ReloadAction.UNLOAD, reason=ReloadReason.MANUAL)
        )
    await runtime.bus.flush()
    await runtime.idle()
    assert [r.name for r in runtime.status() if r.state is not PluginState.UNLOADED] == ["stays"]
    assert len(collections) == 1
    monkeypatch.undo()
    assert hotbus.events.of(PluginLeaked) == []
    assert all(collected(ref) for ref in old_classes)
