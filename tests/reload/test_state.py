"""State crosses a reload: the old version exports it, the new one imports (or migrates) it.

Data of the same schema version that does not fit the new model exactly is never lost in
silence: keys the model does not declare are named in an event and a warning line, and data
that fails validation rolls the reload back, naming the fields.
"""

from __future__ import annotations

import logging

import pytest
from hotbus import Runtime
from hotbus.schemas import Phase, ReloadCommitted, ReloadRolledBack, StateDiscarded, StateMismatch
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
#: ``count`` renamed to ``total`` without a new schema version (still 1).
RENAMED = """
class Tally(State):
    total: int = 0
"""
#: ``count`` of the same schema version, now of a type the old value does not validate as.
RETYPED = """
class Tally(State):
    count: list[int] = []
"""
#: The old field name kept, but the model forbids the keys it does not declare.
FORBIDS = """
from pydantic import ConfigDict

class Tally(State):
    model_config = ConfigDict(extra="forbid")
    total: int = 0
"""
ON_RETYPED = """
state_model = Tally

async def export_state(self) -> Tally:
    return Tally(count=[self.count])

async def import_state(self, state: Tally) -> None:
    self.count = sum(state.count)
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


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warning lines logged for plugins (what the console prints in yellow)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "hotbus.plugin" and r.levelno == logging.WARNING
    ]


async def test_a_field_renamed_without_a_new_schema_version_is_reported_by_an_event(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await reload_to(hotbus, plugin_dir, plugin_source(2, header=RENAMED, body=ON_TALLY), 2)
    assert [
        (e.plugin, e.schema_version, e.model, e.dropped, e.defaulted)
        for e in hotbus.events.of(StateMismatch)
    ] == [("p", 1, "Tally", ["count"], ["total"])]


async def test_a_field_renamed_without_a_new_schema_version_is_a_warning_line_with_the_fix(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hotbus.plugin"):
        await reload_to(hotbus, plugin_dir, plugin_source(2, header=RENAMED, body=ON_TALLY), 2)
    assert warnings_of(caplog) == [
        "⚠ p: state hand-off dropped count (not declared by Tally, schema 1) and used defaults "
        "for total; bump schema_version and define migrate_state, or keep the field name"
    ]


async def test_a_field_renamed_without_a_new_schema_version_still_commits_with_the_rest(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness
) -> None:
    await reload_to(hotbus, plugin_dir, plugin_source(2, header=RENAMED, body=ON_TALLY), 2)
    assert [(a.value, a.count) for a in await answers(counted)] == [(2, 1)]


async def test_a_new_schema_version_with_a_migration_keeps_the_value_without_a_warning(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    source = plugin_source(2, header=TALLY, body=ON_TALLY + MIGRATE)
    with caplog.at_level(logging.WARNING, logger="hotbus.plugin"):
        await reload_to(hotbus, plugin_dir, source, 2)
    assert [(a.value, a.count) for a in await answers(counted)] == [(2, 3)]
    assert (hotbus.events.of(StateMismatch), warnings_of(caplog)) == ([], [])


async def test_state_of_the_same_schema_that_fits_exactly_is_not_reported(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hotbus.plugin"):
        await reload_to(hotbus, plugin_dir, plugin_source(2), 2)
    assert (hotbus.events.of(StateMismatch), warnings_of(caplog)) == ([], [])


#: A new version of the same state schema whose model refuses the data: its state, its methods,
#: and what the error says.
REFUSED = {
    "value-fails": (RETYPED, ON_RETYPED, "count: Input should be a valid list"),
    "model-forbids-extras": (FORBIDS, ON_TALLY, "count: Extra inputs are not permitted"),
}


@pytest.mark.parametrize("refused", REFUSED.values(), ids=REFUSED.keys())
async def test_state_of_the_same_schema_that_fails_validation_rolls_back_naming_the_field(
    counted: Runtime, plugin_dir: PluginDir, hotbus: Harness, refused: tuple[str, str, str]
) -> None:
    header, body, problem = refused
    await plugin_dir.save("p.py", plugin_source(2, header=header, body=body), "atomic")
    rolled_back = await hotbus.wait_for(ReloadRolledBack, timeout=TIMEOUT)
    assert (rolled_back.plugin, rolled_back.phase) == ("p", Phase.HANDOFF)
    assert problem in rolled_back.error.message
    assert [(a.value, a.count) for a in await answers(counted)] == [(1, 3)]
