"""Publishing: nested publishes, the depth limit that stops loops, and the publish_nowait queue."""

from __future__ import annotations

import asyncio

import pytest
from hotbus import Bus
from hotbus.schemas import BusError, Event, HandlerFailed, PublishDepthError


class Alpha(Event):
    topic = "test.publish.alpha"

    n: int = 0


class Beta(Event):
    topic = "test.publish.beta"


def _error_class(failure: HandlerFailed) -> str:
    return failure.error.type.rsplit(".", maxsplit=1)[-1]


def _async_loop(bus: Bus) -> None:
    """Alpha's handler publishes Beta, whose handler publishes Alpha: a loop, awaited."""

    async def alpha_to_beta(event: Event) -> None:
        await bus.publish(Beta())

    async def beta_to_alpha(event: Event) -> None:
        await bus.publish(Alpha())

    bus.subscribe(Alpha, alpha_to_beta)
    bus.subscribe(Beta, beta_to_alpha)


def _sync_loop(bus: Bus) -> None:
    """The same loop with sync handlers, queued with publish_nowait."""
    bus.subscribe(Alpha, lambda event: bus.publish_nowait(Beta()))
    bus.subscribe(Beta, lambda event: bus.publish_nowait(Alpha()))


# -- nested publishes --------------------------------------------------------------------------


async def test_handler_publishing_during_dispatch_delivers_the_nested_event(bus: Bus) -> None:
    received: list[Event] = []

    async def relay(event: Event) -> None:
        await bus.publish(Beta())

    bus.subscribe(Alpha, relay)
    bus.subscribe(Beta, received.append)
    await bus.publish(Alpha())
    assert [event.topic for event in received] == [Beta.topic]


async def test_nested_publish_completes_before_the_outer_handlers_go_on(bus: Bus) -> None:
    calls: list[str] = []

    async def relay(event: Event) -> None:
        calls.append("relay starts")
        await bus.publish(Beta())
        calls.append("relay ends")

    bus.subscribe(Alpha, relay)
    bus.subscribe(Alpha, lambda event: calls.append("next alpha handler"))
    bus.subscribe(Beta, lambda event: calls.append("beta handler"))
    await bus.publish(Alpha())
    assert calls == ["relay starts", "beta handler", "relay ends", "next alpha handler"]


async def test_async_publish_loop_is_stopped_by_publish_depth_error() -> None:
    bus = Bus(max_depth=8)
    _async_loop(bus)
    with bus.record(HandlerFailed) as failures:
        async with asyncio.timeout(5):
            await bus.publish(Alpha())
    assert [_error_class(failure) for failure in failures.of(HandlerFailed)] == [
        "PublishDepthError"
    ]


async def test_async_publish_loop_runs_max_depth_publishes_deep() -> None:
    bus = Bus(max_depth=8)
    _async_loop(bus)
    with bus.record("test.publish.*") as recorded:
        async with asyncio.timeout(5):
            await bus.publish(Alpha())
    assert recorded.topics() == [Alpha.topic, Beta.topic] * 4


async def test_sync_publish_nowait_loop_is_stopped_by_publish_depth_error() -> None:
    bus = Bus(max_depth=8)
    _sync_loop(bus)
    with bus.record(HandlerFailed) as failures:
        await bus.publish(Alpha())
        async with asyncio.timeout(5):
            await bus.join()
    assert [_error_class(failure) for failure in failures.of(HandlerFailed)] == [
        "PublishDepthError"
    ]


async def test_sync_publish_nowait_loop_runs_max_depth_publishes_deep() -> None:
    bus = Bus(max_depth=8)
    _sync_loop(bus)
    with bus.record("test.publish.*") as recorded:
        bus.publish_nowait(Alpha())
        async with asyncio.timeout(5):
            await bus.join()
    assert recorded.topics() == [Alpha.topic, Beta.topic] * 4


async def test_strict_bus_raises_publish_depth_error_out_of_publish() -> None:
    bus = Bus(strict=True, max_depth=4)
    _async_loop(bus)
    with pytest.raises(
        PublishDepthError, match=r"would nest 5 publishes deep \(limit 4\)"
    ) as caught:
        await bus.publish(Alpha())
    assert (caught.value.topic, caught.value.chain, caught.value.limit) == (
        Alpha.topic,
        (Alpha.topic, Beta.topic, Alpha.topic, Beta.topic),
        4,
    )


