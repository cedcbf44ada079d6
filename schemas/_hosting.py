"""Events of the chat hosts: transports connecting and leaving, and admin commands in the chat.

The chat itself (``chat.message``, ``chat.reply``, ``chat.join``, ``chat.part``) is the
runtime's vocabulary for plugins; these are the host's own steps, under ``hotbus.``.
"""

from __future__ import annotations

from hotbus.schemas._enums import AdminOutcome
from hotbus.schemas._event import Event
from pydantic import Field, NonNegativeFloat, NonNegativeInt

__all__ = [
    "AdminCommand",
    "NickTaken",
    "TransportConnected",
    "TransportDisconnected",
]


class TransportConnected(Event):
    """A transport is connected (for IRC: registered, with the nick it got) and serving."""

    topic = "hotbus.transport.connected"

    transport: str = Field(description="Which transport: 'console', 'irc', ...")
    server: str = Field(default="", description="Where it is connected ('host:port').")
    nick: str = Field(default="", description="The name the bot has there.")
    channels: list[str] = Field(default_factory=list, description="The channels it joins.")
    attempt: NonNegativeInt = Field(
        default=0, description="How many attempts failed before this one (0: the first worked)."
    )


class TransportDisconnected(Event):
    """A transport lost its connection (or could not connect); it retries after ``retry_in_s``.

    ``retry_in_s`` is none when it does not retry: the host is stopping.
    """

    topic = "hotbus.transport.disconnected"

    transport: str
    server: str = ""
    reason: str = Field(description="Why, in a few words (secrets masked).")
    retry_in_s: NonNegativeFloat | None = Field(
        default=None, description="When it tries again; none when it stops."
    )


class NickTaken(Event):
    """The nick the bot asked for is taken; it uses another one."""

    topic = "hotbus.transport.nick_taken"

    transport: str
    wanted: str = Field(description="The nick asked for.")
    using: str = Field(description="The nick tried instead.")


class AdminCommand(Event):
    """Someone said ``!hotbus ...`` in the chat: what it was, who said it, what came of it."""

    topic = "hotbus.admin.command"

    transport: str
    user: str = Field(description="Who said it: a nick.")
    mask: str = Field(default="", description="Their host mask, where the transport has one.")
    command: str = Field(description="The command and its arguments ('reload dice').")
    outcome: AdminOutcome
    answer: str = Field(default="", description="What the bot answered (nothing when limited).")
