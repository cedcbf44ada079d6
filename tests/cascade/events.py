"""The events the cascade tests and their plugin files exchange.

Plugin files import this module (it is never reloaded), so a test can build the `Ask` it
publishes and read the `Answer` a plugin version publishes back, across any number of reloads.
"""

from __future__ import annotations

from hotbus import Event
from pydantic import Field

__all__ = ["Answer", "Ask"]


class Ask(Event):
    """What a test publishes to make plugin ``plugin`` answer."""

    topic = "cascade.ask"

    plugin: str


class Answer(Event):
    """What a plugin publishes when asked: what it sees of itself and of its dependencies."""

    topic = "cascade.answer"

    plugin: str
    value: int = Field(description="The VALUE of the answering plugin's own module.")
    hits: int = Field(description="How many times this plugin was asked (its hand-off state).")
    looked_up: dict[str, int] = Field(
        default_factory=dict, description="ctx.get_plugin(name).value() of each dependency."
    )
    imported: dict[str, int] = Field(
        default_factory=dict, description="VALUE of each plugin module it imported."
    )
