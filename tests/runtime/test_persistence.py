"""State survives restarts: saved in SQLite after commits, periodically and at stop, and given
back at start through the hand-off a reload uses (validation, ``migrate_state``).

Where the database goes and how it is switched off; a database that cannot be read is set
aside (renamed, never deleted) and plugins start fresh; saved state that does not import is
kept aside; a plugin that does not run keeps its saved state; secrets of the config are never
written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hotbus import Event, Runtime
from hotbus.runtime._persistence import state_db_path
from hotbus.schemas import (
    FileChanged,
    PluginState,
    ReloadCommitted,
    Settings,
    StateDiscarded,
    StateRestored,
    StateSaved,
    StateSaveFailed,
    StateStoreSetAside,
)
from hotbus.testing import Harness

TIMEOUT = 10.0


class Add(Event):
    """Adds ``n`` to the tally plugin's total."""

    topic = "test.tally.add"
    n: int


TALLY = """
from typing import Any

from hotbus import Plugin, State, subscribe
from pydantic import BaseModel, SecretStr


class TallyState(State):
    schema_version = {schema}
    {field}: int = 0


class TallyConfig(BaseModel):
    token: SecretStr = SecretStr("")


class Tally(Plugin):
    name = "tally"
    version = "1.0.{schema}"
    state_model = TallyState
    config_model = TallyConfig
    config: TallyConfig

    async def setup(self) -> None:
        self.total = 0
        self.note = ""

    @subscribe("test.tally.add")
    async def on_add(self, event: Any) -> None:
        self.total += event.n

    async def export_state(self) -> TallyState:
        return TallyState({field}=self.total)

    async def import_state(self, state: State) -> None:
        self.total = getattr(state, "{field}")

    def migrate_state(self, data: dict[str, Any], from_version: int) -> State | None:
        if from_version == 1:
            return TallyState({field}=data["total"] * 10)
        return None
"""


def tally(schema: int = 1, field: str = "total") -> str:
    """A plugin keeping a total; state of ``schema`` with the total in ``field``."""
    return TALLY.format(schema=schema, field=field)


async def add(runtime: Runtime, n: int) -> None:
    await runtime.bus.publish(Add(n=n))
    await runtime.bus.join()


def total(runtime: Runtime) -> int:
    value = runtime.plugin("tally").total  # type: ignore[attr-defined]
    assert isinstance(value, int)
    return value


