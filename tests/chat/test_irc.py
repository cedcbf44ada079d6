"""The bot on a real IRC server (ngircd): it joins, answers in the channel and privately,
comes back after the server restarts, obeys its admins, and reloads without leaving."""

from __future__ import annotations

import re
from collections.abc import Callable

from hotbus import ChatJoined, ChatMessage, ChatParted, ChatReply
from hotbus.schemas import (
    AdminCommand,
    AdminOutcome,
    NickTaken,
    ReloadCommitted,
    ReloadPatched,
    ReloadRequested,
    TransportConnected,
    TransportDisconnected,
)
from hotbus.testing import Harness

from tests.chat.conftest import CHANNEL, BotStarter
from tests.chat.ircd import IrcServer, Person

TWO_D6 = re.compile(r"🎲 2d6: (\d) \+ (\d) = (\d+)")


async def present(person: Person, port: int) -> Person:
    """``person`` connected and in the channel."""
    await person.connect(port)
    await person.join(CHANNEL)
    return person


async def test_the_bot_joins_its_channel(
    start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    ann = await present(people("ann"), ircd.port)
    mark = len(ann.lines)
    bot = await start_bot()
    join = await ann.expect(lambda line: line.command == "JOIN", since=mark)
    assert (join.hostmask.nickname, join.params[0], bot.connected.channels) == (
        "hotbus",
        CHANNEL,
        [CHANNEL],
    )


async def test_the_bot_answers_a_roll_in_the_channel(
    start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    await start_bot()
    ann = await present(people("ann"), ircd.port)
    mark = ann.say(CHANNEL, "!roll 2d6")
    assert TWO_D6.fullmatch(await ann.message_from("hotbus", CHANNEL, since=mark))


async def test_the_bot_answers_a_private_roll_privately(
    start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    await start_bot()
    ann = people("ann")
    await ann.connect(ircd.port)
    mark = ann.say("hotbus", "!roll 2d6")
    assert TWO_D6.fullmatch(await ann.message_from("hotbus", "ann", since=mark))


async def test_a_channel_message_carries_its_channel_sender_and_mask(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    await start_bot()
    ann = await present(people("ann"), ircd.port)
    ann.say(CHANNEL, "hello")
    message = await hotbus.wait_for(ChatMessage, timeout=15)
    assert (message.user, message.channel, message.transport) == ("ann", CHANNEL, "irc")
    assert message.mask.startswith("ann!")


async def test_the_bot_reconnects_and_rejoins_after_the_server_restarts(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    await start_bot()
    ircd.stop()
    lost = await hotbus.wait_for(TransportDisconnected, timeout=15)
    ircd.start()
    again = await hotbus.wait_for(TransportConnected, timeout=30)
    await hotbus.wait_for(ChatJoined, lambda event: event.user == "hotbus", timeout=15)
    ann = await present(people("ann"), ircd.port)
    mark = ann.say(CHANNEL, "!roll 2d6")
    assert TWO_D6.fullmatch(await ann.message_from("hotbus", CHANNEL, since=mark))
    assert lost.retry_in_s is not None
    assert again.channels == [CHANNEL]


async def test_an_admin_reloads_dice_from_the_channel(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    await start_bot(admins=["*!*ann@127.0.0.1"])
    ann = await present(people("ann"), ircd.port)
    mark = ann.say(CHANNEL, "!hotbus reload dice")
    answer = await ann.message_from("hotbus", CHANNEL, since=mark, timeout=20)
    committed = await hotbus.wait_for(ReloadCommitted, timeout=5)
    assert answer.startswith("reloaded dice ")
    assert [change.plugin for change in committed.changes] == ["dice"]


async def test_a_non_admin_is_refused_and_nothing_reloads(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    await start_bot(admins=["*!*@trusted.example"])
    bob = await present(people("bob"), ircd.port)
    mark = bob.say(CHANNEL, "!hotbus reload dice")
    answer = await bob.message_from("hotbus", CHANNEL, since=mark)
    refused = await hotbus.wait_for(AdminCommand, timeout=5)
    assert answer == "sorry, !hotbus commands are for the bot's admins"
    assert (refused.outcome, refused.user) == (AdminOutcome.REFUSED, "bob")
    assert hotbus.events.of(ReloadRequested) == []


async def test_a_live_edit_changes_the_next_reply_without_leaving_the_channel(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    await start_bot()
    ann = await present(people("ann"), ircd.port)
    mark = ann.say(CHANNEL, "!roll 2d6")
    assert "🎲" in await ann.message_from("hotbus", CHANNEL, since=mark)
    source = hotbus.plugins.read("dice.py").replace("🎲", "🎯")
    await hotbus.plugins.save("dice.py", source, "atomic")
    done = {ReloadCommitted.topic, ReloadPatched.topic}  # bodies alone change: a patch
    await hotbus.wait_for("hotbus.reload.*", lambda event: event.topic in done, timeout=10)
    mark_after = ann.say(CHANNEL, "!roll 2d6")
    answer = await ann.message_from("hotbus", CHANNEL, since=mark_after)
    assert answer.startswith("🎯 2d6: ")
    comings_and_goings = [
        line.format()
        for line in ann.lines[mark:]
        if line.command in {"JOIN", "PART", "QUIT", "KICK"}
        and line.source is not None
        and line.hostmask.nickname == "hotbus"
    ]
    assert comings_and_goings == []


async def test_a_taken_nick_is_reported_and_another_is_used(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    squatter = await present(people("hotbus"), ircd.port)
    bot = await start_bot()
    taken = await hotbus.wait_for(NickTaken, timeout=5)
    assert (taken.wanted, taken.using, bot.connected.nick) == ("hotbus", "hotbus_", "hotbus_")
    mark = squatter.say(CHANNEL, "!roll 2d6")
    assert TWO_D6.fullmatch(await squatter.message_from("hotbus_", CHANNEL, since=mark))


async def test_a_long_reply_arrives_as_several_lines_that_fit(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    bot = await start_bot()
    ann = await present(people("ann"), ircd.port)
    words = [f"word{n:03d}" for n in range(150)]  # 1,200 characters
    mark = len(ann.lines)
    await bot.runtime.bus.publish(ChatReply(plugin="test", text=" ".join(words), target=CHANNEL))
    got: list[str] = []
    while len(" ".join(got).split()) < len(words):
        line = await ann.expect(
            lambda line: line.command == "PRIVMSG" and line.params[0] == CHANNEL,
            since=mark,
        )
        mark = ann.lines.index(line) + 1
        got.append(line.params[1])
    assert len(got) >= 3
    assert " ".join(got).split() == words
    assert max(len(line.encode()) for line in got) <= 512 - 100


async def test_someone_leaving_the_channel_is_a_part_event(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    await start_bot()
    ann = await present(people("ann"), ircd.port)
    joined = await hotbus.wait_for(ChatJoined, lambda event: event.user == "ann", timeout=15)
    ann.send("PART", CHANNEL, "off to lunch")
    parted = await hotbus.wait_for(ChatParted, lambda event: event.user == "ann", timeout=15)
    assert (joined.channel, joined.mask.startswith("ann!")) == (CHANNEL, True)
    assert (parted.channel, parted.reason, parted.transport) == (CHANNEL, "off to lunch", "irc")


async def test_the_bot_kicked_from_its_channel_joins_it_again(
    hotbus: Harness, start_bot: BotStarter, ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    ann = await present(people("ann"), ircd.port)  # first in the channel: its operator
    await start_bot()
    mark = len(ann.lines)
    ann.send("KICK", CHANNEL, "hotbus", "out")
    kicked = await hotbus.wait_for(ChatParted, lambda event: event.user == "hotbus", timeout=15)
    back = await ann.expect(
        lambda line: line.command == "JOIN" and line.hostmask.nickname == "hotbus", since=mark
    )
    assert kicked.reason == "kicked by ann: out"
    assert back.params[0] == CHANNEL
