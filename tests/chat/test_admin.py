"""``!hotbus status|reload|enable|disable`` in the chat: only for the admins of hotbus.toml
(nicks or host masks; the console's user always), a short refusal for anyone else, and a rate
limit per user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hotbus import ChatMessage, ChatReply
from hotbus.runtime import load_settings
from hotbus.runtime._chat.admin import is_admin
from hotbus.runtime._chat.host import ChatHost
from hotbus.schemas import (
    AdminCommand,
    AdminOutcome,
    FileSettled,
    PluginState,
    ReloadCommitted,
    ReloadPatched,
)
from hotbus.testing import Harness

from tests.chat.recording import Recording
from tests.chat.test_routing import ECHO
from tests.cli.console import hotbus as run
from tests.plugins.chat import copy_plugins

ANN = "ann!ann@trusted.example"
BOB = "bob!bob@elsewhere.example"


@pytest.fixture
async def irc(hotbus: Harness) -> AsyncIterator[Recording]:
    """The echo plugin served on a transport named 'irc'; ann's host is an admin's."""
    hotbus.plugins.write("echo.py", ECHO)
    runtime = await hotbus.start(
        watch=False, admins=("*!*@trusted.example",), command_rate_per_min=3
    )
    transport = Recording("irc")
    async with ChatHost(runtime, [transport]):
        yield transport


async def command(hotbus: Harness, text: str, mask: str = ANN) -> AdminCommand:
    """Say ``text`` on IRC as ``mask``; what became of it."""
    runtime = hotbus.runtime
    assert runtime is not None
    nick = mask.split("!", maxsplit=1)[0]
    message = ChatMessage(user=nick, text=text, channel="#dev", mask=mask, transport="irc")
    await runtime.bus.publish(message)
    return await hotbus.wait_for(AdminCommand, timeout=10)


async def answer(hotbus: Harness, text: str, mask: str = ANN) -> str:
    """The bot's answer to ``text`` said on IRC as ``mask``."""
    await command(hotbus, text, mask)
    reply = await hotbus.wait_for(ChatReply, lambda reply: reply.plugin == "hotbus", timeout=10)
    return reply.text


def message(user: str, mask: str = "", transport: str = "irc") -> ChatMessage:
    return ChatMessage(user=user, text="!hotbus status", mask=mask, transport=transport)


# -- who is an admin ---------------------------------------------------------------------------


def test_a_nick_entry_admits_that_nick_whatever_its_case() -> None:
    assert is_admin(message("Ann"), ("ann",))


def test_a_nick_entry_admits_no_other_nick() -> None:
    assert not is_admin(message("annie"), ("ann",))


def test_a_host_mask_entry_admits_a_matching_mask() -> None:
    assert is_admin(message("ann", "ann!~ann@Trusted.Example"), ("*!*@trusted.example",))


def test_a_host_mask_entry_admits_no_other_host() -> None:
    assert not is_admin(message("ann", BOB), ("*!*@trusted.example",))


def test_a_host_mask_entry_admits_no_message_without_a_mask() -> None:
    assert not is_admin(message("ann"), ("ann!*@*",))


def test_admins_in_the_environment_are_separated_by_commas() -> None:
    settings = load_settings(env={"HOTBUS_ADMINS": "ann, *!*@trusted.example"})
    assert settings.admins == ("ann", "*!*@trusted.example")


def test_the_consoles_user_is_always_an_admin() -> None:
    assert is_admin(message("whoever", transport="console"), ())


# -- the commands ------------------------------------------------------------------------------


async def test_status_lists_the_active_plugins(hotbus: Harness, irc: Recording) -> None:
    assert await answer(hotbus, "!hotbus status") == "1 of 1 plugins active: echo"


async def test_an_admins_reload_reloads_the_plugin(hotbus: Harness, irc: Recording) -> None:
    text = await answer(hotbus, "!hotbus reload echo")
    committed = await hotbus.wait_for(ReloadCommitted, timeout=5)
    assert text.startswith("reloaded echo 1.0.0+")
    assert [change.plugin for change in committed.changes] == ["echo"]


