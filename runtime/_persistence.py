"""`Persistence`: each plugin's `State` kept across restarts, in the state database.

At start the state saved by the last run is read, and each plugin gets its own when it first
comes up, through the very hand-off (and migration) a reload uses. After every committed
reload, every ``state_save_interval_s``, and at stop, the state of every running plugin that
exports one is taken (``export_state``, under its time limit) and what changed since the last
write is written, in one SQLite transaction, on the store's thread: the loop never waits on the
disk. A process killed at any moment loses at most what changed since the last write.

A plugin stopped while the runtime runs (disabled, unloaded, stopped with a dependency) gives
its state as it stops: it is kept for the plugin's next start, and written at once.

Config is not state: a plugin's state that holds a secret of its config is not written (said
once, as `StateSaveFailed`), and nothing of the settings or config is ever stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Final, final

from hotbus.runtime._config.settings import secret_values
from hotbus.runtime._engine.engine import Engine
from hotbus.runtime._engine.records import Record
from hotbus.runtime._listener import Listener
from hotbus.runtime._loading.paths import DATA_DIR
from hotbus.runtime._loading.phase_error import PhaseError
from hotbus.runtime._plugins.handoff import Handoff
from hotbus.runtime._plugins.plugin import Plugin
from hotbus.runtime._statestore import Row, StateStore
from hotbus.schemas import (
    ErrorInfo,
    PluginState,
    ReloadCommitted,
    Settings,
    StateDiscarded,
    StateRestored,
    StateSaved,
    StateSaveFailed,
    StateStoreSetAside,
)

__all__ = ["DB_NAME", "Persistence", "state_db_path"]

logger = logging.getLogger("hotbus.state")

#: Where the state database goes by default, beside the config file (or in the first plugin
#: directory): a dot-directory, which the watcher ignores.
DB_NAME: Final = Path(DATA_DIR) / "state.sqlite3"


def state_db_path(settings: Settings) -> Path | None:
    """The state database ``settings`` name, or None when state is not persisted.

    ``state_db`` if set; else ``.hotbus/state.sqlite3`` beside the config file; else in the
    first plugin directory; else none (nowhere to put it).
    """
    if not settings.persist_state:
        return None
    if settings.state_db is not None:
        return Path(settings.state_db).resolve()
    if settings.config_file is not None:
        return (Path(settings.config_file).parent / DB_NAME).resolve()
    if settings.plugin_dirs:
        return (Path(settings.plugin_dirs[0]) / DB_NAME).resolve()
    return None


def _stateful(instance: Plugin) -> bool:
    """Whether ``instance`` may have state to save (it declares a model or exports one)."""
    plugin_class = type(instance)
    return (
        plugin_class.state_model is not None or plugin_class.export_state is not Plugin.export_state
    )


def _holds_secret(text: str, secrets: list[str]) -> bool:
    """Whether JSON ``text`` holds one of ``secrets`` (as it is, or as JSON escapes it)."""
    return any(s in text or json.dumps(s)[1:-1] in text for s in secrets)


@final
class Persistence:
    """Saves and restores plugins' state for the `Engine` it is given (see the module)."""

    __slots__ = (
        "_committed_since",
        "_complained",
        "_discard",
        "_due",
        "_engine",
        "_final",
        "_from_disk",
        "_listeners",
        "_moved",
        "_stopping",
        "_store",
        "_task",
        "_write_failed",
        "_written",
    )

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._store: StateStore | None = None
        #: The text last written (or read) for each plugin: what is unchanged is not written.
        self._written: dict[str, str] = {}
        #: Plugins whose row is still the one read at start.
        self._from_disk: set[str] = set()
        #: Of those, the ones that came up without it: their row is kept aside when replaced.
        self._discard: set[str] = set()
        #: (plugin, version, what) already reported, so that a period does not repeat it.
        self._complained: set[tuple[str, str | None, str]] = set()
        self._write_failed = False
        self._final: list[Row] = []
        self._due = asyncio.Event()
        self._stopping = False
        self._committed_since = False
        #: The plugins the commits since the last save moved (a commit saves only those).
        self._moved: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._listeners = (
            Listener(engine.bus, ReloadCommitted, self._committed),
            Listener(engine.bus, StateDiscarded, self._discarded),
        )

    def __repr__(self) -> str:
        where = str(self._store.path) if self._store is not None else "off"
        return f"<hotbus Persistence {where}>"

    @property
    def path(self) -> Path | None:
        """The state database in use, or None when state is not saved."""
        return self._store.path if self._store is not None else None

    # -- start ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the state database and hand the saved state to the engine (before plugins
        start). A database that cannot be read is set aside; one that cannot be made at all
        leaves state unsaved for this run. Either is said, with the path and the fix."""
        path = state_db_path(self._engine.settings)
        if path is None:
            return
        store = StateStore(path)
        try:
            opened = await store.open()
        except (OSError, sqlite3.Error, ValueError) as error:
            await store.close()
            await self._failed(
                path,
                None,
                ErrorInfo(
                    type=type(error).__name__,
                    message=(
                        f"cannot open the state database {path}: {error}; state is not saved "
                        "in this run: make its directory writable, close the other process "
                        "using it, or set state_db (--state-db) to another file"
                    ),
                ),
            )
            return
        self._store = store
        for listener in self._listeners:
            listener.attach()
        bus = self._engine.bus
        if opened.error is not None:
            where = f"moved to {opened.moved_to}" if opened.moved_to else "left where it is"
            await bus.publish(
                StateStoreSetAside(
                    path=path,
                    moved_to=opened.moved_to,
                    error=ErrorInfo(type=type(opened.error).__name__, message=str(opened.error)),
                    hint=(
                        f"it was {where}, and a new one made: plugins start fresh; inspect the "
                        "old file with the sqlite3 tool, or delete it"
                    ),
                )
            )
        rows = opened.rows
        self._engine.restored = {name: row.handoff() for name, row in rows.items()}
        self._written = {name: row.text for name, row in rows.items()}
        self._from_disk = set(rows)
        if rows:
            await bus.publish(StateRestored(path=path, plugins=sorted(rows)))

    def start(self) -> None:
        """Start saving: after each committed reload, and every ``state_save_interval_s``."""
        if self._store is None or self._task is not None:
            return
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._saving(), name="hotbus-state")

    def configure(self) -> None:
        """The settings changed: the next period is counted with ``state_save_interval_s`` as
        it is now."""
        self._due.set()

    async def _saving(self) -> None:
        while not self._stopping:
            try:
                async with asyncio.timeout(self._engine.settings.state_save_interval_s):
                    await self._due.wait()
                reason = "commit"
            except TimeoutError:
                reason = "period"
            self._due.clear()
            if self._stopping:
                return
            if reason == "commit" and not self._committed_since:
                continue  # woken to count the period anew (the settings changed)
            self._committed_since = False
            moved, self._moved = self._moved, set()
            try:
                await self.save(reason, only=moved if reason == "commit" else None)
            except Exception:  # never let saving end: say it, and try again next time
                logger.exception("saving plugin state failed")

    def _committed(self, event: ReloadCommitted) -> None:
        self._moved.update(c.plugin for c in event.changes if c.new_version is not None)
        self._committed_since = True
        self._due.set()

    def _discarded(self, event: StateDiscarded) -> None:
        if event.plugin in self._from_disk:
            self._discard.add(event.plugin)

    # -- saving -----------------------------------------------------------------------------

    async def save(self, reason: str = "period", *, only: set[str] | None = None) -> None:
        """Take the state of every running plugin that has one (or of those named ``only``:
        what a commit moved, so that a reload costs what it moved, not what runs), and write
        what changed.

        A plugin that a commit moved and that took the whole state handed to it, as it was
        (`Engine.imported`), is not asked again: that state is written.
        """
        if self._store is None:
            return
        begin = time.perf_counter()
        engine = self._engine
        rows: list[Row] = []
        async with engine.lock:
            if only is None:
                records = list(engine.records)
            else:
                records = [rec for name in sorted(only) if (rec := engine.records.find(name))]
            for rec in records:
                if rec.state is PluginState.ACTIVE:
                    given = engine.imported.pop(rec.name, None) if only is not None else None
                    if given is not None and rec.instance is not None:
                        # A commit's save: what the new version was just given is its state.
                        row = await self._row(rec, given)
                    else:
                        row = await self._take(rec)
                    if row is not None:
                        rows.append(row)
        await self._write(rows, reason, begin)

    async def take(self, rec: Record) -> None:
        """Take ``rec``'s last state as it stops (written by `close`)."""
        if self._store is not None:
            row = await self._take(rec)
            if row is not None:
                self._final.append(row)

    async def keep(self, rec: Record) -> None:
        """Take ``rec``'s state as it stops while the runtime runs (disabled, unloaded, or
        stopped with a dependency): it gets it back when it starts again, as after a restart,
        and it is written at once (the engine's `keep_state`)."""
        handoff = await self._export(rec)
        if handoff is None:
            return
        self._engine.restored[rec.name] = handoff
        if self._store is not None:
            row = await self._row(rec, handoff)
            if row is not None:
                await self._write([row], "stop", time.perf_counter())

    async def _take(self, rec: Record) -> Row | None:
        handoff = await self._export(rec)
        return None if handoff is None else await self._row(rec, handoff)

    async def _export(self, rec: Record) -> Handoff | None:
        """``rec``'s state, if it has one; a failure to export it is said once."""
        instance = rec.instance
        if instance is None or not _stateful(instance):
            return None
        try:
            return await self._engine.export_state(rec)
        except PhaseError as failure:
            info = self._engine.describe(rec, failure.error)
            await self._complain(rec, "export", info)
            return None

    async def _row(self, rec: Record, handoff: Handoff) -> Row | None:
        """The row ``handoff`` is written as; None (said once) when it holds a config secret."""
        text = json.dumps(handoff.data, sort_keys=True, separators=(",", ":"))
        if _holds_secret(text, secret_values(rec.config)):
            await self._complain(
                rec,
                "secret",
                ErrorInfo(
                    type="hotbus.schemas.PluginError",
                    message=(
                        f"the state of {rec.name} holds a secret value of its config "
                        f"([plugins.{rec.name}]): it is not saved; config is not state, keep "
                        "secrets out of the State model (every version gets its config anyway)"
                    ),
                    file=rec.source.main_file,
                ),
            )
            return None
        return Row(rec.name, handoff.schema_version, text, rec.version)

    async def _complain(self, rec: Record, what: str, info: ErrorInfo) -> None:
        key = (rec.name, rec.version, what)
        if key in self._complained or self._store is None:
            return
        self._complained.add(key)
        await self._failed(self._store.path, rec.name, info)

    async def _failed(self, path: Path, plugin: str | None, info: ErrorInfo) -> None:
        await self._engine.bus.publish(StateSaveFailed(path=path, plugin=plugin, error=info))

    async def _write(self, rows: list[Row], reason: str, begin: float) -> None:
        store = self._store
        if store is None:
            return
        changed = [row for row in rows if self._written.get(row.plugin) != row.text]
        discard = sorted(self._discard & {row.plugin for row in changed})
        if not changed:
            return
        try:
            await store.write(changed, discard)
        except (sqlite3.Error, OSError) as error:
            if not self._write_failed:
                self._write_failed = True
                message = (
                    f"cannot write the state database {store.path}: {error}; the state saved "
                    "last is kept, and writing is tried again: free disk space, or make the "
                    "file writable"
                )
                await self._failed(
                    store.path, None, ErrorInfo(type=type(error).__name__, message=message)
                )
            return
        self._write_failed = False
        for row in changed:
            self._written[row.plugin] = row.text
            self._from_disk.discard(row.plugin)
        self._discard.difference_update(discard)
        await self._engine.bus.publish(
            StateSaved(
                path=store.path,
                plugins=[row.plugin for row in changed],
                reason=reason,
                duration_ms=(time.perf_counter() - begin) * 1000,
            )
        )

    # -- stop -------------------------------------------------------------------------------

    async def pause(self) -> None:
        """Stop saving by time and by commit (a save under way finishes first)."""
        for listener in self._listeners:
            listener.detach()
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._due.set()
            await task

    async def close(self) -> None:
        """Write the state taken as the plugins stopped (`take`), and close the database."""
        store = self._store
        if store is None:
            return
        rows, self._final = self._final, []
        try:
            await self._write(rows, "stop", time.perf_counter())
        finally:
            self._store = None
            await store.close()
