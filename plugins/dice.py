"""dice: ``!roll 2d6`` rolls two six-sided dice."""

from __future__ import annotations

import re

from hotbus import ChatMessage, ChatReply, Event, Plugin, subscribe
from pydantic import BaseModel, Field

_ROLL = re.compile(r"^!roll\s+(\d*)d(\d+)$", re.IGNORECASE)
USAGE = "!roll NdS rolls N dice of S sides, e.g. !roll 2d6"


class DiceConfig(BaseModel):
    """``[plugins.dice]``: how many dice, and how many sides, at most."""

    max_dice: int = Field(default=10, ge=1)
    max_sides: int = Field(default=100, ge=2)


class Roll(Event):
    """Asks rng for ``count`` numbers from 1 to ``sides``; rng replies with their ``rolls``."""

    topic = "rng.roll"

    count: int
    sides: int


class Dice(Plugin):
    """Rolls dice for the chat."""

    name = "dice"
    version = "1.0.0"
    requires = ("rng>=1.0.0",)
    config_model = DiceConfig
    config: DiceConfig

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        text = message.text.strip()
        if text == "!help":
            await self.reply(message, USAGE)
        elif text.lower().startswith("!roll"):
            await self.reply(message, await self.roll(text))

    async def roll(self, command: str) -> str:
        """The answer to a ``!roll`` command."""
        match = _ROLL.match(command)
        if match is None:
            return f"usage: {USAGE}"
        count, sides = int(match.group(1) or 1), int(match.group(2))
        if not 1 <= count <= self.config.max_dice or not 2 <= sides <= self.config.max_sides:
            return f"I roll 1 to {self.config.max_dice} dice of 2 to {self.config.max_sides} sides"
        reply = await self.ctx.request(Roll(count=count, sides=sides))
        rolls: list[int] = reply.model_dump()["rolls"]  # rng's event: read by field name
        if count == 1:
            return f"🎲 d{sides}: {rolls[0]}"
        return f"🎲 {count}d{sides}: {' + '.join(map(str, rolls))} = {sum(rolls)}"

    async def reply(self, message: ChatMessage, text: str) -> None:
        await self.ctx.publish(ChatReply(plugin=self.name, text=text, in_reply_to=message.event_id))
