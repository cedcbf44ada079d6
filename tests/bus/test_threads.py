"""Threads: other threads hand events over with `post`; only the loop's thread touches the bus."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from hotbus import Bus
from hotbus.schemas import BusError, Event


class Saved(Event):
    topic = "test.threads.saved"


def _ignore(event: Event) -> None:
    """A handler that does nothing."""


def _run_in_thread(target: threading.Thread) -> None:
    target.start()
    target.join(timeout=5)


async def test_post_from_another_thread_delivers_on_the_loop_thread(bus: Bus) -> None:
    handler_threads: list[int] = []
    bus.subscribe(Saved, lambda event: handler_threads.append(threading.get_ident()))
    bus.bind()
    with bus.record(Saved) as recorded:
        poster = threading.Thread(target=bus.post, args=(Saved(),), name="watchdog-like")
        await asyncio.to_thread(_run_in_thread, poster)
        await recorded.wait_for(Saved, timeout=5)
    assert handler_threads == [threading.get_ident()]


async def test_post_returns_true_when_the_event_is_handed_over(bus: Bus) -> None:
    bus.bind()
    with bus.record(Saved) as recorded:
        handed_over = await asyncio.to_thread(bus.post, Saved())
        await recorded.wait_for(Saved, timeout=5)
    assert handed_over is True


async def test_post_delivers_events_in_the_order_posted(bus: Bus) -> None:
    bus.bind()
    events = [Saved() for _ in range(20)]

    def post_all() -> None:
        for event in events:
            bus.post(event)

    with bus.record(Saved) as recorded:
        await asyncio.to_thread(post_all)
        await recorded.wait_for(Saved, lambda event: event is events[-1], timeout=5)
    assert recorded.events == events


def test_post_before_bind_raises_bus_error(bus: Bus) -> None:
    with pytest.raises(BusError, match=r"Bus\.post\(\) needs the bus bound to an event loop"):
        bus.post(Saved())


def test_post_after_the_loop_is_closed_returns_false(bus: Bus) -> None:
    loop = asyncio.new_event_loop()
    bus.bind(loop)
    loop.close()
    assert bus.post(Saved()) is False


def test_bind_without_a_running_loop_raises_bus_error(bus: Bus) -> None:
    with pytest.raises(BusError, match=r"Bus\.bind\(\) needs a running event loop"):
        bus.bind()


async def test_bind_returns_the_running_loop(bus: Bus) -> None:
    assert bus.bind() is asyncio.get_running_loop()


async def test_subscribe_from_another_thread_raises_bus_error_naming_the_thread(
    bus: Bus,
) -> None:
    bus.bind()

    def subscribe_from_this_thread() -> None:
        name = re.escape(repr(threading.current_thread().name))
        with pytest.raises(BusError, match=rf"Bus\.subscribe\(\) was called from thread {name}"):
            bus.subscribe(Saved, _ignore)

    await asyncio.to_thread(subscribe_from_this_thread)
    assert bus.subscriptions() == []


async def test_unsubscribe_from_another_thread_raises_bus_error(bus: Bus) -> None:
    bus.bind()
    sub = bus.subscribe(Saved, _ignore)
    with pytest.raises(BusError, match=r"Bus\.unsubscribe\(\) was called from thread"):
        await asyncio.to_thread(sub.cancel)
    assert sub.active


async def test_publish_binds_the_bus_so_that_other_threads_can_post(bus: Bus) -> None:
    with bus.record(Saved) as recorded:
        await bus.publish(Saved())
        handed_over = await asyncio.to_thread(bus.post, Saved())
        await recorded.wait_for(Saved, lambda event: event is not recorded.events[0], timeout=5)
    assert handed_over is True
