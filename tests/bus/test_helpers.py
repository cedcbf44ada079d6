"""Test helpers of the public API: record, wait_for, muted, connected_to."""

from __future__ import annotations

import asyncio

import pytest
from hotbus import Event
from hotbus.bus import Bus, Recorder


class Ping(Event):
    topic = "test.helpers.ping"

    n: int = 0


class Pong(Event):
    topic = "test.helpers.pong"

    n: int = 0


class Other(Event):
    topic = "test.elsewhere.other"


# -- record ------------------------------------------------------------------------------------


async def test_record_keeps_events_in_publish_order_including_nested_publishes(bus: Bus) -> None:
    async def answer(event: Event) -> None:
        await bus.publish(Pong())

    bus.subscribe(Ping, answer, priority=100)
    with bus.record() as recorded:
        await bus.publish(Ping(n=1))
        await bus.publish(Ping(n=2))
    assert recorded.topics() == [Ping.topic, Pong.topic, Ping.topic, Pong.topic]


async def test_record_keeps_only_events_matching_its_topic(bus: Bus) -> None:
    with bus.record("test.helpers.*") as recorded:
        for event in (Ping(), Other(), Pong()):
            await bus.publish(event)
    assert recorded.topics() == [Ping.topic, Pong.topic]


async def test_record_keeps_only_events_published_inside_the_block(bus: Bus) -> None:
    inside = Ping(n=2)
    await bus.publish(Ping(n=1))
    with bus.record(Ping) as recorded:
        await bus.publish(inside)
    await bus.publish(Ping(n=3))
    assert recorded.events == [inside]


async def test_record_unsubscribes_when_the_block_ends(bus: Bus) -> None:
    with bus.record(Ping):
        pass
    assert bus.subscriptions() == []


async def test_recorder_of_selects_events_by_class(bus: Bus) -> None:
    with bus.record() as recorded:
        for event in (Ping(n=1), Pong(), Ping(n=2)):
            await bus.publish(event)
    assert [event.n for event in recorded.of(Ping)] == [1, 2]


# -- wait_for ----------------------------------------------------------------------------------


async def test_wait_for_returns_matching_events_one_after_another(bus: Bus) -> None:
    events = [Ping(n=1), Pong(), Ping(n=2)]
    with bus.record() as recorded:
        for event in events:
            await bus.publish(event)
        found = [await recorded.wait_for(Ping, timeout=1) for _ in range(2)]
    assert found == [events[0], events[2]]


async def test_waiting_for_one_topic_never_skips_an_earlier_event_of_another(bus: Bus) -> None:
    with bus.record() as recorded:
        await bus.publish(Pong(n=1))
        await bus.publish(Ping(n=2))
        assert (await recorded.wait_for(Ping, timeout=1)).n == 2
        assert (await recorded.wait_for(Pong, timeout=1)).n == 1  # recorded before that Ping


async def test_each_topic_is_consumed_in_order_by_its_own_waits(bus: Bus) -> None:
    with bus.record() as recorded:
        for n in range(2):
            await bus.publish(Ping(n=n))
            await bus.publish(Pong(n=n))
        pings = [(await recorded.wait_for(Ping, timeout=1)).n for _ in range(2)]
        pongs = [(await recorded.wait_for(Pong, timeout=1)).n for _ in range(2)]
    assert (pings, pongs) == ([0, 1], [0, 1])


async def test_wait_for_accepts_a_pattern(bus: Bus) -> None:
    pong = Pong()
    with bus.record() as recorded:
        await bus.publish(Other())
        await bus.publish(pong)
        found = await recorded.wait_for("test.helpers.*", timeout=1)
    assert found is pong


async def test_wait_for_filters_with_where(bus: Bus) -> None:
    with bus.record() as recorded:
        for n in range(5):
            await bus.publish(Ping(n=n))
        found = await recorded.wait_for(Ping, lambda event: event.n > 2, timeout=1)
    assert found.n == 3


