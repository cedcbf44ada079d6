"""Connecting to an IRC server that is not there: each attempt is reported, and the wait before
the next doubles up to the longest; closing ends the attempts at once, and a connection the
server has not answered yet."""

from __future__ import annotations

import asyncio

from hotbus import Bus
from hotbus.runtime._chat.irc import IrcAddress, IrcTransport
from hotbus.schemas import TransportDisconnected

from tests.chat.ircd import free_port


async def test_failed_attempts_back_off_doubling_up_to_the_longest_wait() -> None:
    bus = Bus()
    address = IrcAddress.parse(f"irc://127.0.0.1:{free_port()}/#dev")  # nothing listens
    irc = IrcTransport(address, "bot", backoff_s=(0.05, 0.2))
    with bus.record(TransportDisconnected) as recorded:
        serving = asyncio.create_task(irc.serve(bus))
        for _ in range(5):
            await recorded.wait_for(TransportDisconnected, timeout=10)
        await irc.close()
        await asyncio.wait_for(serving, timeout=5)
    waits = [event.retry_in_s for event in recorded.of(TransportDisconnected)]
    assert waits[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]
    assert waits[-1] is None  # closed: no more attempts
    assert recorded.of(TransportDisconnected)[0].reason.startswith("cannot connect: ")


async def test_closing_before_the_server_answered_ends_serving_at_once() -> None:
    greeted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()  # the bot's first line: it is connected; never answer
        greeted.set()
        await reader.read()  # until the bot hangs up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    irc = IrcTransport(IrcAddress.parse(f"irc://127.0.0.1:{port}/#dev"), "bot")
    try:
        serving = asyncio.create_task(irc.serve(Bus()))
        await asyncio.wait_for(greeted.wait(), timeout=10)
        await irc.close()
        await asyncio.wait_for(serving, timeout=2)
    finally:
        server.close()
        await server.wait_closed()
    assert serving.done()
