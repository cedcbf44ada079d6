"""Plugin code holding the event loop is seen (``hotbus.loop.stalled``, naming the plugin, what it
was doing, for how long, the file and line) and, past ``stall_limit_s``, interrupted: it fails
like any error of that plugin, and every other plugin answers again."""

from __future__ import annotations

import time

from hotbus.schemas import HandlerFailed, LoopStalled, PluginState
from hotbus.testing import PluginDir

from tests.containment.conftest import MakeRuntime
from tests.containment.events import Poke
from tests.containment.helpers import TIMEOUT, ask, line_of, plugin_source

S = PluginState
SPIN = """
while True:  # HERE
    pass
"""


async def test_a_blocking_sync_handler_is_reported_with_plugin_doing_file_and_line(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    source = plugin_source("block", poke="time.sleep(0.5)  # HERE", sync_poke=True)
    path = plugin_dir.write("block.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime(stall_limit_s=0)  # reported, never interrupted
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.bus.publish(Poke(plugin="block"))
        stall = await recorded.wait_for(LoopStalled, timeout=TIMEOUT)
        assert await ask(runtime, "good") == 7
    assert (stall.plugin, stall.doing) == ("block", "handler Block.on_poke")
    assert (stall.file, stall.line) == (path, line_of(source))
    assert 100 <= stall.held_ms < 500
    assert not stall.interrupted
    assert recorded.of(HandlerFailed) == []  # it ran to its end
    assert await ask(runtime, "block") == 1


async def test_a_spinning_sync_handler_is_interrupted_and_fails_as_a_handler(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    source = plugin_source("spin", poke=SPIN, sync_poke=True)
    path = plugin_dir.write("spin.py", source)
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.bus.publish(Poke(plugin="spin"))
        failed = await recorded.wait_for(HandlerFailed, timeout=TIMEOUT)
        # The monitor's events arrive through the loop once it is free again: wait for both.
        await recorded.wait_for(LoopStalled, lambda s: s.interrupted, timeout=TIMEOUT)
        assert await ask(runtime, "good") == 7
    assert (failed.owner, failed.event_topic) == ("spin", Poke.topic)
    assert failed.error.type == "hotbus.schemas.PluginInterrupted"
    assert failed.error.file == path
    assert failed.error.line in {line_of(source), line_of(source) + 1}
    assert "stall_limit_s" in failed.error.message
    assert [(s.plugin, s.interrupted) for s in recorded.of(LoopStalled)] == [
        ("spin", False),
        ("spin", True),
    ]
    assert {r.name: r.state for r in runtime.status()} == {"good": S.ACTIVE, "spin": S.ACTIVE}
    assert await ask(runtime, "spin") == 1  # the plugin itself serves on


async def test_an_async_handler_spinning_is_interrupted_too(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("spin.py", plugin_source("spin", poke=SPIN))
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record() as recorded:
        await runtime.bus.publish(Poke(plugin="spin"))
        failed = await recorded.wait_for(HandlerFailed, timeout=TIMEOUT)
    assert failed.error.type == "hotbus.schemas.PluginInterrupted"
    assert await ask(runtime, "good") == 7


async def test_a_handler_that_never_returns_holds_up_neither_the_others_nor_the_stop(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("hang.py", plugin_source("hang", poke="await asyncio.Event().wait()"))
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    await runtime.bus.publish(Poke(plugin="hang"))
    assert await ask(runtime, "good", timeout=1.0) == 7
    begin = time.monotonic()
    await runtime.stop()
    assert time.monotonic() - begin < 2.0


async def test_the_hosts_own_blocking_code_is_not_blamed_on_a_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("good.py", plugin_source("good", 7))
    runtime = make_runtime()
    await runtime.start()
    with runtime.bus.record(LoopStalled) as recorded:
        time.sleep(0.3)  # noqa: ASYNC251 - the host holds the loop; no plugin code runs
        assert await ask(runtime, "good") == 7
        await runtime.bus.join()
    assert recorded.events == []
