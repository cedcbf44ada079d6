"""The leak checker on its own: batches, what a report names, the frozen start-up heap, and
that its collection waits (boundedly) for the deliveries under way."""

from __future__ import annotations

import asyncio
import ctypes
import gc
from types import SimpleNamespace
from typing import Any, cast

from hotbus import ChatMessage
from hotbus.bus import Bus
from hotbus.runtime._loading.loader import Loaded
from hotbus.runtime._reload.leaks import SERVE_LIMIT_S, LeakChecker, freeze_startup_heap
from hotbus.schemas import PluginLeaked
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import plugin_source


def version_of(name: str) -> tuple[Loaded, type]:
    """A stand-in for a loaded version: a plugin class made now, in a cycle like a real one's."""
    cls = type(name.title(), (), {"name": name})
    cls.me = cls  # type: ignore[attr-defined]  # freed by a collection only, as a plugin's is
    loaded = SimpleNamespace(
        plugin_class=cls, version="1.0.0", generation=SimpleNamespace(package=f"_g.{name}")
    )
    return cast(Loaded, loaded), cls


async def test_versions_retired_together_are_checked_with_one_collection(bus: Bus) -> None:
    checker = LeakChecker(bus)
    with checker.deferred():
        for index in range(50):
            checker.watch([version_of(f"p{index}")[0]])
        await asyncio.sleep(0.01)
        assert checker.collections == 0  # nothing is checked inside the block
    await checker.join()
    assert checker.collections == 1


async def test_a_version_held_where_no_root_leads_is_reported_without_the_check_itself(
    bus: Bus,
) -> None:
    checker = LeakChecker(bus)
    loaded, cls = version_of("hidden")
    hold = ctypes.py_object(cls)
    ctypes.pythonapi.Py_IncRef(hold)  # a reference nothing the collector sees accounts for
    reports: list[PluginLeaked] = []
    bus.subscribe(PluginLeaked, reports.append)
    try:
        checker.watch([loaded], patience_s=0.1)
        del loaded, cls
        await asyncio.wait_for(checker.join(), 10)
    finally:
        ctypes.pythonapi.Py_DecRef(hold)
    assert [(r.plugin, r.version) for r in reports] == [("hidden", "1.0.0")]
    assert not any("LeakChecker" in r or "coroutine" in r for r in reports[0].referrers), reports


async def test_a_version_collected_at_once_is_not_searched_for(bus: Bus) -> None:
    checker = LeakChecker(bus)
    checker.watch([version_of("fine")[0]])
    await checker.join()
    assert checker.collections == 1
    assert repr(checker) == "<hotbus LeakChecker idle pending=0>"


async def test_the_start_up_heap_is_frozen_but_no_plugin_version(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start()
    assert gc.get_freeze_count() > 0
    assert not freeze_startup_heap()  # a plugin module is loaded: it would never be freed
    plugin_class: Any = type(runtime.plugin("p"))
    collectable = gc.get_objects()  # what later collections walk: not the frozen objects
    assert any(obj is plugin_class for obj in collectable)
    assert not any(obj is Harness for obj in collectable)  # made before the start: frozen


async def test_the_collection_comes_after_the_deliveries_under_way(bus: Bus) -> None:
    # A plugin's handler is delivering (its first answer after a swap, say) when a check is
    # ready: the collection, which holds the loop, waits for it to finish.
    checker = LeakChecker(bus)
    collections_when_served: list[int] = []

    async def answer(message: ChatMessage) -> None:
        for _ in range(5):  # a delivery that takes a few rounds of the loop
            await asyncio.sleep(0.002)
        collections_when_served.append(checker.collections)

    bus.subscribe(ChatMessage, answer, owner="answering")
    await bus.publish(ChatMessage(user="u", text="!value"))
    checker.watch([version_of("retired")[0]])
    await asyncio.wait_for(checker.join(), 10)
    assert collections_when_served == [0]
    assert checker.collections == 1


async def test_a_hung_delivery_delays_the_collection_only_boundedly(bus: Bus) -> None:
    checker = LeakChecker(bus)
    release = asyncio.Event()

    async def hang(message: ChatMessage) -> None:
        await release.wait()

    bus.subscribe(ChatMessage, hang, owner="hung")
    await bus.publish(ChatMessage(user="u", text="!value"))
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        checker.watch([version_of("retired")[0]])
        await asyncio.wait_for(checker.join(), 10)
        assert checker.collections == 1
        assert loop.time() - began < SERVE_LIMIT_S + 1.0
    finally:
        release.set()
    await bus.join()
