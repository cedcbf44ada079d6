"""Isolation: a failing or slow handler is reported as `HandlerFailed` and delivery goes on."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from hotbus import Bus
from hotbus.schemas import Event, HandlerFailed


class Roll(Event):
    topic = "test.isolation.roll"


class DiceError(Exception):
    """A plugin's own exception."""

    def __init__(self, sides: int) -> None:
        super().__init__(f"a die cannot have {sides} sides")
        self.sides = sides


def explode(event: Event) -> None:
    raise DiceError(0)


async def explode_async(event: Event) -> None:
    raise DiceError(-1)


async def hang(event: Event) -> None:
    await asyncio.Event().wait()  # never set: only the timeout ends this


def _failures(bus: Bus) -> list[HandlerFailed]:
    failures: list[HandlerFailed] = []
    bus.subscribe(HandlerFailed, failures.append)
    return failures


# -- failing handlers --------------------------------------------------------------------------


async def test_failing_handler_does_not_stop_the_others(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Roll, received.append, priority=1)
    bus.subscribe(Roll, explode)
    bus.subscribe(Roll, explode_async)
    bus.subscribe(Roll, received.append, priority=-1)
    roll = Roll()
    await bus.publish(roll)
    assert received == [roll, roll]


async def test_failing_handler_is_reported_as_handler_failed(bus: Bus) -> None:
    failures = _failures(bus)
    bus.subscribe(Roll, explode, owner="dice")
    roll = Roll()
    await bus.publish(roll)
    await bus.join()
    assert [
        (f.handler, f.owner, f.event_topic, f.failed_event_id, f.error.type, f.error.message)
        for f in failures
    ] == [
        (
            f"{__name__}.explode",
            "dice",
            Roll.topic,
            roll.event_id,
            f"{__name__}.DiceError",
            "a die cannot have 0 sides",
        )
    ]


async def test_failing_async_handler_is_reported_as_handler_failed(bus: Bus) -> None:
    failures = _failures(bus)
    bus.subscribe(Roll, explode_async, owner="dice")
    await bus.publish(Roll())
    await bus.join()
    assert [(f.handler, f.error.message, f.timed_out) for f in failures] == [
        (f"{__name__}.explode_async", "a die cannot have -1 sides", False)
    ]


async def test_handler_failed_locates_the_raise(bus: Bus) -> None:
    failures = _failures(bus)
    bus.subscribe(Roll, explode)
    await bus.publish(Roll())
    assert [(f.error.file, f.error.line) for f in failures] == [
        (
            Path(__file__),
            explode.__code__.co_firstlineno + 1,
        )
    ]


async def test_async_handler_past_its_timeout_is_reported_as_timed_out(bus: Bus) -> None:
    failures = _failures(bus)
    bus.subscribe(Roll, hang, owner="dice", timeout=0.01)
    async with asyncio.timeout(5):
        await bus.publish(Roll())
        await bus.join()
    assert [(f.handler, f.error.type, f.timed_out) for f in failures] == [
        (f"{__name__}.hang", "hotbus.schemas.HandlerTimeoutError", True)
    ]


async def test_handlers_after_a_timed_out_handler_still_run(bus: Bus) -> None:
    received: list[Event] = []
    bus.subscribe(Roll, hang, timeout=0.01, priority=1)
    bus.subscribe(Roll, received.append)
    roll = Roll()
    async with asyncio.timeout(5):
        await bus.publish(roll)
    assert received == [roll]


async def test_async_handler_within_its_timeout_is_not_reported(bus: Bus) -> None:
    failures = _failures(bus)
    received: list[Event] = []

    async def quick(event: Event) -> None:
        received.append(event)

    bus.subscribe(Roll, quick, timeout=5)
    await bus.publish(Roll())
    assert (len(received), failures) == (1, [])


async def test_timeout_error_raised_by_a_handler_itself_is_not_a_timeout(bus: Bus) -> None:
    failures = _failures(bus)

    async def gives_up(event: Event) -> None:
        raise TimeoutError("the dice server did not answer")

    bus.subscribe(Roll, gives_up, timeout=5)
    await bus.publish(Roll())
    assert [(f.error.type, f.timed_out) for f in failures] == [("TimeoutError", False)]


# -- failures of failure handlers, and logging -------------------------------------------------


async def test_failing_handler_failed_subscriber_does_not_loop(bus: Bus) -> None:
    calls: list[HandlerFailed] = []

    def broken_reporter(event: HandlerFailed) -> None:
        calls.append(event)
        raise RuntimeError("the reporter is broken too")

    bus.subscribe(HandlerFailed, broken_reporter)
    bus.subscribe(Roll, explode)
    async with asyncio.timeout(5):
        await bus.publish(Roll())
    assert [call.event_topic for call in calls] == [Roll.topic]


