"""The bundled example plugins answer in the channel they are asked in, and privately when
asked privately: each of them, through the chat host, as on IRC."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hotbus import ChatMessage, Runtime
from hotbus.runtime._chat.host import ChatHost

from tests.chat.recording import Recording
from tests.plugins.chat import CONFIG, PLUGINS

ANSWERING = ["dice", "eightball", "greeter", "quotes", "trivia"]


@pytest.fixture
async def served() -> AsyncIterator[tuple[Runtime, Recording]]:
    runtime = Runtime(
        [PLUGINS], config_file=CONFIG, watch=False, entry_points=False, persist_state=False
    )
    transport = Recording("irc")
    async with runtime, ChatHost(runtime, [transport]):
        yield runtime, transport


async def ask(runtime: Runtime, message: ChatMessage) -> None:
    await runtime.bus.publish(message)
    await runtime.bus.join()


async def test_every_example_answers_help_in_the_channel(
    served: tuple[Runtime, Recording],
) -> None:
    runtime, irc = served
    await ask(runtime, ChatMessage(user="ann", text="!help", channel="#dev", transport="irc"))
    assert sorted((target, plugin) for target, plugin, _ in irc.sent) == [
        ("#dev", plugin) for plugin in ANSWERING
    ]


async def test_every_example_answers_help_privately_when_asked_privately(
    served: tuple[Runtime, Recording],
) -> None:
    runtime, irc = served
    await ask(runtime, ChatMessage(user="ann", text="!help", transport="irc"))
    assert sorted((target, plugin) for target, plugin, _ in irc.sent) == [
        ("ann", plugin) for plugin in ANSWERING
    ]
