"""The gate in front of a plugin's handlers: holding, replaying, draining, cancelling."""

from __future__ import annotations

import asyncio

from hotbus import Bus, Event
from hotbus.runtime._plugins.gate import Gate


class Knock(Event):
    topic = "gate.knock"
    n: int = 0


async def test_a_closed_gate_holds_events_once_and_replays_them_in_order() -> None:
    bus, gate = Bus(), Gate("p")
    seen: list[int] = []

    async def handler(event: Knock) -> None:
        seen.append(event.n)

    bus.subscribe(Knock, gate.wrap(handler, True), owner="p")
    bus.subscribe("gate.*", gate.wrap(handler, True), owner="p")  # two routes, held once
    await gate.close(bus, timeout=1)
    await bus.publish(Knock(n=1))
    await bus.publish(Knock(n=2))
    assert (seen, gate.held) == ([], 2)
    assert await gate.open(bus) == 2
    assert seen == [1, 1, 2, 2]  # replayed to every handler of the plugin, in order


async def test_events_are_held_while_the_plugin_has_no_subscription_at_all() -> None:
    bus, gate = Bus(), Gate("p")
    seen: list[int] = []

    async def old(event: Knock) -> None:
        seen.append(-event.n)

    async def new(event: Knock) -> None:
        seen.append(event.n)

    sub = bus.subscribe(Knock, gate.wrap(old, True), owner="p")
    await gate.close(bus, timeout=1)
    sub.cancel()  # the old version is torn down
    await bus.publish(Knock(n=7))  # nobody of p listens: a stand-in holds it
    bus.subscribe(Knock, gate.wrap(new, True), owner="p")  # the new version
    await gate.open(bus)
    assert seen == [7]


async def test_closing_waits_for_an_in_flight_handler_to_finish() -> None:
    bus, gate = Bus(), Gate("p")
    release = asyncio.Event()
    finished: list[int] = []

    async def slow(event: Knock) -> None:
        await release.wait()
        finished.append(event.n)

    bus.subscribe(Knock, gate.wrap(slow, True), owner="p")
    publishing = asyncio.ensure_future(bus.publish(Knock(n=1)))
    await asyncio.sleep(0)
    assert gate.in_flight == 1
    closing = asyncio.ensure_future(gate.close(bus, timeout=5))
    await asyncio.sleep(0)
    assert not closing.done()
    release.set()
    assert await closing == 0
    await publishing
    assert finished == [1]


async def test_a_handler_past_the_limit_is_cancelled_but_its_publisher_goes_on() -> None:
    bus, gate = Bus(), Gate("p")
    after: list[str] = []

    async def stuck(event: Knock) -> None:
        await asyncio.Event().wait()

    async def publisher() -> None:
        await bus.publish(Knock(n=1))
        after.append("publisher went on")

    bus.subscribe(Knock, gate.wrap(stuck, True), owner="p")
    task = asyncio.ensure_future(publisher())
    await asyncio.sleep(0)
    assert await gate.close(bus, timeout=0.05) == 1
    await asyncio.wait_for(task, timeout=1)
    assert after == ["publisher went on"]
    assert not task.cancelled()
    assert task.cancelling() == 0


async def test_a_real_cancellation_of_the_publisher_still_cancels_it() -> None:
    bus, gate = Bus(), Gate("p")

    async def stuck(event: Knock) -> None:
        await asyncio.Event().wait()

    bus.subscribe(Knock, gate.wrap(stuck, True), owner="p")
    task = asyncio.ensure_future(bus.publish(Knock(n=1)))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert gate.in_flight == 0
