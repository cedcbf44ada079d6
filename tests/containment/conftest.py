"""Fixtures of the containment tests: runtimes on a plugin directory, with small limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from hotbus import Runtime
from hotbus.testing import PluginDir

from tests.containment import events
from tests.containment.helpers import LIMITS

#: The ``make_runtime`` fixture: a `Runtime` on ``plugin_dir``; keywords are settings.
MakeRuntime = Callable[..., Runtime]


@pytest.fixture(autouse=True)
def _journal() -> Iterator[None]:
    """Every test starts with an empty journal and leaves none behind."""
    events.reset()
    yield
    events.reset()


@pytest.fixture
async def make_runtime(plugin_dir: PluginDir) -> AsyncIterator[MakeRuntime]:
    """Runtimes on ``plugin_dir`` with the small `LIMITS`, no entry points, not watching unless
    asked; each is stopped after the test."""
    made: list[Runtime] = []

    def make(**settings: Any) -> Runtime:
        for key, value in {**LIMITS, "entry_points": False, "watch": False}.items():
            settings.setdefault(key, value)
        runtime = Runtime([plugin_dir.path], **settings)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.stop()
    events.RELEASE.add("test over")
    await asyncio.sleep(0.1)  # code abandoned for swallowing cancellation ends now
