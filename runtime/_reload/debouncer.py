"""The debouncer: the subscriber of ``hotbus.file.changed`` that publishes ``hotbus.file.settled``.

Settling is per path and two-tier:

- a **write window** over closed, created and moved-onto events: when no further write came for
  the window, the path settles (where the platform reports no "closed" events, modified events
  count instead, with a longer window);
- a **delete window** for deleted and moved-away paths: a delete is tentative, and a recreate
  inside the window is a change, not an unload (vim's default save renames the file away before
  writing it again; ``git checkout`` deletes and recreates).

When a path settles its content is hashed: unchanged content (``touch``, a same-content save)
publishes nothing, and a missing file that was known publishes ``deleted``. A maximum wait stops
continuous writing from postponing a settle forever.

A window is counted from when the raw event happened (its ``timestamp``: the watcher stamps it
on watchdog's thread), not from when the loop got it, so that handing the event over overlaps
the window instead of adding to it; an event older than a quarter of its window (a loop that
was busy, a clock that stepped) counts as that old, no older. The loop's timers wake in whole
milliseconds, rounded up: the settle timer is set half a millisecond early, so that a path
settles within half a millisecond of its deadline either way instead of up to one late.

A write that completes a save (a "closed" event, or a file moved onto the path) is handed to
``written`` at once, so that the window can be used for the reload's own work (the runtime
loads the file's plugins then, on its loader thread, and their reload takes those loads if the
files are unchanged by then).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final

from hotbus.bus import Bus
from hotbus.runtime._listener import Listener
from hotbus.runtime._loading.paths import hash_file, is_ignored, unreadable
from hotbus.schemas import (
    ErrorInfo,
    FileChanged,
    FileChangeKind,
    FileSettled,
    FileUnreadable,
    SettleOutcome,
)

__all__ = ["Debouncer"]

_EMPTY = hashlib.sha256(b"").hexdigest()
#: The loop's timers wake in whole milliseconds, rounded up: a path settles when its deadline
#: is at most this far ahead, and the timer is set this much before the deadline.
_EARLY_S: Final = 0.0005
#: A raw event counts as at most this fraction of its window old (see the module docstring).
_MAX_AGE_OF_WINDOW: Final = 0.25


def _read_error(path: Path) -> OSError | None:
    """Why the file at ``path`` cannot be read; None if it can, or is not there (or no file)."""
    try:
        with path.open("rb"):
            return None
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as error:
        return error


def _files_under(root: Path) -> Iterator[Path]:
    """Every file under ``root``, through symlinked directories too (each real one once)."""
    seen: set[str] = set()
    for directory, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:  # a link back up the tree
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = [name for name in dirs if not is_ignored(Path(directory, name))]
        for name in files:
            yield Path(directory, name)


@dataclass(slots=True)
class _Pending:
    first: float
    deadline: float
    absorbed: int
    emptied: bool = False


@final
class Debouncer:
    """Turns bursts of raw file events into one settled outcome per path."""

    __slots__ = (
        "_bus",
        "_closed_events",
        "_delete_window",
        "_early",
        "_handle",
        "_idle",
        "_interesting",
        "_known",
        "_listener",
        "_max_wait",
        "_modified_window",
        "_pending",
        "_unreadable",
        "_write_window",
        "_written",
    )

    def __init__(
        self,
        bus: Bus,
        *,
        write_window_ms: float = 20.0,
        modified_window_ms: float = 100.0,
        delete_window_ms: float = 150.0,
        max_wait_windows: int = 10,
        closed_events: bool = True,
        interesting: Callable[[Path], bool] = lambda path: path.suffix == ".py",
        written: Callable[[Path], object] = lambda path: None,
    ) -> None:
        """``written`` is called (on the loop) with each path a write to which completes a
        save and that waits to settle; it must return at once."""
        self._bus = bus
        self._written = written
        self._write_window = write_window_ms / 1000
        self._modified_window = modified_window_ms / 1000
        self._delete_window = delete_window_ms / 1000
        self._max_wait = max_wait_windows
        self._closed_events = closed_events
        self._interesting = interesting
        self._pending: dict[Path, _Pending] = {}
        self._early: dict[Path, int] = {}
        self._known: dict[Path, str] = {}
        self._unreadable: set[Path] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._listener = Listener(bus, FileChanged, self.on_changed)
        self._idle: asyncio.Event | None = None

    def __repr__(self) -> str:
        return (
            f"<hotbus Debouncer window={self._write_window * 1000:g}ms "
            f"pending={len(self._pending)} known={len(self._known)}>"
        )

    @property
    def pending(self) -> int:
        """How many paths wait to settle."""
        return len(self._pending)

    async def quiet(self, limit: float) -> bool:
        """Wait until no path waits to settle, for at most ``limit`` seconds.

        The planner waits for this, so that the files of one save-all or ``git checkout``,
        which settle a few milliseconds apart, make one plan. Returns whether it is quiet.
        """
        if not self._pending:
            return True
        if self._idle is None:
            self._idle = asyncio.Event()
        try:
            async with asyncio.timeout(limit):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def attach(self) -> None:
        """Subscribe to ``hotbus.file.changed`` (idempotent)."""
        self._listener.attach()

    def detach(self) -> None:
        """Unsubscribe and forget what is pending."""
        self._listener.detach()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._pending.clear()
        self._early.clear()
        if self._idle is not None:
            self._idle.set()
            self._idle = None

    def configure(
        self,
        *,
        write_window_ms: float,
        delete_window_ms: float,
        modified_window_ms: float | None = None,
        max_wait_windows: int | None = None,
    ) -> None:
        """Change the windows (applies to events from now on)."""
        self._write_window = write_window_ms / 1000
        self._delete_window = delete_window_ms / 1000
        if modified_window_ms is not None:
            self._modified_window = modified_window_ms / 1000
        if max_wait_windows is not None:
            self._max_wait = max_wait_windows

    def configure_closed(self, closed_events: bool) -> None:
        """Whether the observer reports "closed" events (else modified events count)."""
        self._closed_events = closed_events

    def remember(self, paths: Iterable[Path]) -> None:
        """Record the current content of ``paths``, so that a same-content save is no change."""
        for path in paths:
            digest = hash_file(path)
            if digest is not None:
                self._known[path] = digest
            elif _read_error(path) is not None:
                self._unreadable.add(path)  # settles once its permissions are fixed

    def rescan(self, roots: Iterable[Path], files: Iterable[Path] = ()) -> list[Path]:
        """Note every path under ``roots`` (and each of ``files``) that changed unseen.

        After the watcher restarted, fell back to polling or found a lost directory again,
        the raw events of what happened meanwhile are lost. This compares every interesting
        file under ``roots``, and every known one, with the content hash it was last known
        by: a file that changed or appeared is noted for the write window, one that
        disappeared for the delete window, and each then settles like any save. Returns the
        noted paths.
        """
        roots = [Path(root) for root in roots]
        candidates = {Path(path) for path in files}
        candidates.update(p for p in self._known if any(p.is_relative_to(r) for r in roots))
        for root in roots:
            candidates.update(_files_under(root))
        noted: list[Path] = []
        for path in sorted(candidates):
            if not self._wanted(path):
                continue
            digest = hash_file(path)
            known = self._known.get(path)
            if digest == known:
                continue
            self._note(path, self._delete_window if digest is None else self._write_window)
            noted.append(path)
        return noted

    def _tell_unreadable(self, path: Path) -> bool:
        """If ``path`` is there but cannot be read, say so (once) and return True."""
        error = _read_error(path)
        if error is None:
            return False
        if path not in self._unreadable:
            self._unreadable.add(path)
            self._bus.publish_nowait(
                FileUnreadable(
                    path=path,
                    error=ErrorInfo(
                        type=type(error).__name__, message=unreadable(path, error), file=path
                    ),
                )
            )
        return True

    def staged(self, files: Mapping[Path, str]) -> list[Path]:
        """Record what a load or reload actually read: ``files``, path to content hash.

        A file may change between settling and being read (a second save a few milliseconds
        after the first, a ``git`` rewrite passing through an intermediate state). What was
        read is what the runtime acted on, so it becomes the known content: a later return to
        the settled bytes is a change again. While watching, a file whose content on disk is no
        longer what was read settles anew (returned), so that a later change always makes a
        later reload; not watching, nothing settles, and the files are not read again.
        """
        self._known.update(files)
        if not self._listener.attached:
            return []
        again = [
            path
            for path, digest in files.items()
            if path not in self._pending and hash_file(path) != digest
        ]
        for path in again:
            self._note(path, self._write_window)
        return again

    def on_changed(self, event: FileChanged) -> None:
        """Absorb one raw event (the bus calls this)."""
        kind = event.kind
        if event.is_directory:
            self._directory_event(event)
            return
        age = time.time() - event.timestamp.timestamp()
        if kind is FileChangeKind.MOVED:
            self._note(event.path, self._delete_window, age)
            if event.dest_path is not None:
                self._note(event.dest_path, self._write_window, age)
                self._completed(event.dest_path)
        elif kind is FileChangeKind.DELETED:
            self._note(event.path, self._delete_window, age)
        elif kind in (FileChangeKind.CLOSED, FileChangeKind.CREATED):
            self._note(event.path, self._write_window, age)
            if kind is FileChangeKind.CLOSED:
                self._completed(event.path)
        elif kind is FileChangeKind.ATTRIB:
            if event.path in self._unreadable:  # permissions changed: readable now?
                self._note(event.path, self._write_window, age)
        elif kind is FileChangeKind.MODIFIED:
            if self._closed_events:
                self._absorb(event.path)  # the "closed" that follows settles it
            else:
                self._note(event.path, self._modified_window, age)

    def _directory_event(self, event: FileChanged) -> None:
        gone = event.kind in (FileChangeKind.DELETED, FileChangeKind.MOVED)
        if gone:
            for path in [p for p in self._known if p.is_relative_to(event.path)]:
                self._note(path, self._delete_window)
        arrived = event.dest_path if event.kind is FileChangeKind.MOVED else None
        if event.kind is FileChangeKind.CREATED:
            arrived = event.path
        if arrived is not None and arrived.is_dir():
            for path in sorted(arrived.rglob("*")):
                if path.is_file():
                    self._note(path, self._write_window)

    def _completed(self, path: Path) -> None:
        """A write to ``path`` completed a save: tell ``written`` if the path waits to settle."""
        if path in self._pending:
            self._written(path)

    def _wanted(self, path: Path) -> bool:
        return not is_ignored(path) and (self._interesting(path) or path in self._known)

    def _absorb(self, path: Path) -> None:
        """Count a raw event that does not move the deadline (a write before its "closed")."""
        if not self._wanted(path):
            return
        pending = self._pending.get(path)
        if pending is not None:
            pending.absorbed += 1
        else:
            self._early[path] = self._early.get(path, 0) + 1

    def _note(self, path: Path, window: float, age: float = 0.0) -> None:
        """Note a raw event about ``path`` that happened ``age`` seconds ago: it settles once
        ``window`` has passed since then without another."""
        if not self._wanted(path):
            return
        now = time.monotonic() - min(max(age, 0.0), window * _MAX_AGE_OF_WINDOW)
        pending = self._pending.get(path)
        if pending is None:
            early = self._early.pop(path, 0)
            pending = self._pending[path] = _Pending(
                first=now, deadline=now + window, absorbed=early
            )
        pending.absorbed += 1
        limit = pending.first + self._max_wait * max(window, self._write_window)
        pending.deadline = min(now + window, limit)
        self._schedule()

    def _schedule(self) -> None:
        if not self._pending:
            return
        when = min(p.deadline for p in self._pending.values()) - _EARLY_S
        loop = asyncio.get_running_loop()
        if self._handle is not None:
            if self._handle.when() <= when:  # the loop's clock is time.monotonic
                return
            self._handle.cancel()
        self._handle = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        now = time.monotonic()
        due = sorted(path for path, p in self._pending.items() if p.deadline <= now + _EARLY_S)
        settled: list[FileSettled] = []
        for path in due:
            pending = self._pending.pop(path)
            outcome = self._settle(path, pending, now)
            if outcome is not None:
                settled.append(outcome)
        for event in settled:
            self._bus.publish_nowait(event)
        self._schedule()
        if not self._pending and self._idle is not None:
            self._idle.set()
            self._idle = None

    def _settle(self, path: Path, pending: _Pending, now: float) -> FileSettled | None:
        digest = hash_file(path)
        known = self._known.get(path)
        if digest is None and self._tell_unreadable(path):
            return None  # neither a change nor a deletion: what runs keeps running
        self._unreadable.discard(path)
        if digest is None:
            if known is None:
                return None  # a file we never knew came and went
            del self._known[path]
            outcome, digest = SettleOutcome.DELETED, None
        elif digest == known:
            return None  # touched, or saved with the same content
        elif digest == _EMPTY and known is not None and not pending.emptied:
            # Truncated: an editor that truncates and writes a moment later. Like a delete,
            # an emptied file is tentative for the delete window.
            pending.emptied = True
            pending.deadline = now + self._delete_window
            self._pending[path] = pending
            return None
        else:
            self._known[path] = digest
            outcome = SettleOutcome.CHANGED if known is not None else SettleOutcome.CREATED
        return FileSettled(
            path=path,
            outcome=outcome,
            content_hash=digest,
            absorbed=pending.absorbed,
            waited_ms=(now - pending.first) * 1000,
        )
