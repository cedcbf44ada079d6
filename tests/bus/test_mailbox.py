"""Per-owner delivery: each owner's mailbox delivers in publish order, one event at a time, and a
slow or hung handler delays only its own owner; pausing holds an owner's events for a reload."""

from __future__ import annotations

import asyncio

import pytest
from hotbus import Bus, Event
from hotbus.schemas import HandlerFailed

LIMIT = 5


class Knock(Event):
    topic = "mailbox.knock"
    n: int = 0


class Reply(Event):
    topic = "mailbox.reply"
    n: int = 0


async def test_publish_returns_before_another_owners_handlers_run(bus: Bus) -> None:
    seen: list[int] = []
    bus.subscribe(Knock, lambda event: seen.append(event.n), owner="p")
    await bus.publish(Knock(n=1))
    assert seen == []
    await bus.join()
    assert seen == [1]


async def test_the_runtimes_own_handlers_run_during_publish(bus: Bus) -> None:
    seen: list[int] = []
    bus.subscribe(Knock, lambda event: seen.append(event.n))
    await bus.publish(Knock(n=1))
    assert seen == [1]


async def test_each_owner_receives_events_in_publish_order(bus: Bus) -> None:
    seen: list[tuple[str, int]] = []

    async def slow(event: Knock) -> None:
        await asyncio.sleep(0.001 * (5 - event.n))  # earlier events take longer
        seen.append(("p", event.n))

    bus.subscribe(Knock, slow, owner="p")
    bus.subscribe(Knock, lambda event: seen.append(("q", event.n)), owner="q")
    for n in range(5):
        await bus.publish(Knock(n=n))
    await bus.join()
    assert [n for owner, n in seen if owner == "p"] == [0, 1, 2, 3, 4]
    assert [n for owner, n in seen if owner == "q"] == [0, 1, 2, 3, 4]


async def test_a_hung_handler_delays_only_its_own_owner(bus: Bus) -> None:
    replies: asyncio.Queue[int] = asyncio.Queue()
    release = asyncio.Event()

    async def hung(event: Knock) -> None:
        await release.wait()

    bus.subscribe(Knock, hung, owner="slow")
    bus.subscribe(Knock, lambda event: replies.put_nowait(event.n), owner="fast")
    for n in range(3):
        await bus.publish(Knock(n=n))
    async with asyncio.timeout(LIMIT):
        assert [await replies.get() for _ in range(3)] == [0, 1, 2]
    release.set()
    await asyncio.wait_for(bus.join(), LIMIT)


async def test_a_handler_publishing_to_its_own_owner_does_not_deadlock(bus: Bus) -> None:
    seen: list[str] = []

    async def knock(event: Knock) -> None:
        seen.append("knock")
        await bus.publish(Reply(n=event.n))
        seen.append("published")

    bus.subscribe(Knock, knock, owner="p")
    bus.subscribe(Reply, lambda event: seen.append("reply"), owner="p")
    await bus.publish(Knock())
    await asyncio.wait_for(bus.join(), LIMIT)
    assert seen == ["knock", "published", "reply"]


async def test_two_owners_answering_each_other_do_not_deadlock(bus: Bus) -> None:
    seen: list[str] = []

    async def ping(event: Knock) -> None:
        await bus.publish(Reply(n=event.n))
        seen.append("ping done")

    async def pong(event: Reply) -> None:
        if event.n < 3:
            await bus.publish(Knock(n=event.n + 1))
        seen.append(f"pong {event.n}")

    bus.subscribe(Knock, ping, owner="a")
    bus.subscribe(Reply, pong, owner="b")
    await bus.publish(Knock())
    await asyncio.wait_for(bus.join(), LIMIT)
    assert [s for s in seen if s.startswith("pong")] == ["pong 0", "pong 1", "pong 2", "pong 3"]


@pytest.mark.parametrize(
    "error",
    [KeyboardInterrupt(), SystemExit(3), GeneratorExit(), asyncio.CancelledError()],
    ids=lambda error: type(error).__name__,
)
async def test_a_base_exception_from_a_handler_is_that_handlers_failure(
    bus: Bus, error: BaseException
) -> None:
    seen: list[int] = []

    async def rude(event: Knock) -> None:
        raise error

    bus.subscribe(Knock, rude, owner="p", priority=1)
    bus.subscribe(Knock, lambda event: seen.append(event.n), owner="p")
    with bus.record(HandlerFailed) as failures:
        await bus.publish(Knock(n=1))
        await bus.publish(Knock(n=2))
        await asyncio.wait_for(bus.join(), LIMIT)
    assert seen == [1, 2]
    kind = type(error)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    assert [(f.owner, f.error.type) for f in failures.of(HandlerFailed)] == [("p", name)] * 2


