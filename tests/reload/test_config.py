"""Editing hotbus.toml reloads exactly the plugins whose ``[plugins.<name>]`` section changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hotbus import Runtime
from hotbus.schemas import ConfigChanged, ReloadCommitted, ReloadRequested
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import TIMEOUT, after, committed, plugin_source, values, write_file

CONFIG_MODEL = """
from pydantic import BaseModel


class PConfig(BaseModel):
    limit: int = 0
"""
SERVES_LIMIT = """
config_model = PConfig

def value(self) -> int:
    return self.config.limit
"""


@pytest.fixture
async def edited(plugin_dir: PluginDir, hotbus: Harness, tmp_path: Path) -> tuple[Runtime, int]:
    """``p`` serves ``limit`` from ``[plugins.p]`` (1), ``q`` has no section; limit became 5.

    Returns the runtime and the index of the first event recorded after the edit.
    """
    config_file = tmp_path / "hotbus.toml"
    write_file(config_file, "[plugins.p]\nlimit = 1\n")
    plugin_dir.write("p.py", plugin_source(1, header=CONFIG_MODEL, body=SERVES_LIMIT))
    plugin_dir.write("q.py", plugin_source(1, name="q"))
    runtime = await hotbus.start(config_file=config_file)
    assert await values(runtime) == [1]
    mark = len(hotbus.events)
    write_file(config_file, "[plugins.p]\nlimit = 5\n")
    await hotbus.wait_for(ReloadCommitted, committed("p", 1), timeout=TIMEOUT)
    return runtime, mark


async def test_editing_a_plugins_config_section_publishes_config_changed(
    edited: tuple[Runtime, int], hotbus: Harness
) -> None:
    changed = after(hotbus.events, edited[1], ConfigChanged)
    assert [(e.plugin, e.fields) for e in changed] == [("p", ["limit"])]


async def test_editing_a_plugins_config_section_reloads_it_with_the_new_config(
    edited: tuple[Runtime, int],
) -> None:
    assert await values(edited[0]) == [5]


async def test_editing_one_plugins_config_section_reloads_no_other_plugin(
    edited: tuple[Runtime, int], hotbus: Harness
) -> None:
    requested = after(hotbus.events, edited[1], ReloadRequested)
    assert [(e.plugin, e.reason) for e in requested] == [("p", "config")]
