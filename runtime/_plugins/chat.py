"""The chat vocabulary: what a chat host (the console, IRC, ...) publishes and plugins answer.

A host defines its vocabulary like any other publisher; these topics are shared by every
transport, so that one plugin answers on all of them.
"""

from __future__ import annotations

from uuid import UUID

from hotbus.schemas import Event
from pydantic import Field

__all__ = ["ChatJoined", "ChatMessage", "ChatParted", "ChatReply"]


class ChatMessage(Event):
    """Someone said something in the chat: in a channel, or privately to the bot.

    A reply that names no ``target`` goes back where the message came from: to its channel,
    or privately to its sender.
    """

    topic = "chat.message"

    user: str = Field(description="Who said it: the sender's nick.")
    text: str = Field(description="What they said.")
    channel: str | None = Field(
        default=None, description="The channel it was said in; none for a private message."
    )
    mask: str = Field(
        default="",
        description="The sender's host mask (IRC: nick!user@host); empty where the transport "
        "has none.",
    )
    transport: str = Field(
        default="console", description="The transport it came from: 'console', 'irc', ..."
    )

    @property
    def private(self) -> bool:
        """Whether it was said privately to the bot (not in a channel)."""
        return self.channel is None

    @property
    def reply_target(self) -> str:
        """Where an answer goes: the channel, else the sender privately."""
        return self.channel if self.channel is not None else self.user


class ChatReply(Event):
    """A plugin answers in the chat.

    Without a ``target`` it goes where the message it answers (``in_reply_to``) came from;
    with one (a channel or a nick), it goes there, on ``transport`` (default: the transport
    of the message answered, else every transport).
    """

    topic = "chat.reply"

    plugin: str = Field(description="The plugin answering.")
    text: str
    in_reply_to: UUID | None = Field(
        default=None, description="The event_id of the message answered."
    )
    target: str | None = Field(
        default=None,
        description="A channel or a nick to say it to; none: where the message answered came from.",
    )
    transport: str | None = Field(
        default=None,
        description="The transport to say it on; none: that of the message answered, else "
        "every transport.",
    )


class ChatJoined(Event):
    """Someone (the bot included) joined a channel."""

    topic = "chat.join"

    user: str = Field(description="Who joined: a nick.")
    channel: str
    mask: str = Field(default="", description="Their host mask, where the transport has one.")
    transport: str = "irc"


class ChatParted(Event):
    """Someone (the bot included) left a channel: parted, or was kicked."""

    topic = "chat.part"

    user: str = Field(description="Who left: a nick.")
    channel: str
    mask: str = Field(default="", description="Their host mask, where the transport has one.")
    transport: str = "irc"
    reason: str = Field(default="", description="The part or quit message, or who kicked.")
