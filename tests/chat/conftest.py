"""Fixtures of the chat tests: a real IRC server, people on it, and the bot on the examples."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hotbus import ChatJoined, Runtime
from hotbus.runtime._chat.host import ChatHost
from hotbus.runtime._chat.irc import IrcAddress, IrcSecrets, IrcTransport
from hotbus.schemas import TransportConnected
from hotbus.testing import Harness

from tests.chat.ircd import NGIRCD, IrcServer, Person
from tests.plugins.chat import copy_plugins

CHANNEL = "#dev"


@pytest.fixture
def ircd(tmp_path: Path) -> Iterator[IrcServer]:
    """ngircd running on a free loopback port (skipped only where ngircd is not installed)."""
    if NGIRCD is None:
        pytest.skip("ngircd is not installed (apt-get install ngircd; .ci/run installs it)")
    directory = tmp_path / "ircd"
    directory.mkdir()
    server = IrcServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def people() -> AsyncIterator[Callable[[str], Person]]:
    """Makes people (``people("ann")``); every one of them quits at the end."""
    made: list[Person] = []

    def make(nick: str) -> Person:
        person = Person(nick)
        made.append(person)
        return person

    yield make
    for person in made:
        await person.close()


@dataclass
class Bot:
    """The example plugins, served on IRC."""

    runtime: Runtime
    chat: ChatHost
    irc: IrcTransport
    connected: TransportConnected


BotStarter = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start_bot(hotbus: Harness, ircd: IrcServer) -> AsyncIterator[BotStarter]:
    """Starts the examples (copied into the harness's directory, watched) on ``ircd``'s #dev."""
    hosts: list[ChatHost] = []

    async def start(
        *, nick: str = "hotbus", secrets: IrcSecrets | None = None, **settings: Any
    ) -> Bot:
        copy_plugins(hotbus.plugins.path)
        runtime = await hotbus.start(config_file=hotbus.plugins / "hotbus.toml", **settings)
        irc = IrcTransport(
            IrcAddress.parse(f"{ircd.url}/{CHANNEL}"),
            nick,
            secrets=secrets,
            backoff_s=(0.2, 1.0),
            interval_s=0.2,
        )
        chat = ChatHost(runtime, [irc])
        hosts.append(chat)
        await chat.start()
        connected = await hotbus.wait_for(TransportConnected, timeout=15)
        await hotbus.wait_for(ChatJoined, lambda event: event.user == connected.nick, timeout=15)
        return Bot(runtime, chat, irc, connected)

    yield start
    for chat in hosts:
        await chat.stop()
