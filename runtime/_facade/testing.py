"""Test support for plugin authors and hosts, and hotbus's pytest plugin.

`Harness` runs a `Runtime` on a plugin directory and records every event; `PluginDir` writes
plugin files and saves them the way editors do (`SAVE_STYLES`). This module is also the pytest
plugin registered through the ``pytest11`` entry point ``hotbus``, with two fixtures:

- ``plugin_dir``: a `PluginDir` in a temporary directory, to write plugin files and save them
  the way editors do (in place, atomic replace, vim, JetBrains, ``git checkout``, ...);
- ``hotbus``: a `Harness` on that directory: ``await hotbus.start()`` runs a `Runtime` with a
  real watcher, ``hotbus.events`` records every event, ``await hotbus.wait_for(topic)`` waits
  for one with a time limit; the runtime is stopped when the test ends.

The ``hotbus`` fixture is async and comes from pytest-asyncio (mark the test with
``@pytest.mark.asyncio``, or use its auto mode).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hotbus.runtime._testing.harness import Harness
    from hotbus.runtime._testing.plugin_dir import SAVE_STYLES, PluginDir, SaveStyle

__all__ = ["SAVE_STYLES", "Harness", "PluginDir", "SaveStyle", "hotbus", "plugin_dir"]

# The pytest plugin is loaded in every test run of a project that has hotbus installed: what it
# needs is imported when a test first uses it, not when pytest starts.
_HOMES = {
    "SAVE_STYLES": "hotbus.runtime._testing.plugin_dir",
    "Harness": "hotbus.runtime._testing.harness",
    "PluginDir": "hotbus.runtime._testing.plugin_dir",
    "SaveStyle": "hotbus.runtime._testing.plugin_dir",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hotbus.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


_async_fixture: Callable[..., Any] = pytest.fixture  # with another asyncio plugin's auto mode
if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    _async_fixture = pytest_asyncio.fixture


@pytest.fixture
def plugin_dir(tmp_path: Path) -> PluginDir:
    """An empty plugin directory in the test's temporary directory."""
    from hotbus.runtime._testing.plugin_dir import PluginDir

    return PluginDir(tmp_path / "plugins")


@_async_fixture
async def hotbus(plugin_dir: PluginDir) -> AsyncIterator[Harness]:
    """A harness on ``plugin_dir``: start it with ``await hotbus.start(**settings)``."""
    from hotbus.runtime._testing.harness import Harness

    harness = Harness(plugin_dir)
    try:
        yield harness
    finally:
        await harness.stop()
        harness.close()
