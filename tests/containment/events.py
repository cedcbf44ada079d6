"""Events and a journal shared by the containment tests and the plugin files they write.

Plugin files import this module (``from tests.containment import events``): one class per
topic exists however often a plugin is reloaded, and the test reads what plugins did.
"""

from __future__ import annotations

from hotbus import Event

__all__ = ["JOURNAL", "RELEASE", "Answer", "Ask", "Poke", "note", "reset"]


class Ask(Event):
    """Asks plugin ``plugin`` for the value baked into its running source."""

    topic = "ct.ask"

    plugin: str


class Answer(Event):
    """A plugin's answer to `Ask`."""

    topic = "ct.answer"

    plugin: str
    value: int


class Poke(Event):
    """Makes a hostile plugin's handler do its worst."""

    topic = "ct.poke"

    plugin: str


#: What plugins did, in order: ``"teardown good"``, ...
JOURNAL: list[str] = []
#: Set when a test is over: code that swallows cancellation ends then, so that the event loop
#: of the test (which waits for every task when it closes, as ``asyncio.run`` does) can close.
RELEASE: set[str] = set()


def note(entry: str) -> None:
    """Append ``entry`` to the journal (plugins call this)."""
    JOURNAL.append(entry)


def reset() -> None:
    """Forget everything (an autouse fixture calls this around each test)."""
    JOURNAL.clear()
    RELEASE.clear()