async def test_strict_mode_raises_a_mailbox_handlers_error_from_join(strict_bus: Bus) -> None:
    def explode(event: Knock) -> None:
        raise LookupError("no such door")

    strict_bus.subscribe(Knock, explode, owner="p")
    await strict_bus.publish(Knock())
    with pytest.raises(LookupError, match="no such door"):
        await strict_bus.join()


# -- pausing for a reload ----------------------------------------------------------------------


async def test_a_paused_owner_gets_what_arrived_after_resume_in_order(bus: Bus) -> None:
    seen: list[int] = []
    bus.subscribe(Knock, lambda event: seen.append(event.n), owner="p")
    bus.subscribe("mailbox.*", lambda event: seen.append(-event.n), owner="p")
    assert await bus.pause("p", LIMIT) == 0
    await bus.publish(Knock(n=1))
    await bus.publish(Knock(n=2))
    await bus.join()
    assert seen == []
    assert bus.resume("p") == 2
    await bus.join()
    assert seen == [1, -1, 2, -2]  # each event once, to every handler of the owner, in order


async def test_events_wait_while_a_paused_owner_has_no_subscription_at_all(bus: Bus) -> None:
    seen: list[int] = []
    old = bus.subscribe(Knock, lambda event: seen.append(-event.n), owner="p")
    await bus.pause("p", LIMIT)
    old.cancel()  # the old version is torn down
    await bus.publish(Knock(n=7))  # nobody of p listens, but p listened to it: it waits
    bus.subscribe(Knock, lambda event: seen.append(event.n), owner="p")  # the new version
    bus.resume("p")
    await bus.join()
    assert seen == [7]


async def test_pausing_lets_the_delivery_under_way_finish(bus: Bus) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[int] = []

    async def slow(event: Knock) -> None:
        started.set()
        await release.wait()
        finished.append(event.n)

    bus.subscribe(Knock, slow, owner="p")
    await bus.publish(Knock(n=1))
    await asyncio.wait_for(started.wait(), LIMIT)
    pausing = asyncio.ensure_future(bus.pause("p", LIMIT))
    await asyncio.wait({pausing}, timeout=0.05)
    assert not pausing.done()
    release.set()
    assert await asyncio.wait_for(pausing, LIMIT) == 0
    assert finished == [1]


async def test_a_delivery_past_the_limit_is_cancelled_and_reported(bus: Bus) -> None:
    started = asyncio.Event()
    seen: list[int] = []

    async def stuck(event: Knock) -> None:
        if event.n == 1:
            started.set()
            await asyncio.Event().wait()
        seen.append(event.n)

    bus.subscribe(Knock, stuck, owner="p")
    await bus.publish(Knock(n=1))
    await asyncio.wait_for(started.wait(), LIMIT)
    await bus.publish(Knock(n=2))
    assert await bus.pause("p", 0.05) == 1
    bus.resume("p")
    await asyncio.wait_for(bus.join(), LIMIT)
    assert seen == [2]  # the cancelled one is not delivered again


async def test_a_handler_swallowing_cancellation_is_abandoned(bus: Bus) -> None:
    started, done = asyncio.Event(), asyncio.Event()
    seen: list[int] = []

    async def stubborn(event: Knock) -> None:
        if event.n == 1:
            started.set()
            while not done.is_set():  # ignores every cancellation until the test ends
                try:
                    await done.wait()
                except asyncio.CancelledError:
                    continue
        seen.append(event.n)

    bus.subscribe(Knock, stubborn, owner="p")
    await bus.publish(Knock(n=1))
    await asyncio.wait_for(started.wait(), LIMIT)
    await bus.publish(Knock(n=2))
    assert await asyncio.wait_for(bus.pause("p", 0.05), LIMIT) == 1
    bus.resume("p")
    await asyncio.wait_for(bus.join(), LIMIT)
    assert seen == [2]
    done.set()


async def test_a_publisher_is_never_cancelled_by_a_pause(bus: Bus) -> None:
    started = asyncio.Event()
    after: list[str] = []

    async def stuck(event: Knock) -> None:
        started.set()
        await asyncio.Event().wait()

    async def publisher() -> None:
        await bus.publish(Knock(n=1))
        await asyncio.wait_for(started.wait(), LIMIT)
        after.append("publisher went on")

    bus.subscribe(Knock, stuck, owner="p")
    task = asyncio.ensure_future(publisher())
    await asyncio.wait_for(started.wait(), LIMIT)
    assert await bus.pause("p", 0.05) == 1
    await asyncio.wait_for(task, LIMIT)
    assert (after, task.cancelling()) == (["publisher went on"], 0)
