"""SASL PLAIN on IRC, against a scripted server on the loopback (ngircd has no SASL): the
credentials from the environment go in one AUTHENTICATE line, and never into a log line."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator

import pytest
from hotbus import Bus
from hotbus.runtime._chat.irc import IrcAddress, IrcSecrets, IrcTransport
from hotbus.schemas import TransportConnected

PASSWORD = "correct horse battery staple"


class SaslServer:
    """Answers one client the way a server with SASL does; keeps every line it received."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answers = {
            "CAP REQ :sasl": ":srv CAP * ACK :sasl",
            "CAP REQ sasl": ":srv CAP * ACK :sasl",
            "AUTHENTICATE PLAIN": "AUTHENTICATE +",
            "CAP END": ":srv 001 bot :Welcome",
        }
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                self.received.append(line)
                answer = answers.get(line)
                if line.startswith("AUTHENTICATE ") and line != "AUTHENTICATE PLAIN":
                    answer = ":srv 903 bot :SASL authentication successful"
                if answer:
                    writer.write(answer.encode() + b"\r\n")
                    await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[SaslServer]:
    server = SaslServer()
    await server.start()
    yield server
    await server.stop()


async def test_sasl_plain_sends_the_credentials_and_never_logs_them(
    server: SaslServer, caplog: pytest.LogCaptureFixture
) -> None:
    bus = Bus()
    secrets = IrcSecrets.from_env(
        {"HOTBUS_IRC_SASL_USER": "account", "HOTBUS_IRC_SASL_PASSWORD": PASSWORD}
    )
    irc = IrcTransport(IrcAddress.parse(f"irc://127.0.0.1:{server.port}"), "bot", secrets=secrets)
    with caplog.at_level(logging.DEBUG, logger="hotbus.irc"), bus.record() as recorded:
        serving = asyncio.create_task(irc.serve(bus))
        await recorded.wait_for(TransportConnected, timeout=10)
        await irc.close()
        await asyncio.wait_for(serving, timeout=10)
    token = next(
        line
        for line in server.received
        if line.startswith("AUTHENTICATE ") and line != "AUTHENTICATE PLAIN"
    )
    assert base64.b64decode(token.split()[1]) == f"account\0account\0{PASSWORD}".encode()
    assert server.received.index("CAP END") > server.received.index(token)
    logged = caplog.text
    assert token.split()[1] not in logged
    assert PASSWORD not in logged
    assert "AUTHENTICATE **********" in logged