@pytest.mark.parametrize("max_depth", [0, -1])
def test_max_depth_below_one_is_rejected(max_depth: int) -> None:
    with pytest.raises(BusError, match=f"max_depth must be at least 1, got {max_depth}"):
        Bus(max_depth=max_depth)


# -- publish_nowait ----------------------------------------------------------------------------


async def test_publish_nowait_returns_before_delivering(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Alpha, received.append)
    bus.publish_nowait(Alpha())
    delivered_at_once = list(received)
    await bus.join()
    assert delivered_at_once == []


async def test_join_waits_until_queued_events_are_delivered_in_the_order_queued(
    bus: Bus,
) -> None:
    received: list[Event] = []

    async def handler(event: Event) -> None:
        await asyncio.sleep(0)  # let the loop run other things between deliveries
        received.append(event)

    bus.subscribe(Alpha, handler)
    queued = [Alpha(n=n) for n in range(5)]
    for event in queued:
        bus.publish_nowait(event)
    async with asyncio.timeout(5):
        await bus.join()
    assert received == queued


def test_publish_nowait_without_a_running_loop_raises_bus_error(bus: Bus) -> None:
    bus.subscribe(Alpha, lambda event: None)
    with pytest.raises(BusError, match=r"needs a running event loop"):
        bus.publish_nowait(Alpha())


async def test_join_re_raises_a_handler_error_in_strict_mode(strict_bus: Bus) -> None:
    def explode(event: Event) -> None:
        raise LookupError("no such dice")

    strict_bus.subscribe(Alpha, explode)
    strict_bus.publish_nowait(Alpha())
    with pytest.raises(LookupError, match="no such dice"):
        await strict_bus.join()


async def test_join_re_raises_the_first_handler_error_in_strict_mode(strict_bus: Bus) -> None:
    def explode(event: Alpha) -> None:
        raise LookupError(f"failed on event {event.n}")

    strict_bus.subscribe(Alpha, explode)
    strict_bus.publish_nowait(Alpha(n=1))
    strict_bus.publish_nowait(Alpha(n=2))
    with pytest.raises(LookupError, match="failed on event 1"):
        await strict_bus.join()


async def test_join_raises_a_strict_mode_error_only_once(strict_bus: Bus) -> None:
    def explode(event: Event) -> None:
        raise LookupError("no such dice")

    strict_bus.subscribe(Alpha, explode)
    strict_bus.publish_nowait(Alpha())
    with pytest.raises(LookupError, match="no such dice"):
        await strict_bus.join()
    await strict_bus.join()


# -- delivering to one owner -------------------------------------------------------------------


async def test_deliver_reaches_only_the_owners_subscriptions_in_order(bus: Bus) -> None:
    calls: list[str] = []
    bus.subscribe(Alpha, lambda event: calls.append("dice low"), owner="dice", priority=-1)
    bus.subscribe(Alpha, lambda event: calls.append("greeter"), owner="greeter")
    bus.subscribe("test.publish.*", lambda event: calls.append("dice star"), owner="dice")
    reached = await bus.deliver(Alpha(), owner="dice")
    await bus.join()
    assert (reached, calls) == (2, ["dice star", "dice low"])


async def test_deliver_to_an_owner_without_matching_subscriptions_returns_zero(
    bus: Bus,
) -> None:
    received: list[Event] = []
    bus.subscribe(Alpha, received.append, owner="greeter")
    reached = await bus.deliver(Alpha(), owner="dice")
    assert (reached, received) == (0, [])


async def test_deliver_reports_a_failing_handler(bus: Bus) -> None:
    def explode(event: Event) -> None:
        raise LookupError("no such dice")

    bus.subscribe(Alpha, explode, owner="dice")
    with bus.record(HandlerFailed) as failures:
        await bus.deliver(Alpha(), owner="dice")
        await bus.join()
    assert [(f.owner, f.error.message) for f in failures.of(HandlerFailed)] == [
        ("dice", "no such dice")
    ]


async def test_publish_to_an_owner_is_deliver(bus: Bus) -> None:
    calls: list[str] = []
    bus.subscribe(Alpha, lambda event: calls.append("dice"), owner="dice")
    bus.subscribe(Alpha, lambda event: calls.append("greeter"), owner="greeter")
    await bus.publish(Alpha(), owner="greeter")
    await bus.join()
    assert calls == ["greeter"]
