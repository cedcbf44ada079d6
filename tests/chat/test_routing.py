"""Replies go where their message came from (the channel, or the sender privately, on its
transport) unless the plugin names a target; plugins written against ``user`` and ``text`` alone
keep working."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from hotbus import ChatMessage, ChatReply, Runtime
from hotbus.runtime._chat.host import ChatHost
from hotbus.testing import Harness

from tests.chat.recording import Recording

#: A plugin as written before messages had channels and replies had targets.
ECHO = """
from hotbus import ChatMessage, ChatReply, Plugin, subscribe


class Echo(Plugin):
    name = "echo"
    version = "1.0.0"

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        if message.text.startswith("!echo "):
            text = f"{message.user} said {message.text[6:]}"
            await self.ctx.publish(
                ChatReply(plugin=self.name, text=text, in_reply_to=message.event_id)
            )
"""


@pytest.fixture
async def served(hotbus: Harness) -> AsyncIterator[tuple[Runtime, Recording, Recording]]:
    """The echo plugin served on two transports, 'irc' and 'matrix'."""
    hotbus.plugins.write("echo.py", ECHO)
    runtime = await hotbus.start(watch=False)
    irc, matrix = Recording("irc"), Recording("matrix")
    async with ChatHost(runtime, [irc, matrix]):
        yield runtime, irc, matrix


async def say(runtime: Runtime, message: ChatMessage) -> None:
    """Publish ``message`` and wait until every plugin has answered."""
    await runtime.bus.publish(message)
    await runtime.bus.join()


async def test_a_reply_goes_to_the_channel_the_message_came_from(
    served: tuple[Runtime, Recording, Recording],
) -> None:
    runtime, irc, matrix = served
    await say(runtime, ChatMessage(user="ann", text="!echo hi", channel="#dev", transport="irc"))
    assert (irc.sent, matrix.sent) == ([("#dev", "echo", "ann said hi")], [])


async def test_a_reply_to_a_private_message_goes_to_the_sender(
    served: tuple[Runtime, Recording, Recording],
) -> None:
    runtime, irc, matrix = served
    await say(runtime, ChatMessage(user="ann", text="!echo psst", transport="matrix"))
    assert (irc.sent, matrix.sent) == ([], [("ann", "echo", "ann said psst")])


async def test_a_reply_naming_a_target_goes_there(
    served: tuple[Runtime, Recording, Recording],
) -> None:
    runtime, irc, _ = served
    message = ChatMessage(user="ann", text="hi", channel="#dev", transport="irc")
    await say(runtime, message)
    reply = ChatReply(plugin="timer", text="tea!", in_reply_to=message.event_id, target="#ops")
    await runtime.bus.publish(reply)
    assert irc.sent == [("#ops", "timer", "tea!")]


async def test_an_announcement_names_its_target_and_transport(
    served: tuple[Runtime, Recording, Recording],
) -> None:
    runtime, irc, matrix = served
    await runtime.bus.publish(
        ChatReply(plugin="timer", text="it is time", target="#dev", transport="irc")
    )
    assert (irc.sent, matrix.sent) == ([("#dev", "timer", "it is time")], [])


async def test_an_announcement_without_a_transport_goes_to_every_transport(
    served: tuple[Runtime, Recording, Recording],
) -> None:
    runtime, irc, matrix = served
    await runtime.bus.publish(ChatReply(plugin="timer", text="it is time", target="#dev"))
    assert irc.sent == matrix.sent == [("#dev", "timer", "it is time")]


async def test_a_reply_with_nowhere_to_go_is_dropped_with_one_warning(
    served: tuple[Runtime, Recording, Recording], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, irc, _ = served
    with caplog.at_level(logging.WARNING, logger="hotbus.chat"):
        await runtime.bus.publish(ChatReply(plugin="lost", text="to whom?"))
        await runtime.bus.publish(ChatReply(plugin="lost", text="again"))
    assert irc.sent == []
    assert [record.getMessage() for record in caplog.records] == [
        "chat.reply of lost names no target and answers no message it can find: set "
        "in_reply_to=message.event_id, or target='#channel'"
    ]


async def test_a_message_of_user_and_text_alone_is_a_private_console_message() -> None:
    message = ChatMessage(user="ann", text="hi")
    assert (message.transport, message.channel, message.private, message.reply_target) == (
        "console",
        None,
        True,
        "ann",
    )


async def test_a_reply_of_plugin_and_text_alone_still_validates() -> None:
    reply = ChatReply(plugin="echo", text="hi")
    assert (reply.target, reply.transport, reply.in_reply_to) == (None, None, None)


class Broken:
    """A transport whose network code has a bug."""

    name = "broken"

    async def serve(self, bus: object) -> None:
        raise RuntimeError("lost the socket")

    def send(self, target: str, reply: ChatReply) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_a_transport_failing_to_serve_is_reported(
    hotbus: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = await hotbus.start(watch=False)
    with caplog.at_level(logging.ERROR, logger="hotbus.chat"):
        async with ChatHost(runtime, [Broken()]) as chat:
            with pytest.raises(RuntimeError, match="lost the socket"):
                await chat.served["broken"]
    assert "broken stopped serving: RuntimeError: lost the socket" in caplog.messages