def rows(path: Path, table: str = "state") -> list[tuple[Any, ...]]:
    """The rows of ``table`` of the database at ``path`` (read with the sqlite3 module)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return list(connection.execute(f"SELECT plugin, schema_version, data FROM {table}"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "hotbus.sqlite3"


async def restart(hotbus: Harness, **settings: Any) -> Runtime:
    await hotbus.stop()
    return await hotbus.start(**settings)


# -- across a stop and start -------------------------------------------------------------------


async def test_state_is_given_back_after_a_stop_and_a_start(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    await add(await hotbus.start(state_db=db), 5)
    assert total(await restart(hotbus, state_db=db)) == 5


async def test_the_start_says_whose_state_it_read(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    await add(await hotbus.start(state_db=db), 5)
    await restart(hotbus, state_db=db)
    restored = await hotbus.wait_for(StateRestored, timeout=TIMEOUT)
    assert (restored.path, restored.plugins) == (db.resolve(), ["tally"])


async def test_state_written_at_stop_is_in_the_database(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    await add(await hotbus.start(state_db=db), 3)
    await hotbus.stop()
    assert rows(db) == [("tally", 1, '{"total":3}')]


async def test_an_older_saved_schema_is_migrated_at_start(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally(schema=1))
    await add(await hotbus.start(state_db=db), 4)
    await hotbus.stop()
    hotbus.plugins.write("tally.py", tally(schema=2, field="score"))
    assert total(await hotbus.start(state_db=db)) == 40


async def test_without_persist_state_nothing_is_written(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db, persist_state=False)
    await add(runtime, 5)
    assert runtime.state_db is None
    await hotbus.stop()
    assert not db.exists()


async def test_without_persist_state_the_start_is_fresh(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    await add(await hotbus.start(state_db=db), 5)
    assert total(await restart(hotbus, state_db=db, persist_state=False)) == 0


# -- when it is written ------------------------------------------------------------------------


async def test_changed_state_is_written_every_period(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db, state_save_interval_s=0.1)
    await hotbus.wait_for(StateSaved, timeout=TIMEOUT)  # the first state taken
    await add(runtime, 7)
    saved = await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    assert (saved.reason, saved.plugins, rows(db)) == (
        "period",
        ["tally"],
        [("tally", 1, '{"total":7}')],
    )


async def test_unchanged_state_is_not_written_again(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db, state_save_interval_s=0.05)
    await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    for _ in range(3):
        await runtime.save_state()
    assert len(hotbus.events.of(StateSaved)) == 1


async def test_a_committed_reload_writes_the_state(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db, state_save_interval_s=3600)
    await add(runtime, 2)
    await hotbus.plugins.save("tally.py", tally() + "\nEDITED = True\n", "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    saved = await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    assert (saved.reason, rows(db)) == ("commit", [("tally", 1, '{"total":2}')])


async def test_a_commit_writes_the_state_given_to_the_new_version_without_asking_it(
    hotbus: Harness, db: Path
) -> None:
    """The new version took the old one's state whole: that is its state, no hook runs."""
    counting = tally().replace(
        "    async def export_state(self) -> TallyState:\n",
        "    exports = 0\n\n    async def export_state(self) -> TallyState:\n"
        "        self.exports += 1\n",
    )
    hotbus.plugins.write("tally.py", counting)
    runtime = await hotbus.start(state_db=db, state_save_interval_s=3600)
    await add(runtime, 2)
    await hotbus.plugins.save("tally.py", counting + "\nEDITED = True\n", "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    saved = await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    assert (saved.reason, rows(db)) == ("commit", [("tally", 1, '{"total":2}')])
    assert runtime.plugin("tally").exports == 0  # type: ignore[attr-defined]


async def test_a_commit_of_a_new_state_schema_writes_the_migrated_state(
    hotbus: Harness, db: Path
) -> None:
    """The new version migrated what it was given: it is asked for its state."""
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db, state_save_interval_s=3600)
    await add(runtime, 2)
    await hotbus.plugins.save("tally.py", tally(schema=2), "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    saved = await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    assert (saved.reason, rows(db)) == ("commit", [("tally", 2, '{"total":20}')])  # 2 * 10


async def test_a_commit_takes_the_state_of_the_plugins_it_moved_only(
    hotbus: Harness, db: Path
) -> None:
    """A reload costs what it moved: the other plugins' state is taken by the period."""
    hotbus.plugins.write("tally.py", tally())
    hotbus.plugins.write("other.py", tally().replace('name = "tally"', 'name = "other"'))
    runtime = await hotbus.start(state_db=db, state_save_interval_s=3600)
    await add(runtime, 2)  # both count (they share the topic): both states changed
    await hotbus.plugins.save("tally.py", tally() + "\nEDITED = True\n", "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    saved = await hotbus.wait_for(StateSaved, lambda e: e.reason == "commit", timeout=TIMEOUT)
    assert saved.plugins == ["tally"]
    await runtime.save_state()
    assert sorted(row[0] for row in rows(db)) == ["other", "tally"]


# -- where it goes -----------------------------------------------------------------------------


def test_the_default_database_is_beside_the_config_file(tmp_path: Path) -> None:
    settings = Settings(plugin_dirs=(tmp_path / "p",), config_file=tmp_path / "etc" / "hotbus.toml")
    assert state_db_path(settings) == tmp_path / "etc" / ".hotbus" / "state.sqlite3"


def test_without_a_config_file_the_database_is_in_the_first_plugin_directory(
    tmp_path: Path,
) -> None:
    settings = Settings(plugin_dirs=(tmp_path / "p", tmp_path / "q"))
    assert state_db_path(settings) == tmp_path / "p" / ".hotbus" / "state.sqlite3"


def test_a_relative_state_db_in_the_config_file_is_beside_it(tmp_path: Path) -> None:
    config = tmp_path / "hotbus.toml"
    config.write_text('state_db = "data/state.db"\n', encoding="utf-8")
    runtime = Runtime([tmp_path], config_file=config)
    assert state_db_path(runtime.settings) == tmp_path / "data" / "state.db"


async def test_the_database_directory_is_not_watched_as_plugins(hotbus: Harness) -> None:
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_save_interval_s=0.05)
    await add(runtime, 1)
    await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    await runtime.idle()
    assert runtime.state_db == hotbus.plugins.path.resolve() / ".hotbus" / "state.sqlite3"
    assert [e.path for e in hotbus.events.of(FileChanged)] == []


# -- what cannot be read -----------------------------------------------------------------------


async def test_a_corrupt_database_is_set_aside_with_its_content(hotbus: Harness, db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is no database" * 100)
    hotbus.plugins.write("tally.py", tally())
    await hotbus.start(state_db=db)
    aside = await hotbus.wait_for(StateStoreSetAside, timeout=TIMEOUT)
    assert aside.moved_to is not None
    assert aside.moved_to.read_bytes() == b"this is no database" * 100


async def test_after_a_corrupt_database_plugins_start_fresh(hotbus: Harness, db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\0garbage" * 500)
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db)
    assert (runtime.status()[0].state, total(runtime)) == (PluginState.ACTIVE, 0)


async def test_after_a_corrupt_database_a_new_one_keeps_state(hotbus: Harness, db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\0garbage" * 500)
    hotbus.plugins.write("tally.py", tally())
    await add(await hotbus.start(state_db=db), 6)
    assert total(await restart(hotbus, state_db=db)) == 6


async def test_a_corrupt_database_is_reported_with_its_path_and_the_fix(
    hotbus: Harness, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\0garbage" * 500)
    hotbus.plugins.write("tally.py", tally())
    with caplog.at_level(logging.ERROR, logger="hotbus.state"):
        await hotbus.start(state_db=db)
    aside = await hotbus.wait_for(StateStoreSetAside, timeout=TIMEOUT)
    assert [r.getMessage() for r in caplog.records if r.name == "hotbus.state"] == [
        f"❌ state database {db.resolve()} cannot be read (DatabaseError: file is not a "
        f"database): it was moved to {aside.moved_to}, and a new one made: plugins start "
        "fresh; inspect the old file with the sqlite3 tool, or delete it"
    ]


async def test_saved_state_that_does_not_import_is_kept_aside(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    await add(await hotbus.start(state_db=db), 8)
    await hotbus.stop()
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        connection.execute('UPDATE state SET data = \'{"total": "many"}\'')
    runtime = await hotbus.start(state_db=db)
    discarded = await hotbus.wait_for(StateDiscarded, timeout=TIMEOUT)
    await add(runtime, 1)
    await hotbus.stop()
    assert "does not import" in discarded.reason
    assert rows(db, "discarded") == [("tally", 1, '{"total": "many"}')]
    assert rows(db) == [("tally", 1, '{"total":1}')]


async def test_a_plugin_that_does_not_start_keeps_its_saved_state(
    hotbus: Harness, db: Path
) -> None:
    hotbus.plugins.write("tally.py", tally())
    await add(await hotbus.start(state_db=db), 9)
    await hotbus.stop()
    hotbus.plugins.write("tally.py", tally().replace("self.total = 0", "raise OSError('down')"))
    await hotbus.start(state_db=db)
    await hotbus.stop()
    hotbus.plugins.write("tally.py", tally())
    assert total(await hotbus.start(state_db=db)) == 9


# -- secrets -----------------------------------------------------------------------------------

SECRET = "s3cr3t-t0ken-value"


async def test_state_holding_a_secret_of_the_config_is_not_written(
    hotbus: Harness, db: Path
) -> None:
    hotbus.plugins.write("hotbus.toml", f'[plugins.tally]\ntoken = "{SECRET}"\n')
    hotbus.plugins.write(
        "tally.py",
        tally()
        .replace(
            "return TallyState(total=self.total)",
            "return TallyState(total=self.total, note=self.config.token.get_secret_value())",
        )
        .replace("total: int = 0\n", "total: int = 0\n    note: str = ''\n", 1),
    )
    await add(await hotbus.start(state_db=db), 1)
    failed = await hotbus.wait_for(StateSaveFailed, timeout=TIMEOUT)
    await hotbus.stop()
    assert failed.plugin == "tally"
    assert "holds a secret value of its config" in failed.error.message
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in db.parent.iterdir())


async def test_a_database_that_cannot_be_made_leaves_state_unsaved_and_says_so(
    hotbus: Harness, tmp_path: Path
) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=directory)
    failed = await hotbus.wait_for(StateSaveFailed, timeout=TIMEOUT)
    assert (runtime.state_db, failed.plugin, directory.is_dir()) == (None, None, True)
    assert failed.error.message.startswith(f"cannot open the state database {directory}: ")
    assert "state is not saved in this run" in failed.error.message


async def test_an_edited_save_period_applies_at_once(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("hotbus.toml", "state_save_interval_s = 3600\n")
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db)
    await add(runtime, 4)
    await hotbus.plugins.save("hotbus.toml", "state_save_interval_s = 0.05\n", "atomic")
    saved = await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    assert (runtime.settings.state_save_interval_s, saved.reason) == (0.05, "period")


async def test_a_write_waiting_on_the_disk_never_holds_the_loop(hotbus: Harness, db: Path) -> None:
    """Another connection holds the database's write lock: the store's write waits for it on
    the store's thread, and the loop goes on serving meanwhile; the write lands once the lock
    is released."""
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db, state_save_interval_s=0.02)
    await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the write lock, as a slow disk or process would
        await add(runtime, 3)
        loop = asyncio.get_running_loop()
        lags: list[float] = []
        for _ in range(25):  # 0.25 s: a dozen periods, each write waiting for the lock
            before = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - before - 0.01)
        assert total(runtime) == 3
        assert len(hotbus.events.of(StateSaved)) == 1  # the next write waits for the lock
        blocker.execute("COMMIT")
    finally:
        blocker.close()
    saved = await hotbus.wait_for(StateSaved, timeout=TIMEOUT)
    assert max(lags) < 0.1
    assert (saved.plugins, rows(db)) == (["tally"], [("tally", 1, '{"total":3}')])


# -- a plugin stopped while the runtime runs ---------------------------------------------------

BASE = """
from hotbus import Plugin


class Base(Plugin):
    name = "base"
    version = "1.0.0"
"""


async def test_a_disabled_plugin_comes_back_with_its_state(hotbus: Harness) -> None:
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(persist_state=False)
    await add(runtime, 6)
    await runtime.disable("tally")
    await runtime.enable("tally")
    assert total(runtime) == 6


async def test_the_state_of_a_disabled_plugin_is_written_at_once(hotbus: Harness, db: Path) -> None:
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(state_db=db, state_save_interval_s=3600)
    await add(runtime, 4)
    with runtime.bus.record(StateSaved) as saved:
        await runtime.disable("tally")
        await runtime.idle()
    assert [(e.reason, e.plugins) for e in saved if isinstance(e, StateSaved)] == [
        ("stop", ["tally"])
    ]
    assert rows(db) == [("tally", 1, '{"total":4}')]
    assert total(await restart(hotbus, state_db=db)) == 4  # disabled, then the process stopped


async def test_a_dependent_stopped_with_its_dependency_comes_back_with_its_state(
    hotbus: Harness,
) -> None:
    hotbus.plugins.write("base.py", BASE)
    needs_base = '    version = "1.0.1"\n    requires = ("base",)'
    hotbus.plugins.write("tally.py", tally().replace('    version = "1.0.1"', needs_base))
    runtime = await hotbus.start(persist_state=False)
    await add(runtime, 9)
    await runtime.disable("base")
    assert {row.name: row.state for row in runtime.status()}["tally"] is PluginState.BLOCKED
    await runtime.enable("base")
    assert total(runtime) == 9


async def test_an_unloaded_plugin_that_comes_back_has_its_state(hotbus: Harness) -> None:
    hotbus.plugins.write("tally.py", tally())
    runtime = await hotbus.start(persist_state=False)
    await add(runtime, 3)
    hotbus.plugins.delete("tally.py")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    await hotbus.plugins.save("tally.py", tally(), "atomic")
    await hotbus.wait_for(ReloadCommitted, timeout=TIMEOUT)
    await runtime.idle()
    assert total(runtime) == 3
