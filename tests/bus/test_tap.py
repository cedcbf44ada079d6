"""Taps: what `Bus.tap` sees, when, and how its failures are contained."""

from __future__ import annotations

import pytest
from hotbus.bus import RUNTIME, Bus
from hotbus.schemas import BusError, Event, HandlerFailed


class Outer(Event):
    topic = "test.tap.outer"


class Inner(Event):
    topic = "test.tap.inner"


class Other(Event):
    topic = "other.tap"


async def test_a_tap_sees_each_event_as_it_is_published_before_the_handlers(bus: Bus) -> None:
    seen: list[str] = []

    async def relay(event: Event) -> None:
        seen.append("outer handler")
        await bus.publish(Inner())

    bus.subscribe(Outer, relay)
    bus.subscribe(Inner, lambda event: seen.append("inner handler"))
    bus.tap("test.tap.*", lambda event: seen.append(f"tap {event.topic}"))
    await bus.publish(Outer())
    await bus.publish(Other())  # outside the tapped pattern
    assert seen == ["tap test.tap.outer", "outer handler", "tap test.tap.inner", "inner handler"]


async def test_a_tap_sees_events_that_no_handler_takes(bus: Bus) -> None:
    seen: list[Event] = []
    assert not bus.has_subscribers(Other.topic)
    bus.tap(">", seen.append)
    assert bus.has_subscribers(Other.topic)
    event = Other()
    await bus.publish(event)
    bus.publish_nowait(Inner())
    await bus.join()
    assert [e.topic for e in seen] == [Other.topic, Inner.topic]
    assert seen[0] is event


async def test_a_tap_is_a_runtime_subscription_listed_muted_and_cancelled_as_others(
    bus: Bus,
) -> None:
    seen: list[Event] = []
    sub = bus.tap(Outer, seen.append)
    assert sub.tap
    assert sub.owner == RUNTIME
    assert sub in bus.subscriptions()
    assert sub in bus.signal(Outer).receivers.values()  # blinker holds it, as any other
    assert "tap" in repr(sub)
    with bus.muted(Outer):
        await bus.publish(Outer())
    assert seen == []
    await bus.publish(Outer())
    assert len(seen) == 1
    assert sub.cancel()
    await bus.publish(Outer())
    assert len(seen) == 1
    assert sub not in bus.subscriptions()


async def test_a_delivery_to_one_plugin_does_not_reach_the_taps(bus: Bus) -> None:
    seen: list[Event] = []
    got: list[Event] = []
    bus.tap(">", seen.append)
    bus.subscribe(Outer, got.append, owner="dice")
    assert await bus.deliver(Outer(), owner="dice") == 1
    await bus.join()
    assert len(got) == 1
    assert seen == []


async def test_a_failing_tap_is_reported_and_the_publish_goes_on(bus: Bus) -> None:
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise ValueError("tap broke")

    bus.subscribe(Outer, got.append)
    bus.tap(Outer, broken)
    with bus.record(HandlerFailed) as failures:
        await bus.publish(Outer())
    assert len(got) == 1
    [failure] = failures.of(HandlerFailed)
    assert failure.handler.endswith("broken")
    assert failure.owner == RUNTIME
    assert failure.event_topic == Outer.topic
    assert failure.error.type.endswith("ValueError")
    assert "tap broke" in failure.error.message


async def test_several_taps_each_run_and_each_failure_is_reported(bus: Bus) -> None:
    seen: list[str] = []

    def first(event: Event) -> None:
        seen.append("first")
        raise ValueError("first broke")

    def second(event: Event) -> None:
        seen.append("second")
        raise KeyError("second broke")

    bus.tap(Outer, first)
    bus.tap("test.tap.>", second)
    bus.tap(">", lambda event: seen.append(f"third {event.topic}"))
    with bus.record(HandlerFailed) as failures:
        await bus.publish(Outer())
    failed = f"third {HandlerFailed.topic}"
    assert seen == ["first", "second", f"third {Outer.topic}", failed, failed]
    assert sorted(f.handler.rsplit(".", 1)[-1] for f in failures.of(HandlerFailed)) == [
        "first",
        "second",
    ]


async def test_in_strict_mode_a_failing_tap_raises(strict_bus: Bus) -> None:
    def broken(event: Event) -> None:
        raise ValueError("tap broke")

    strict_bus.tap(Outer, broken)
    with pytest.raises(ValueError, match="tap broke"):
        await strict_bus.publish(Outer())


async def test_a_coroutine_function_cannot_tap(bus: Bus) -> None:
    async def handler(event: Event) -> None:
        pass

    with pytest.raises(BusError, match="a tap must be a plain callable"):
        bus.tap(Outer, handler)
    with pytest.raises(BusError, match="a tap must be a plain callable"):
        bus.tap(Outer, "not callable")  # type: ignore[arg-type]
