"""Events and shared lists of the reload tests, imported by the plugin files the tests write.

Plugin sources do ``from tests.reload import events`` (the project root is on ``sys.path`` when
pytest runs from it), so one class per topic exists however often a plugin is reloaded, and a
test can build the events it publishes and read what plugins did.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hotbus import Event

__all__ = [
    "CALLS",
    "EXECUTED",
    "FAULTS",
    "GATES",
    "HANDLED",
    "KEPT",
    "Answer",
    "Ask",
    "Busy",
    "Slow",
    "Tick",
    "reset",
]


class Ask(Event):
    """Asks plugin ``plugin`` which value its running code carries."""

    topic = "test.ask"

    plugin: str = "p"


class Answer(Event):
    """A plugin's reply to `Ask`: the value baked into its source and how many asks it served."""

    topic = "test.answer"

    plugin: str
    value: int
    count: int = 0


class Tick(Event):
    """One numbered event of a steady stream; plugins record ``n`` in `HANDLED`."""

    topic = "test.tick"

    n: int


class Slow(Event):
    """Starts a handler that runs for a long time."""

    topic = "test.slow"


class Busy(Event):
    """A slow handler has started and is now in flight."""

    topic = "test.busy"


#: The ``n`` of every `Tick` a plugin handled, in handling order.
HANDLED: list[int] = []
#: Objects plugins keep alive on purpose (a deliberate leak).
KEPT: list[Any] = []
#: Steps that plugins make fail while the name is in here ("export", "teardown").
FAULTS: set[str] = set()
#: Lifecycle hooks plugins ran ("setup", "teardown"...), in order.
CALLS: list[str] = []
#: Module code executions plugin files recorded: (label, ``time.time()``), in order.
EXECUTED: list[tuple[str, float]] = []
#: Gates a test opens to let a plugin's handler in flight go on, by name.
GATES: dict[str, asyncio.Event] = {}


def reset() -> None:
    """Forget everything (an autouse fixture calls this around each test)."""
    HANDLED.clear()
    KEPT.clear()
    FAULTS.clear()
    CALLS.clear()
    EXECUTED.clear()
    GATES.clear()