async def test_failing_handler_failed_subscriber_is_logged(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_reporter(event: HandlerFailed) -> None:
        raise RuntimeError("the reporter is broken too")

    bus.subscribe(HandlerFailed, broken_reporter, owner="console")
    bus.subscribe(Roll, explode)
    with caplog.at_level(logging.ERROR, logger="hotbus.bus"):
        await bus.publish(Roll())
        await bus.join()
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            "hotbus.bus",
            logging.ERROR,
            f"handler {__name__}.test_failing_handler_failed_subscriber_is_logged.<locals>."
            "broken_reporter (owner console) failed on hotbus.handler.failed: "
            "RuntimeError: the reporter is broken too",
        )
    ]


async def test_failure_without_handler_failed_subscribers_is_logged_at_error(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    bus.subscribe(Roll, explode, owner="dice")
    with caplog.at_level(logging.ERROR, logger="hotbus.bus"):
        await bus.publish(Roll())
        await bus.join()
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            "hotbus.bus",
            logging.ERROR,
            f"handler {__name__}.explode (owner dice) failed on test.isolation.roll: "
            "DiceError: a die cannot have 0 sides",
        )
    ]


async def test_failure_log_carries_the_traceback(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    bus.subscribe(Roll, explode)
    with caplog.at_level(logging.ERROR, logger="hotbus.bus"):
        await bus.publish(Roll())
    assert [type(r.exc_info[1]) if r.exc_info else None for r in caplog.records] == [DiceError]


async def test_failure_with_handler_failed_subscribers_is_not_logged(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    failures = _failures(bus)
    bus.subscribe(Roll, explode)
    with caplog.at_level(logging.DEBUG, logger="hotbus.bus"):
        await bus.publish(Roll())
    assert (len(failures), caplog.records) == (1, [])


# -- strict mode -------------------------------------------------------------------------------


async def test_strict_bus_re_raises_the_original_exception(strict_bus: Bus) -> None:
    strict_bus.subscribe(Roll, explode)
    with pytest.raises(DiceError, match="a die cannot have 0 sides") as caught:
        await strict_bus.publish(Roll())
    assert caught.value.sides == 0


async def test_strict_bus_re_raises_an_async_handlers_exception(strict_bus: Bus) -> None:
    strict_bus.subscribe(Roll, explode_async)
    with pytest.raises(DiceError, match="a die cannot have -1 sides") as caught:
        await strict_bus.publish(Roll())
    assert caught.value.sides == -1


async def test_strict_bus_does_not_publish_handler_failed(strict_bus: Bus) -> None:
    failures = _failures(strict_bus)
    strict_bus.subscribe(Roll, explode)
    with pytest.raises(DiceError, match="0 sides"):
        await strict_bus.publish(Roll())
    assert failures == []


def test_strict_flag_is_reported(strict_bus: Bus, bus: Bus) -> None:
    assert (strict_bus.strict, bus.strict) == (True, False)


SECRET = "hunter2-very-secret"


async def test_a_redacted_owners_failure_never_shows_the_secret(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    def leaky(event: Roll) -> None:
        raise PermissionError(f"login with {SECRET} refused")

    bus.subscribe(Roll, leaky, owner="dice")
    bus.redact("dice", [SECRET])
    with caplog.at_level(logging.ERROR, logger="hotbus.bus"), bus.record(HandlerFailed) as seen:
        await bus.publish(Roll())
        await bus.join()
    (failure,) = seen.of(HandlerFailed)
    assert SECRET not in failure.model_dump_json()
    assert "login with" in failure.error.message


async def test_a_redacted_owners_logged_failure_never_shows_the_secret(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    def leaky(event: Roll) -> None:
        raise PermissionError(f"login with {SECRET} refused")

    bus.subscribe(Roll, leaky, owner="dice")
    bus.redact("dice", [SECRET])
    with caplog.at_level(logging.ERROR, logger="hotbus.bus"):
        await bus.publish(Roll())
        await bus.join()
    assert "login with" in caplog.text
    assert SECRET not in caplog.text


async def test_a_failing_handler_among_async_handlers_only_does_not_stop_the_others(
    bus: Bus,
) -> None:
    failures = _failures(bus)
    received: list[Event] = []

    async def record(event: Event) -> None:
        received.append(event)

    bus.subscribe(Roll, record, priority=1)
    bus.subscribe(Roll, explode_async)
    bus.subscribe(Roll, record, priority=-1)
    roll = Roll()
    await bus.publish(roll)
    assert (received, [f.error.message for f in failures]) == (
        [roll, roll],
        ["a die cannot have -1 sides"],
    )
