"""Fixtures of the dashboard tests: the bundled plugins running under a real watcher, served by a
`Dashboard` on the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hotbus import Dashboard
from hotbus.testing import Harness

from tests.plugins.chat import copy_plugins


@pytest.fixture
async def served(hotbus: Harness) -> AsyncIterator[Dashboard]:
    """The bundled example plugins (copied), running and watched, and their dashboard."""
    copy_plugins(hotbus.plugins.path)
    runtime = await hotbus.start()
    async with Dashboard(runtime) as dashboard:
        yield dashboard
