"""Events in flight during a reload: none lost, none doubled; slow handlers do not block it."""

from __future__ import annotations

import asyncio

import pytest
from hotbus import Runtime
from hotbus.schemas import HandlersCancelled, ReloadCommitted
from hotbus.testing import Harness, PluginDir

from tests.reload import events
from tests.reload.events import Answer, Ask, Busy, Slow, Tick
from tests.reload.helpers import TIMEOUT, plugin_source

COUNTS_TICKS = """
@subscribe('test.tick')
def on_tick(self, event: events.Tick) -> None:
    events.HANDLED.append(event.n)
"""
COUNTS_TICKS_AFTER_SLOW_SETUP = (
    COUNTS_TICKS
    + """
async def setup(self) -> None:
    import asyncio
    await asyncio.sleep(0.001)  # as a setup that opens a connection would
"""
)
SLOW_HANDLER = """
@subscribe('test.slow')
async def on_slow(self, event: events.Slow) -> None:
    import asyncio
    await self.ctx.publish(events.Busy())
    await asyncio.sleep(3)  # far past the quiesce limit of 0.2 s
"""
BRIEF_HANDLER = """
@subscribe('test.slow')
async def on_slow(self, event: events.Slow) -> None:
    import asyncio
    await self.ctx.publish(events.Busy())
    await asyncio.sleep(0.05)
    events.HANDLED.append(self.VALUE)
"""
RELOADS = 100


async def reload_under_load(runtime: Runtime) -> tuple[list[int], list[str]]:
    """Reload ``p`` 100 times while a task publishes a numbered `Tick` every millisecond.

    Returns the numbers published and the outcome of each reload ("committed", ...).
    """
    published: list[int] = []
    done = asyncio.Event()

    async def publish() -> None:
        while not done.is_set():
            n = len(published)
            await runtime.bus.publish(Tick(n=n))
            published.append(n)
            await asyncio.sleep(0.001)

    publisher = asyncio.create_task(publish())
    outcomes: list[str] = []
    try:
        async with asyncio.timeout(30):
            for _ in range(RELOADS):
                outcome = await runtime.reload("p")
                outcomes.append(outcome.topic.rsplit(".", 1)[-1] if outcome else "none")
    finally:
        done.set()
        await publisher
    await runtime.bus.join()
    return published, outcomes


async def test_events_published_during_a_hundred_reloads_are_each_handled_exactly_once(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=COUNTS_TICKS))
    runtime = await hotbus.start(watch=False, leak_check=False)
    published, outcomes = await reload_under_load(runtime)
    assert (len(published) >= RELOADS // 2, outcomes) == (True, ["committed"] * RELOADS)
    assert sorted(events.HANDLED) == published


async def test_events_published_while_the_new_version_sets_up_are_handled_exactly_once(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=COUNTS_TICKS_AFTER_SLOW_SETUP))
    runtime = await hotbus.start(watch=False, leak_check=False)
    published, outcomes = await reload_under_load(runtime)
    assert (len(published) >= RELOADS // 2, outcomes) == (True, ["committed"] * RELOADS)
    assert sorted(events.HANDLED) == published


@pytest.fixture
async def busy(plugin_dir: PluginDir, hotbus: Harness) -> Runtime:
    """``p`` has a handler in flight that would run for 3 s; quiesce waits at most 0.2 s."""
    plugin_dir.write("p.py", plugin_source(1, body=SLOW_HANDLER))
    runtime = await hotbus.start(watch=False, quiesce_timeout_s=0.2)
    runtime.bus.publish_nowait(Slow())
    await hotbus.wait_for(Busy, timeout=TIMEOUT)
    return runtime


async def test_an_in_flight_handler_past_the_quiesce_limit_is_cancelled_with_an_event(
    busy: Runtime, hotbus: Harness
) -> None:
    async with asyncio.timeout(TIMEOUT):
        await busy.reload("p")
    cancelled = hotbus.events.of(HandlersCancelled)
    assert [(e.plugin, e.cancelled, e.timeout_s) for e in cancelled] == [("p", 1, 0.2)]


async def test_a_reload_commits_after_cancelling_a_handler_past_the_quiesce_limit(
    busy: Runtime,
) -> None:
    async with asyncio.timeout(TIMEOUT):
        outcome = await busy.reload("p")
    assert isinstance(outcome, ReloadCommitted)


async def test_an_in_flight_handler_within_the_quiesce_limit_finishes_on_the_old_version(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=BRIEF_HANDLER))
    runtime = await hotbus.start(watch=False, quiesce_timeout_s=2.0)
    runtime.bus.publish_nowait(Slow())
    await hotbus.wait_for(Busy, timeout=TIMEOUT)
    plugin_dir.write("p.py", plugin_source(2, body=BRIEF_HANDLER))
    async with asyncio.timeout(TIMEOUT):
        await runtime.reload("p")
    assert (events.HANDLED, hotbus.events.of(HandlersCancelled)) == ([1], [])


AWAITING_TICKS = """
@subscribe('test.tick')
async def on_tick(self, event: events.Tick) -> None:
    import asyncio
    await asyncio.sleep(0)  # mid-handler when the swap begins: finishes on this version
    events.HANDLED.append(event.n)
"""
PUBLISHERS = 4


async def test_events_reach_a_plugin_exactly_once_while_earlier_handlers_await_during_swaps(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("p.py", plugin_source(1, body=AWAITING_TICKS))
    runtime = await hotbus.start(watch=False, leak_check=False)

    async def earlier(event: Tick) -> None:  # the host's handler of the same event, first
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    runtime.bus.subscribe(Tick, earlier, priority=10)
    published: list[int] = []
    done = asyncio.Event()

    async def publish(first: int) -> None:
        n = first
        while not done.is_set():
            await runtime.bus.publish(Tick(n=n))
            published.append(n)
            n += PUBLISHERS
            await asyncio.sleep(0)

    publishers = [asyncio.create_task(publish(i)) for i in range(PUBLISHERS)]
    outcomes: list[str] = []
    try:
        async with asyncio.timeout(30):
            for _ in range(RELOADS):
                outcome = await runtime.reload("p")
                outcomes.append(outcome.topic.rsplit(".", 1)[-1] if outcome else "none")
    finally:
        done.set()
        await asyncio.gather(*publishers)
    await asyncio.wait_for(runtime.bus.join(), TIMEOUT)
    assert outcomes == ["committed"] * RELOADS
    assert len(published) >= RELOADS
    assert sorted(events.HANDLED) == sorted(published)  # none lost, none twice


STALLS = """
@subscribe('test.slow')
async def on_slow(self, event: events.Slow) -> None:
    import asyncio
    await self.ctx.publish(events.Busy())
    await asyncio.sleep(30)  # a slow call to somewhere
"""


async def test_a_slow_handler_of_one_plugin_does_not_delay_another_plugins_reply(
    plugin_dir: PluginDir, hotbus: Harness
) -> None:
    plugin_dir.write("slow.py", plugin_source(1, name="slow", body=STALLS))
    plugin_dir.write("p.py", plugin_source(2))
    runtime = await hotbus.start(watch=False, quiesce_timeout_s=0.1, leak_check=False)
    await runtime.bus.publish(Slow())
    await hotbus.wait_for(Busy, timeout=TIMEOUT)
    await runtime.bus.publish(Ask(plugin="p"))
    answer = await hotbus.wait_for(Answer, lambda a: a.plugin == "p", timeout=1.0)
    assert answer.value == 2
