"""Fixtures of the example plugin tests: a runtime on the real ``plugins/`` directory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hotbus import Runtime

from tests.plugins.chat import CONFIG, PLUGINS


@pytest.fixture
async def examples() -> AsyncIterator[Runtime]:
    """The example plugins, running as configured by plugins/hotbus.toml, without a watcher,
    and without their saved state (each test starts from nothing)."""
    runtime = Runtime(
        [PLUGINS], config_file=CONFIG, watch=False, entry_points=False, persist_state=False
    )
    async with runtime:
        yield runtime
