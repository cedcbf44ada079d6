"""Events and a journal shared by the runtime tests and the plugin files they write.

Plugin files import this module (``from tests.runtime import events``) to say what they did:
``events.note("setup dice")``. Defining the event classes once here means two plugin files never
define two classes for one topic, and the test can build the events it publishes.
"""

from __future__ import annotations

from typing import Any

from hotbus import Event

__all__ = ["JOURNAL", "OBJECTS", "Ping", "Reply", "note", "reset"]


class Ping(Event):
    """What a test publishes to reach a plugin's handler."""

    topic = "rt.ping"

    n: int = 0


class Reply(Event):
    """What a plugin publishes to show it ran: who answered, to which ``n``."""

    topic = "rt.reply"

    plugin: str
    n: int = 0


#: What plugins did, in order: ``"setup dice"``, ``"teardown rng"``, ...
JOURNAL: list[str] = []
#: Objects plugins hand to the test, by key (instances, contexts, configs).
OBJECTS: dict[str, Any] = {}


def note(entry: str) -> None:
    """Append ``entry`` to the journal (plugins call this)."""
    JOURNAL.append(entry)


def reset() -> None:
    """Forget everything (an autouse fixture calls this around each test)."""
    JOURNAL.clear()
    OBJECTS.clear()
