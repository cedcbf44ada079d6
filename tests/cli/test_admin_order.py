"""Piped into ``hotbus run``, a line said after an admin command sees the command's effect.

The plugin takes a while to start, so a line published while ``!hotbus enable`` is still
starting it would reach nothing.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.console import hotbus

SLOW = """\
import asyncio

from hotbus import ChatMessage, ChatReply, Plugin, subscribe


class Slow(Plugin):
    name = "slow"
    version = "1.0.0"

    async def setup(self) -> None:
        await asyncio.sleep(0.3)

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        if message.text == "!slow":
            await self.ctx.publish(
                ChatReply(plugin=self.name, text="here", in_reply_to=message.event_id)
            )
"""


def test_a_line_after_an_enable_reaches_the_plugin_it_enabled(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow.py").write_text(SLOW, encoding="utf-8")
    script = "!hotbus disable slow\n!hotbus enable slow\n!slow\n"
    result = hotbus("run", str(plugins), "--no-watch", "--no-state-db", input=script)
    assert result.code == 0
    assert result.out_lines[-1] == "slow: here"
    assert [line.split(":")[0] for line in result.out_lines] == ["hotbus", "hotbus", "slow"]
