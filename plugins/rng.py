"""rng: the random numbers that dice, 8ball and trivia depend on.

They ask for them by request/reply on the bus (``rng.roll``, ``rng.pick``): each handler below
returns its reply. Edit this file while ``hotbus run`` is running: rng reloads, and so does
every plugin that depends on it, in one transaction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, TypeVar

from hotbus import Event, Plugin, subscribe
from pydantic import BaseModel, Field

T = TypeVar("T")


class RngConfig(BaseModel):
    """``[plugins.rng]``: a seed makes every roll reproducible."""

    seed: int | None = None


class Rolled(Event):
    """The reply to ``rng.roll`` (``count`` dice of ``sides`` sides): the numbers rolled."""

    topic = "rng.rolled"

    rolls: list[int] = Field(description="One number from 1 to sides per die.")


class Picked(Event):
    """The reply to ``rng.pick`` (one of ``count`` options): the index of the one picked."""

    topic = "rng.picked"

    index: int = Field(ge=0, description="From 0 to count - 1.")


class Rng(Plugin):
    """Provides random numbers to the plugins that require it."""

    name = "rng"
    version = "1.0.0"
    config_model = RngConfig
    config: RngConfig

    async def setup(self) -> None:
        self._random = random.Random(self.config.seed)

    def roll(self, sides: int) -> int:
        """A number from 1 to ``sides``."""
        return self._random.randint(1, sides)

    def choice(self, options: Sequence[T]) -> T:
        """One of ``options``."""
        return self._random.choice(options)

    @subscribe("rng.roll")
    async def on_roll(self, request: Any) -> Rolled:
        """Roll ``request.count`` dice of ``request.sides`` sides."""
        return Rolled(rolls=[self.roll(request.sides) for _ in range(request.count)])

    @subscribe("rng.pick")
    async def on_pick(self, request: Any) -> Picked:
        """Pick one of ``request.count`` options."""
        return Picked(index=self._random.randrange(request.count))
