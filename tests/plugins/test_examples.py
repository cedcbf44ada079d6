"""The example plugins together: ``!help`` and ``hotbus check``."""

from __future__ import annotations

import io

from hotbus import Runtime
from hotbus.runtime._console.cli import cli

from tests.plugins.chat import PLUGINS, say


async def test_help_gets_one_line_from_every_chat_plugin(examples: Runtime) -> None:
    replies = await say(examples, "!help")
    assert sorted(reply.plugin for reply in replies) == [
        "dice",
        "eightball",
        "greeter",
        "quotes",
        "trivia",
    ]


async def test_help_lines_are_single_lines(examples: Runtime) -> None:
    replies = await say(examples, "!help")
    assert all(reply.text and "\n" not in reply.text for reply in replies)


def test_hotbus_check_finds_the_examples_fine() -> None:
    out = io.StringIO()
    assert cli("check", str(PLUGINS), stdout=out, stderr=io.StringIO()) == 0


def test_hotbus_check_reports_all_six_examples_fine() -> None:
    out = io.StringIO()
    cli("check", str(PLUGINS), stdout=out, stderr=io.StringIO())
    assert out.getvalue().splitlines()[-1] == "all 6 plugins are fine"
