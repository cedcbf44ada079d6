"""The console chat host's own events: a host defines its vocabulary like any other."""

from __future__ import annotations

from uuid import UUID

from hotbus.schemas import Event
from pydantic import Field

__all__ = ["ChatMessage", "ChatReply"]


class ChatMessage(Event):
    """Someone said something in the chat."""

    topic = "chat.message"

    user: str = Field(description="Who said it.")
    text: str = Field(description="What they said.")


class ChatReply(Event):
    """A plugin answers in the chat."""

    topic = "chat.reply"

    plugin: str = Field(description="The plugin answering.")
    text: str
    in_reply_to: UUID | None = Field(
        default=None, description="The event_id of the message answered."
    )
