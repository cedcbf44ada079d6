"""`StateStore`: plugins' saved state in one SQLite file, worked on a thread of its own.

Every SQLite call runs on the store's own thread (one connection, made and used there only),
so that a slow disk never holds the event loop: the loop awaits the result. Each write is one
SQLite transaction, in write-ahead-log mode: a process killed at any moment leaves the last
committed snapshot whole.

A database that cannot be read (not a database, damaged, unreadable) is never deleted: it is
renamed aside (``state.sqlite3.unreadable-<time>``), a new one is made, and `StateStore.open`
says so, so that plugins start fresh and nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar, final

from hotbus.runtime._plugins.handoff import Handoff

__all__ = ["FORMAT", "Opened", "Row", "StateStore"]

T = TypeVar("T")

#: The layout of the database; a file of a newer layout is set aside, never misread.
FORMAT: Final = 1
#: How long a write waits for another process holding the database, in seconds.
_BUSY_TIMEOUT_S: Final = 5.0
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS state ("
    " plugin TEXT PRIMARY KEY, schema_version INTEGER NOT NULL, data TEXT NOT NULL,"
    " version TEXT, saved_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS discarded ("
    " plugin TEXT NOT NULL, schema_version INTEGER NOT NULL, data TEXT NOT NULL,"
    " version TEXT, saved_at REAL NOT NULL, discarded_at REAL NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class Row:
    """One plugin's state as written: its hand-off data (as JSON text) and its version."""

    plugin: str
    schema_version: int
    text: str
    version: str | None = None

    def handoff(self) -> Handoff:
        """The state as a `Handoff`, for the plugin's next start."""
        data = json.loads(self.text)
        if not isinstance(data, dict):
            raise ValueError(f"the saved state of {self.plugin} is not a JSON object")
        return Handoff(self.schema_version, data)


@dataclass(frozen=True, slots=True)
class Opened:
    """What `StateStore.open` found: the saved rows, and a database set aside, if any."""

    rows: dict[str, Row]
    #: The error that made the database unreadable (its file was then moved aside).
    error: BaseException | None = None
    #: Where the unreadable database went; None if it could not be moved.
    moved_to: Path | None = None


@final
class StateStore:
    """The state database at ``path``. Open it, write snapshots, close it; all off the loop."""

    __slots__ = ("_connection", "_executor", "path")

    def __init__(self, path: Path) -> None:
        #: The database file.
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotbus-state")
        self._connection: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        state = "open" if self._connection is not None else "closed"
        return f"<hotbus StateStore {str(self.path)!r} {state}>"

    async def _run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    # -- opening ----------------------------------------------------------------------------

    async def open(self) -> Opened:
        """Open (or create) the database and read every saved row.

        A database that cannot be read is moved aside and a new one made in its place
        (`Opened.error`, `Opened.moved_to`).

        Raises:
            OSError, sqlite3.Error: the new database cannot be made either (a directory that
                cannot be written): the caller runs without saving state.
        """
        return await self._run(self._open)

    def _open(self) -> Opened:
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory, not a database file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return Opened(self._connect_and_read())
        except sqlite3.OperationalError as error:
            if _locked(error):
                raise  # another process holds it: nothing wrong with the file
            problem: BaseException = error
        except (sqlite3.DatabaseError, ValueError, OSError) as error:
            problem = error
        self._close_connection()
        moved = _move_aside(self.path)
        return Opened(self._connect_and_read(), error=problem, moved_to=moved)

    def _connect_and_read(self) -> dict[str, Row]:
        self._close_connection()
        connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        self._connection = connection
        check = connection.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise sqlite3.DatabaseError(f"the database is damaged: {check[0] if check else '?'}")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                connection.execute(statement)
            found = connection.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if found is None:
                connection.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT),))
            elif found[0] != str(FORMAT):
                raise ValueError(
                    f"the database has layout {found[0]}, and this hotbus reads layout {FORMAT}"
                )
            rows = {
                plugin: Row(plugin, int(schema), str(text), version)
                for plugin, schema, text, version in connection.execute(
                    "SELECT plugin, schema_version, data, version FROM state"
                )
            }
            for row in rows.values():
                row.handoff()  # every row must parse, or the file is not what it should be
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return rows

    # -- writing ----------------------------------------------------------------------------

    async def write(self, rows: Iterable[Row], discard: Iterable[str] = ()) -> None:
        """Write ``rows`` (replacing each plugin's row) in one transaction.

        The rows of the plugins named in ``discard`` are first copied to the ``discarded``
        table (their data was not imported, and is kept there).

        Raises:
            sqlite3.Error, OSError: the write failed; the database keeps what it had.
        """
        rows, discard = list(rows), list(discard)
        await self._run(lambda: self._write(rows, discard))

    def _write(self, rows: list[Row], discard: list[str]) -> None:
        connection = self._connection
        if connection is None:
            raise sqlite3.ProgrammingError("the state database is closed")
        now = time.time()
        connection.execute("BEGIN IMMEDIATE")
        try:
            for plugin in discard:
                connection.execute(
                    "INSERT INTO discarded SELECT plugin, schema_version, data, version, "
                    "saved_at, ? FROM state WHERE plugin = ?",
                    (now, plugin),
                )
            connection.executemany(
                "INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?)",
                [(r.plugin, r.schema_version, r.text, r.version, now) for r in rows],
            )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    # -- closing ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the database and end the store's thread (idempotent)."""
        try:
            await self._run(self._close_connection)
        except RuntimeError:  # the executor is shut down already
            return
        self._executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _locked(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _move_aside(path: Path) -> Path | None:
    """Rename the database (and its journal files) to ``<name>.unreadable-<time>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.unreadable-{stamp}")
    count = 1
    while target.exists():
        count += 1
        target = path.with_name(f"{path.name}.unreadable-{stamp}-{count}")
    try:
        path.rename(target)
    except OSError:  # gone meanwhile, or a directory that cannot be written
        return None
    for suffix in ("-wal", "-shm"):
        journal = path.with_name(path.name + suffix)
        if journal.exists():
            try:
                journal.rename(target.with_name(target.name + suffix))
            except OSError:
                journal.unlink(missing_ok=True)
    return target