async def test_an_admins_reload_of_a_body_only_edit_says_what_was_patched(
    hotbus: Harness, irc: Recording
) -> None:
    hotbus.plugins.write("echo.py", ECHO.replace("said", "says"))  # watching is off here
    text = await answer(hotbus, "!hotbus reload echo")
    patched = await hotbus.wait_for(ReloadPatched, timeout=5)
    assert text.startswith(f"patched echo {patched.new_version} in ")
    assert text.endswith(" ms: Echo.on_message")


async def test_the_answer_goes_to_the_channel_asked_in(hotbus: Harness, irc: Recording) -> None:
    await answer(hotbus, "!hotbus status")
    assert irc.sent == [("#dev", "hotbus", "1 of 1 plugins active: echo")]


async def test_disable_stops_a_plugin_and_enable_starts_it(hotbus: Harness, irc: Recording) -> None:
    runtime = hotbus.runtime
    assert runtime is not None
    assert await answer(hotbus, "!hotbus disable echo") == "disabled echo"
    stopped = [row.state for row in runtime.status()]
    assert await answer(hotbus, "!hotbus enable echo") == "enabled echo: active (started)"
    assert (stopped, [row.state for row in runtime.status()]) == (
        [PluginState.LOADED],
        [PluginState.ACTIVE],
    )


async def test_an_unknown_plugin_is_named_in_the_answer(hotbus: Harness, irc: Recording) -> None:
    done = await command(hotbus, "!hotbus reload nosuch")
    assert done.outcome is AdminOutcome.FAILED
    assert "plugin 'nosuch': no such plugin is loaded (known plugins: echo)" in done.answer


async def test_an_unknown_command_gets_the_usage(hotbus: Harness, irc: Recording) -> None:
    assert await answer(hotbus, "!hotbus explode") == (
        "usage: !hotbus status | reload NAME | enable NAME | disable NAME"
    )


async def test_someone_else_is_refused_shortly(hotbus: Harness, irc: Recording) -> None:
    done = await command(hotbus, "!hotbus reload echo", mask=BOB)
    assert (done.outcome, done.user, done.answer) == (
        AdminOutcome.REFUSED,
        "bob",
        "sorry, !hotbus commands are for the bot's admins",
    )
    assert hotbus.events.of(ReloadCommitted) == []


async def test_commands_beyond_the_rate_limit_are_ignored(hotbus: Harness, irc: Recording) -> None:
    outcomes = [(await command(hotbus, "!hotbus status", mask=BOB)).outcome for _ in range(4)]
    assert outcomes == [AdminOutcome.REFUSED] * 3 + [AdminOutcome.LIMITED]
    assert len(irc.sent) == 3


async def test_the_rate_limit_is_per_user(hotbus: Harness, irc: Recording) -> None:
    for _ in range(3):
        await command(hotbus, "!hotbus status", mask=BOB)
    assert (await command(hotbus, "!hotbus status")).outcome is AdminOutcome.DONE


def test_the_console_runs_admin_commands(tmp_path: Path) -> None:
    plugins = copy_plugins(tmp_path / "plugins")
    result = run("run", str(plugins), "--no-watch", input="!hotbus status\n")
    assert "hotbus: 6 of 6 plugins active: " in result.out


async def test_admins_edited_in_hotbus_toml_apply_while_running(hotbus: Harness) -> None:
    hotbus.plugins.write("echo.py", ECHO)
    hotbus.plugins.write("hotbus.toml", 'admins = ["*!*@trusted.example"]\n')
    runtime = await hotbus.start(config_file=hotbus.plugins / "hotbus.toml")
    async with ChatHost(runtime, [Recording("irc")]):
        assert (await command(hotbus, "!hotbus status", mask=BOB)).outcome is AdminOutcome.REFUSED
        await hotbus.plugins.save("hotbus.toml", 'admins = ["bob"]\n', "atomic")
        await hotbus.wait_for(FileSettled, lambda e: e.path.name == "hotbus.toml", timeout=10)
        assert (await command(hotbus, "!hotbus status", mask=BOB)).outcome is AdminOutcome.DONE
