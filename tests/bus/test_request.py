"""Request/reply on the bus: `Bus.request` publishes a request and returns the event the
serving owner's handler returns; no responder, a silent one, a failing one and a timeout each
raise their own error naming the topic; a request between two owners being drained for a
reload is still served, so that the drain does not wait for itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hotbus import Bus, Event
from hotbus.schemas import (
    HandlerFailed,
    NoResponderError,
    RequestError,
    RequestTimeoutError,
    ResponderError,
)

LIMIT = 5.0


class Roll(Event):
    topic = "rng.roll"
    sides: int


class Rolled(Event):
    topic = "rng.rolled"
    value: int


def rolled(event: Any) -> Rolled:
    return Rolled(value=event.sides - 1)


async def test_the_reply_is_what_the_responders_handler_returns(bus: Bus) -> None:
    bus.subscribe(Roll, rolled, owner="rng")
    reply = await bus.request(Roll(sides=6), timeout=LIMIT)
    assert isinstance(reply, Rolled)
    assert reply.value == 5


async def test_an_async_handler_replies_too(bus: Bus) -> None:
    async def answer(event: Any) -> Rolled:
        await asyncio.sleep(0)
        return rolled(event)

    bus.subscribe(Roll, answer, owner="rng")
    assert (await bus.request(Roll(sides=4), timeout=LIMIT)).model_dump()["value"] == 3


async def test_a_handler_with_a_timeout_replies_too(bus: Bus) -> None:
    async def answer(event: Any) -> Rolled:
        return rolled(event)

    bus.subscribe(Roll, answer, owner="rng", timeout=LIMIT)
    assert (await bus.request(Roll(sides=4), timeout=LIMIT)).model_dump()["value"] == 3


async def test_the_reply_is_not_published(bus: Bus) -> None:
    bus.subscribe(Roll, rolled, owner="rng")
    with bus.record(Rolled) as recorded:
        await bus.request(Roll(sides=6), timeout=LIMIT)
        await bus.join()
    assert len(recorded) == 0


async def test_the_request_is_published_like_any_event(bus: Bus) -> None:
    bus.subscribe(Roll, rolled, owner="rng")
    with bus.record(Roll) as recorded:
        await bus.request(Roll(sides=6), timeout=LIMIT)
    assert recorded.topics() == ["rng.roll"]


async def test_the_first_reply_of_two_responders_is_returned(bus: Bus) -> None:
    release = asyncio.Event()

    async def late(event: Any) -> Rolled:
        await release.wait()
        return Rolled(value=99)

    bus.subscribe(Roll, late, owner="slow")
    bus.subscribe(Roll, rolled, owner="rng")
    reply = await bus.request(Roll(sides=6), timeout=LIMIT)
    release.set()
    await bus.join()
    assert reply.model_dump()["value"] == 5


async def test_a_listener_that_returns_nothing_does_not_hide_the_reply(bus: Bus) -> None:
    bus.subscribe(">", lambda event: None, owner="logger")
    bus.subscribe(Roll, rolled, owner="rng")
    assert (await bus.request(Roll(sides=6), timeout=LIMIT)).model_dump()["value"] == 5


# -- no reply ----------------------------------------------------------------------------------


async def test_without_a_responder_the_request_fails_naming_the_topic(bus: Bus) -> None:
    with pytest.raises(NoResponderError, match=r"request 'rng\.roll': no plugin serves") as caught:
        await bus.request(Roll(sides=6), timeout=LIMIT)
    assert (caught.value.topic, caught.value.received_by) == ("rng.roll", ())


async def test_the_requesters_own_handler_is_no_responder(bus: Bus) -> None:
    bus.subscribe(Roll, rolled, owner="dice")
    with pytest.raises(NoResponderError):
        await bus.request(Roll(sides=6), timeout=LIMIT, owner="dice")


async def test_a_responder_returning_nothing_is_named(bus: Bus) -> None:
    bus.subscribe(Roll, lambda event: None, owner="rng")
    with pytest.raises(NoResponderError, match="rng received it and returned no event") as caught:
        await bus.request(Roll(sides=6), timeout=LIMIT)
    assert caught.value.received_by == ("rng",)


async def test_a_failing_responder_fails_the_request_naming_it(bus: Bus) -> None:
    def broken(event: Any) -> Rolled:
        raise ValueError("no dice today")

    bus.subscribe(Roll, broken, owner="rng")
    with pytest.raises(ResponderError, match="rng failed to answer: ValueError: no dice") as caught:
        await bus.request(Roll(sides=6), timeout=LIMIT)
    assert (caught.value.topic, caught.value.plugin) == ("rng.roll", "rng")


async def test_a_failing_responder_is_reported_as_a_failed_handler(bus: Bus) -> None:
    def broken(event: Any) -> Rolled:
        raise ValueError("no dice today")

    bus.subscribe(Roll, broken, owner="rng")
    with bus.record(HandlerFailed) as recorded, pytest.raises(ResponderError):
        await bus.request(Roll(sides=6), timeout=LIMIT)
    assert [e.owner for e in recorded.of(HandlerFailed)] == ["rng"]


async def test_a_failing_responders_secrets_are_masked(bus: Bus) -> None:
    def broken(event: Any) -> Rolled:
        raise ValueError("bad token hunter2-secret")

    bus.subscribe(Roll, broken, owner="rng")
    bus.redact("rng", ["hunter2-secret"])
    with pytest.raises(ResponderError) as caught:
        await bus.request(Roll(sides=6), timeout=LIMIT)
    assert "hunter2-secret" not in str(caught.value)


async def test_a_reply_wins_over_another_responders_failure(bus: Bus) -> None:
    def broken(event: Any) -> None:
        raise ValueError("not me")

    bus.subscribe(Roll, broken, owner="logger")
    bus.subscribe(Roll, rolled, owner="rng")
    assert (await bus.request(Roll(sides=6), timeout=LIMIT)).model_dump()["value"] == 5


async def test_a_slow_responder_times_the_request_out(bus: Bus) -> None:
    release = asyncio.Event()

    async def hung(event: Any) -> Rolled:
        await release.wait()
        return rolled(event)

    bus.subscribe(Roll, hung, owner="rng")
    with pytest.raises(RequestTimeoutError, match=r"no reply from rng within 0.05 s") as caught:
        await bus.request(Roll(sides=6), timeout=0.05)
    release.set()
    await bus.join()
    assert (caught.value.topic, caught.value.waiting, caught.value.timeout) == (
        "rng.roll",
        ("rng",),
        0.05,
    )


def test_every_request_error_is_a_request_error() -> None:
    errors = [
        NoResponderError("a.b"),
        ResponderError("a.b", "p", "ValueError: x"),
        RequestTimeoutError("a.b", 1.0),
    ]
    assert all(isinstance(e, RequestError) and e.topic == "a.b" for e in errors)


# -- while the owners are drained for a reload -------------------------------------------------


async def test_a_request_between_two_owners_being_drained_is_served(bus: Bus) -> None:
    """Owner "dice", in a handler, asks "rng" while both are paused for one reload: rng's old
    handler answers, so that dice's handler, and the drain waiting for it, end at once."""
    asked = asyncio.Event()
    answers: list[int] = []

    async def on_knock(event: Any) -> None:
        asked.set()
        await asyncio.sleep(0.05)  # the drain of both owners has begun meanwhile
        reply = await bus.request(Roll(sides=6), timeout=LIMIT, owner="dice")
        answers.append(reply.model_dump()["value"])

    bus.subscribe("dice.knock", on_knock, owner="dice")
    bus.subscribe(Roll, rolled, owner="rng")
    await bus.publish(Roll(sides=1))  # rng's mailbox exists, idle
    await bus.join()

    class Knock(Event):
        topic = "dice.knock"

    await bus.publish(Knock())
    await asked.wait()
    cancelled = await asyncio.gather(bus.pause("dice", LIMIT), bus.pause("rng", LIMIT))
    assert (list(cancelled), answers) == ([0, 0], [5])
    bus.resume("dice")
    bus.resume("rng")


async def test_a_request_to_a_paused_owner_from_elsewhere_waits_for_the_resume(
    bus: Bus,
) -> None:
    bus.subscribe(Roll, rolled, owner="rng")
    await bus.pause("rng", LIMIT)
    asking = asyncio.ensure_future(bus.request(Roll(sides=6), timeout=LIMIT))
    await asyncio.sleep(0.05)
    assert not asking.done()
    bus.resume("rng")
    assert (await asking).model_dump()["value"] == 5