async def test_wait_for_waits_for_an_event_published_later(bus: Bus) -> None:
    ping = Ping()
    with bus.record() as recorded:
        waiter = asyncio.create_task(recorded.wait_for(Ping, timeout=5))
        await asyncio.sleep(0)  # one loop step: the waiter runs, finds nothing, and waits
        bus.publish_nowait(ping)
        found = await waiter
    assert found is ping


async def test_wait_for_times_out_listing_what_was_recorded(bus: Bus) -> None:
    with bus.record() as recorded:
        await bus.publish(Ping())
        await bus.publish(Other())
        with pytest.raises(
            TimeoutError,
            match=r"no 'test\.helpers\.pong' event within 0\.05 s; recorded since the last "
            r"match: test\.helpers\.ping, test\.elsewhere\.other$",
        ):
            await recorded.wait_for(Pong, timeout=0.05)
    assert len(recorded) == 2


async def test_wait_for_timeout_mentions_the_condition(bus: Bus) -> None:
    with bus.record() as recorded:
        await bus.publish(Ping(n=1))
        with pytest.raises(
            TimeoutError, match=r"event matching the condition within .*: test\.helpers\.ping$"
        ):
            await recorded.wait_for(Ping, lambda event: event.n > 1, timeout=0.05)
    assert recorded.topics() == [Ping.topic]


# -- muted -------------------------------------------------------------------------------------


async def test_muted_suppresses_delivery_for_its_patterns(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(">", received.append)
    with bus.muted("test.helpers.*"):
        await bus.publish(Ping())
        await bus.publish(Pong())
    assert received == []


async def test_muted_delivers_other_topics(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(">", received.append)
    other = Other()
    with bus.muted(Ping, "test.helpers.pong"):
        await bus.publish(Ping())
        await bus.publish(other)
    assert received == [other]


async def test_muted_restores_delivery_after_the_block(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Ping, received.append)
    with bus.muted(Ping):
        await bus.publish(Ping(n=1))
    after = Ping(n=2)
    await bus.publish(after)
    assert received == [after]


async def test_muted_without_topics_suppresses_everything(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(">", received.append)
    with bus.muted():
        await bus.publish(Ping())
        await bus.publish(Other())
    assert received == []


async def test_muted_topic_has_no_subscribers(bus: Bus) -> None:
    bus.subscribe(">", lambda event: None)
    with bus.muted(Ping):
        assert not bus.has_subscribers(Ping.topic)


# -- connected_to ------------------------------------------------------------------------------


async def test_connected_to_subscribes_only_inside_the_block(bus: Bus) -> None:
    received: list[Event] = []
    inside = Ping(n=2)
    await bus.publish(Ping(n=1))
    with bus.connected_to(received.append, Ping):
        await bus.publish(inside)
    await bus.publish(Ping(n=3))
    assert received == [inside]


async def test_connected_to_unsubscribes_when_the_block_raises(bus: Bus) -> None:
    with pytest.raises(KeyError, match="boom"), bus.connected_to(lambda event: None, Ping):
        raise KeyError("boom")
    assert bus.subscriptions() == []


def test_connected_to_yields_the_subscription(bus: Bus) -> None:
    with bus.connected_to(lambda event: None, Ping, owner="dice") as sub:
        assert bus.subscriptions("dice") == [sub]


# -- the Recorder itself -----------------------------------------------------------------------


async def test_recorder_clear_forgets_events_and_restarts_wait_for(bus: Bus) -> None:
    later = Ping(n=2)
    with bus.record(Ping) as recorded:
        await bus.publish(Ping(n=1))
        await recorded.wait_for(Ping, timeout=1)
        recorded.clear()
        await bus.publish(later)
        found = await recorded.wait_for(Ping, timeout=1)
    assert (found, recorded.events) == (later, [later])


def test_closed_recorder_records_nothing() -> None:
    recorder = Recorder(">")
    recorder.close()
    recorder.append(Ping())
    assert list(recorder) == []


def test_recorder_repr_shows_pattern_and_count() -> None:
    recorder = Recorder("test.helpers.*")
    recorder.append(Ping())
    assert repr(recorder) == "<hotbus Recorder 'test.helpers.*' events=1>"
