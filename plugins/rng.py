"""rng: the random numbers that dice, 8ball and trivia depend on.

Edit this file while ``hotbus run`` is running: rng reloads, and so does every plugin that
depends on it, in one transaction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from hotbus import Plugin
from pydantic import BaseModel

T = TypeVar("T")


class RngConfig(BaseModel):
    """``[plugins.rng]``: a seed makes every roll reproducible."""

    seed: int | None = None


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
