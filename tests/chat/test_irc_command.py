"""``hotbus run DIR --irc URL --nick NICK``: the command serves the plugins on a real IRC server,
with the server password from the environment, never shown; a URL holding one is refused."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chat.conftest import CHANNEL
from tests.chat.ircd import NGIRCD, IrcServer, Person
from tests.cli.console import DEADLINE, Lines, command, copy_plugins, environment, hotbus

PASSWORD = "s3cret-Pa55"


@pytest.fixture
def locked_ircd(tmp_path: Path) -> IrcServer:
    """ngircd that asks every client for ``PASSWORD``."""
    if NGIRCD is None:
        pytest.skip("ngircd is not installed (apt-get install ngircd; .ci/run installs it)")
    directory = tmp_path / "ircd"
    directory.mkdir()
    return IrcServer(directory, password=PASSWORD)


async def test_the_command_serves_the_plugins_on_irc_with_a_secret_password(
    tmp_path: Path, locked_ircd: IrcServer, people: Callable[[str], Person]
) -> None:
    locked_ircd.start()
    plugins = copy_plugins(tmp_path / "plugins")
    url = f"{locked_ircd.url}/{CHANNEL}"
    process = subprocess.Popen(  # noqa: ASYNC220 - read by threads, waited for on one
        command(("run", str(plugins), "--irc", url, "--nick", "dicebot", "-v")),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env={**environment(), "HOTBUS_IRC_PASSWORD": PASSWORD},
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = Lines(process.stdout, "stdout"), Lines(process.stderr, "stderr")
    try:
        await asyncio.to_thread(err.expect, "irc connected to", DEADLINE)
        ann = people("ann")
        await ann.connect(locked_ircd.port, password=PASSWORD)
        await ann.join(CHANNEL)
        mark = ann.say(CHANNEL, "!roll 2d6")
        reply = await ann.message_from("dicebot", CHANNEL, since=mark)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, DEADLINE)
        quit_line = await ann.expect(
            lambda line: line.command == "QUIT" and line.hostmask.nickname == "dicebot"
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(DEADLINE)
        locked_ircd.stop()
    everything = "\n".join([*out.rest(), *err.rest()])
    process.stdout.close()
    process.stderr.close()
    assert re.fullmatch(r"🎲 2d6: \d \+ \d = \d+", reply)
    assert code == 0
    assert "hotbus is stopping" in quit_line.params[-1]
    assert PASSWORD not in everything
    assert "PASS **********" in everything  # -v shows the lines sent, the secret masked


def test_a_password_in_the_irc_url_is_refused_without_repeating_it(tmp_path: Path) -> None:
    plugins = copy_plugins(tmp_path / "plugins")
    result = hotbus("run", str(plugins), "--irc", f"irc://bot:{PASSWORD}@127.0.0.1:1/#dev")
    assert result.code == 2
    assert "HOTBUS_IRC_PASSWORD" in result.err
    assert PASSWORD not in result.err + result.out


def test_an_irc_url_of_another_scheme_is_a_usage_error(tmp_path: Path) -> None:
    plugins = copy_plugins(tmp_path / "plugins")
    result = hotbus("run", str(plugins), "--irc", "http://127.0.0.1/#dev")
    assert result.code == 2
    assert "irc://HOST:PORT/#channel" in result.err


def test_a_nick_irc_cannot_carry_is_a_usage_error(tmp_path: Path) -> None:
    plugins = copy_plugins(tmp_path / "plugins")
    result = hotbus("run", str(plugins), "--irc", "irc://127.0.0.1/#dev", "--nick", "two words")
    assert (result.code, "'two words' is not an IRC nick" in result.err) == (2, True)
