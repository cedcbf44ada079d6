"""Fixtures of the runtime tests: a plugin directory on disk and runtimes built on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hotbus import Runtime
from hotbus.runtime._testing.plugin_dir import PluginDir

from tests.runtime import events
from tests.runtime.helpers import MakeRuntime


@pytest.fixture(autouse=True)
def _journal() -> Iterator[None]:
    """Every test starts with an empty journal and leaves none behind."""
    events.reset()
    yield
    events.reset()


@pytest.fixture
def plugin_dir(tmp_path: Path) -> PluginDir:
    """An empty plugin directory, ``<tmp_path>/plugins``."""
    return PluginDir(tmp_path / "plugins")


@pytest.fixture
async def make_runtime(plugin_dir: PluginDir) -> AsyncIterator[MakeRuntime]:
    """A factory of runtimes on ``plugin_dir``, without entry points and without watching unless
    asked (a test that rewrites a file reloads by hand); each is stopped after the test (stopping
    is idempotent), so no plugin module outlives the test."""
    made: list[Runtime] = []

    def make(**settings: Any) -> Runtime:
        settings.setdefault("entry_points", False)
        settings.setdefault("watch", False)
        runtime = Runtime([plugin_dir.path], **settings)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.stop()
