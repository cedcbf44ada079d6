"""Request/reply between plugins across reloads: ``ctx.request`` returns the reply of the plugin
serving the topic; a request in flight while its responder is saved (under the real watcher) is
answered exactly once, by the old version or the new one; a requester reloading in the same
transaction as its responder does not hold the reload up; no responder is a clear error."""

from __future__ import annotations

import asyncio
from typing import Any

from hotbus import Event
from hotbus.schemas import (
    HandlerFailed,
    HandlersCancelled,
    NoResponderError,
    ReloadCommitted,
    RequestError,
)
from hotbus.testing import Harness

TIMEOUT = 10.0

ORACLE = """
import asyncio
from typing import Any

from hotbus import Event, Plugin, subscribe


class Answer(Event):
    topic = "test.oracle.answer"
    value: int
    n: int


class Served(Event):
    topic = "test.oracle.served"
    value: int
    n: int


class Oracle(Plugin):
    name = "oracle"
    version = "1.0.{value}"

    @subscribe("test.oracle.ask")
    async def on_ask(self, event: Any) -> Answer:
        await asyncio.sleep({delay})
        await self.ctx.publish(Served(value={value}, n=event.n))
        return Answer(value={value}, n=event.n)
"""

ASKER = """
import asyncio
from typing import Any

from hotbus import Event, Plugin, subscribe


class Ask(Event):
    topic = "test.oracle.ask"
    n: int


class Got(Event):
    topic = "test.asker.got"
    n: int
    value: int


class Asking(Event):
    topic = "test.asker.asking"
    n: int


class Asker(Plugin):
    name = "asker"
    version = "1.0.0"
    requires = {requires}

    @subscribe("test.asker.go")
    async def on_go(self, event: Any) -> None:
        await self.ctx.publish(Asking(n=event.n))
        await asyncio.sleep({pause})
        reply = await self.ctx.request(Ask(n=event.n), timeout=5)
        await self.ctx.publish(Got(n=event.n, value=reply.value))
"""


class Ask(Event):
    topic = "test.oracle.ask"
    n: int


class Go(Event):
    topic = "test.asker.go"
    n: int


def oracle(value: int, delay: float = 0.0) -> str:
    return ORACLE.format(value=value, delay=delay)


def asker(requires: tuple[str, ...] = (), pause: float = 0.0) -> str:
    return ASKER.format(requires=requires, pause=pause)


async def test_a_plugin_gets_the_reply_of_the_plugin_serving_the_topic(hotbus: Harness) -> None:
    hotbus.plugins.write("oracle.py", oracle(1))
    hotbus.plugins.write("asker.py", asker())
    runtime = await hotbus.start()
    await runtime.bus.publish(Go(n=7))
    got = await hotbus.wait_for("test.asker.got", timeout=TIMEOUT)
    assert got.model_dump(include={"n", "value"}) == {"n": 7, "value": 1}


async def test_a_request_nobody_serves_fails_the_requester_naming_the_topic(
    hotbus: Harness,
) -> None:
    hotbus.plugins.write("asker.py", asker())
    runtime = await hotbus.start()
    await runtime.bus.publish(Go(n=1))
    failed = await hotbus.wait_for(HandlerFailed, timeout=TIMEOUT)
    assert (failed.owner, failed.error.type) == ("asker", "hotbus.schemas.NoResponderError")
    assert "request 'test.oracle.ask': no plugin serves this topic" in failed.error.message


async def test_requests_in_flight_while_the_responder_is_saved_are_answered_exactly_once(
    hotbus: Harness,
) -> None:
    hotbus.plugins.write("oracle.py", oracle(1, delay=0.002))
    runtime = await hotbus.start()
    bus = runtime.bus
    replies: dict[int, int] = {}
    errors: list[BaseException] = []

    async def ask(n: int) -> None:
        try:
            reply: Any = await bus.request(Ask(n=n), timeout=TIMEOUT)
        except RequestError as error:
            errors.append(error)
        else:
            assert reply.n == n
            replies[n] = reply.value

    asking: list[asyncio.Task[None]] = []
    commit: asyncio.Future[Any] = asyncio.ensure_future(
        hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    )
    saving = asyncio.ensure_future(hotbus.plugins.save("oracle.py", oracle(2, 0.002), "atomic"))
    while len(asking) < 5000:  # until the new version has answered a few
        asking.append(asyncio.ensure_future(ask(len(asking))))
        await asyncio.sleep(0.001)
        if commit.done() and sum(value == 2 for value in replies.values()) >= 5:
            break
    await saving
    await commit
    await asyncio.gather(*asking)
    await bus.join()
    served = [e.model_dump() for e in hotbus.events.of("test.oracle.served")]
    assert errors == []
    assert sorted(replies) == list(range(len(asking)))
    assert sorted(e["n"] for e in served) == list(range(len(asking)))  # each served once
    assert {e["n"]: e["value"] for e in served} == replies  # by the version that replied
    assert set(replies.values()) == {1, 2}


async def test_a_requester_reloading_with_its_responder_does_not_hold_the_reload(
    hotbus: Harness,
) -> None:
    """The asker requires the oracle, so a save of the oracle reloads both in one transaction.
    The asker's handler asks while both are being drained: the old oracle answers, and the
    drain ends at once instead of cancelling the asker's handler past the quiesce limit."""
    hotbus.plugins.write("oracle.py", oracle(1))
    hotbus.plugins.write("asker.py", asker(requires=("oracle",), pause=0.3))
    runtime = await hotbus.start(quiesce_timeout_s=3)
    await runtime.bus.publish(Go(n=1))
    await hotbus.wait_for("test.asker.asking", timeout=TIMEOUT)
    await hotbus.plugins.save("oracle.py", oracle(2), "atomic")
    committed = await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    got = await hotbus.wait_for("test.asker.got", timeout=TIMEOUT)
    assert sorted(c.plugin for c in committed.changes) == ["asker", "oracle"]
    assert got.model_dump(include={"n", "value"}) == {"n": 1, "value": 1}
    assert hotbus.events.of(HandlersCancelled) == []
    assert committed.durations.quiesce < 2000


def test_no_responder_is_a_request_error() -> None:
    assert issubclass(NoResponderError, RequestError)
