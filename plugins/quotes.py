"""quotes: ``!quote add TEXT`` remembers a quote, ``!quote`` recalls one, ``!quotes`` counts.

The quotes survive reloads: the plugin exports them as its state, and the next version imports
them. Edit this file while it runs and the quotes are still there.
"""

from __future__ import annotations

import random

from hotbus import ChatMessage, ChatReply, Plugin, State, subscribe
from pydantic import Field

USAGE = "!quote add TEXT saves a quote, !quote recalls one, !quotes counts them"


class QuotesState(State):
    """What survives a reload: the quotes, in the order they were added."""

    schema_version = 1

    quotes: list[str] = Field(default_factory=list)


class Quotes(Plugin):
    """A quote store that keeps its quotes across reloads."""

    name = "quotes"
    version = "1.0.0"
    state_model = QuotesState

    async def setup(self) -> None:
        self.quotes: list[str] = []

    async def export_state(self) -> QuotesState:
        return QuotesState(quotes=self.quotes)

    async def import_state(self, state: State) -> None:
        if isinstance(state, QuotesState):
            self.quotes = list(state.quotes)

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        text = message.text.strip()
        if text == "!help":
            answer = USAGE
        elif text.startswith("!quote add "):
            self.quotes.append(text[len("!quote add ") :].strip())
            answer = f"saved quote #{len(self.quotes)}"
        elif text == "!quote":
            answer = f"💬 {random.choice(self.quotes)}" if self.quotes else "no quotes yet"
        elif text == "!quotes":
            answer = f"{len(self.quotes)} quote{'s' if len(self.quotes) != 1 else ''} saved"
        else:
            return
        await self.ctx.publish(
            ChatReply(plugin=self.name, text=answer, in_reply_to=message.event_id)
        )
