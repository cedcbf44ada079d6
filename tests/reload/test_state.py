"""State crosses a reload: the old version exports it, the new one imports (or migrates) it."""

from __future__ import annotations

import pytest
from hotbus import Runtime
from hotbus.schemas import ReloadCommitted, StateDiscarded
from hotbus.testing import Harness, PluginDir

from tests.reload.helpers import TIMEOUT, answers, committed, plugin_source

TALLY = """
class Tally(State):
    schema_version = 2
    total: int = 0
"""
ON_TALLY = """
state_model = Tally

async def export_state(self) -> Tally:
    return Tally(total=self.count)

async def import_state(self, state: Tally) -> None:
    self.count = state.total
"""
MIGRATE = """
def migrate_state(self, data: dict[str, int], from_version: int) -> Tally | None:
    return Tally(total=data["count"]) if from_version == 1 else None
"""


@pytest.fixture
async def counted(plugin_dir: PluginDir, hotbus: Harness) -> Runtime:
    """``p`` (value 1, state schema 1) has served two asks: its count is 2."""
    plugin_dir.write("p.py", plugin_source(1))
    runtime = await hotbus.start()
    assert [a.count for a in await answers(runtime) + await answers(runtime)] == [1, 2]
    return runtime


async def reload_to(hotbus: Harness, plugin_dir: PluginDir, source: str, value: int) -> None:
    await plugin_dir.save("p.py", source, "atomic")
    await hotbus.wait_for(ReloadCommitted, committed("p", value), timeout=TIMEOUT)


async def test_state_exported_by_one_version_is_imported_by_the_next(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await reload_to(hotbus, plugin_dir, plugin_source(2), 2)
    assert [(a.value, a.count) for a in await answers(counted)] == [(2, 3)]


async def test_state_of_an_older_schema_goes_through_migrate_state(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    source = plugin_source(2, header=TALLY, body=ON_TALLY + MIGRATE)
    await reload_to(hotbus, plugin_dir, source, 2)
    assert [(a.value, a.count) for a in await answers(counted)] == [(2, 3)]


async def test_state_of_an_older_schema_without_migrate_state_is_discarded_with_an_event(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await reload_to(hotbus, plugin_dir, plugin_source(2, header=TALLY, body=ON_TALLY), 2)
    discarded = hotbus.events.of(StateDiscarded)
    assert [(e.plugin, e.old_schema_version, e.new_schema_version) for e in discarded] == [
        ("p", 1, 2)
    ]


async def test_a_plugin_whose_state_was_discarded_starts_fresh(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await reload_to(hotbus, plugin_dir, plugin_source(2, header=TALLY, body=ON_TALLY), 2)
    assert [(a.value, a.count) for a in await answers(counted)] == [(2, 1)]
