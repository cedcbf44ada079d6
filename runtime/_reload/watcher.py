"""The watcher: a watchdog observer whose callback only hands raw events to the loop.

Nothing but a clock reading and a ``call_soon_threadsafe`` runs on watchdog's threads: no event
is built there, no lock taken, and no exception can escape into them (an exception in a watchdog
handler silently kills the observer thread). A supervisor task notices a dead observer, says so
in an event and starts watching again; when the kernel's inotify limits are reached (at start,
or later for a new subdirectory, which watchdog only logs) the watcher falls back to a polling
observer, with a warning event.

watchdog is imported when watching starts, not with this module: writing a plugin or hosting one
without watching never loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

from hotbus.bus import Bus
from hotbus.runtime._loading.paths import is_data, is_ignored
from hotbus.schemas import (
    ErrorInfo,
    FileChanged,
    FileChangeKind,
    WatcherFellBack,
    WatcherFound,
    WatcherLost,
    WatcherRestarted,
    WatcherStarted,
    WatcherStopped,
)

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers.api import BaseObserver, ObservedWatch

__all__ = ["Watcher"]

logger = logging.getLogger("hotbus.watcher")

_KINDS: Final = {
    "created": FileChangeKind.CREATED,
    "modified": FileChangeKind.MODIFIED,
    "moved": FileChangeKind.MOVED,
    "deleted": FileChangeKind.DELETED,
    "closed": FileChangeKind.CLOSED,
    "attrib": FileChangeKind.ATTRIB,
}
_LIMIT_HINT: Final = (
    "the kernel's inotify limits are reached: raise them, e.g. "
    "'sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512'"
)


#: Where watchdog reports a watch it could not add, and carries on without it.
_INOTIFY_LOGGER: Final = "watchdog.observers.inotify"
_LIMITS: Final = frozenset({errno.ENOSPC, errno.EMFILE})


def _limit_error(record: logging.LogRecord) -> OSError | None:
    """The inotify limit error a log record of watchdog's carries, if any."""
    found: list[object] = list(record.args) if isinstance(record.args, tuple) else []
    if record.exc_info is not None:
        found.append(record.exc_info[1])
    for item in found:
        if isinstance(item, OSError) and item.errno in _LIMITS:
            return item
    return None


class _LimitReports(logging.Handler):
    """Hears watchdog report an inotify limit it hit once watching (it only logs that).

    Past start, watchdog adds a watch for every new subdirectory on its own threads; when the
    kernel refuses one (``ENOSPC``: too many watches), it logs a warning and leaves that
    directory unwatched. This handler hands such an error to ``report`` (thread-safe).
    """

    def __init__(self, report: Callable[[OSError], object]) -> None:
        super().__init__(logging.WARNING)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        error = _limit_error(record)
        if error is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing to tell
                self._report(error)


def _text(path: bytes | str) -> str:
    return os.fsdecode(path)


def _forwarder(hand_over: Callable[..., Any]) -> FileSystemEventHandler:
    """A watchdog handler that hands each event to ``hand_over``: when it was handed over
    (``time.time()``, read on watchdog's thread) and its raw fields."""
    return _forwarder_class()(hand_over)


@functools.cache
def _forwarder_class() -> Callable[[Callable[..., Any]], FileSystemEventHandler]:
    from watchdog.events import FileSystemEventHandler

    class Forwarder(FileSystemEventHandler):
        """Runs on watchdog's thread: stamps the time, hands the raw fields to the loop, and does
        nothing else."""

        def __init__(self, hand_over: Callable[..., Any]) -> None:
            super().__init__()
            self._hand_over = hand_over

        def dispatch(self, event: FileSystemEvent) -> None:
            # An exception here would kill watchdog's thread silently; the only one possible is
            # the loop closing, and then the event has nowhere to go anyway.
            with contextlib.suppress(BaseException):
                self._hand_over(
                    time.time(),
                    event.event_type,
                    event.src_path,
                    event.dest_path,
                    event.is_directory,
                )

    return Forwarder


@functools.cache
def _changes() -> list[type[FileSystemEvent]]:
    """The kinds of event the observers report: every change, no read.

    A file opened, or closed without writing, changes nothing. Left out, the kernel does not
    even report them (watchdog builds the inotify mask from this list): without this every
    read of a plugin file (hashing a save, staging it) sent two events through watchdog's
    threads and woke the loop, while the reload it was part of ran.
    """
    from watchdog import events

    return [
        events.FileCreatedEvent,
        events.DirCreatedEvent,
        events.FileModifiedEvent,
        events.DirModifiedEvent,
        events.FileAttribEvent,
        events.DirAttribEvent,
        events.FileMovedEvent,
        events.DirMovedEvent,
        events.FileDeletedEvent,
        events.DirDeletedEvent,
        events.FileClosedEvent,
        events.EventsLostEvent,
    ]


def _native_observer() -> BaseObserver:
    from watchdog.observers import Observer

    _no_burst_coalescing()
    return Observer()


@functools.cache
def _no_burst_coalescing() -> None:
    """Hand each inotify read to watchdog's dispatcher at once.

    watchdog 7 holds a read that follows another within 1 ms for up to 1 ms more, to gather a
    burst (fewer wake-ups of its dispatcher thread on a large tree). Every save is such a
    burst (a write, then a close; or a create, a write, a close and a rename), so each one
    reached the loop about 0.7 ms late, which the write window does not absorb: it counts from
    the hand-over. Plugin directories are small, and the write window gathers bursts anyway.
    Versions without the setting are left as they are.
    """
    try:
        from watchdog.observers import inotify_c
    except (ImportError, OSError):  # not Linux: no inotify
        return
    if hasattr(inotify_c, "_COALESCE_BURST_GAP_S"):
        inotify_c._COALESCE_BURST_GAP_S = 0.0


def _polling_observer() -> BaseObserver:
    from watchdog.observers.polling import PollingObserver

    return PollingObserver(timeout=0.1)


def _dead_thread(observer: BaseObserver) -> str:
    """Which of ``observer``'s threads died: "" while it and every emitter thread live.

    watchdog runs an emitter thread per watch beside the observer's own thread: an emitter
    can end (an exception in it, its watch removed) while the observer thread lives on and
    reports nothing.
    """
    if not observer.is_alive():
        return "observer thread"
    try:
        emitters = list(observer.emitters)
    except RuntimeError:  # pragma: no cover - scheduled from another thread while read
        return ""
    for emitter in emitters:
        if not emitter.is_alive():
            return f"emitter thread of {emitter.watch.path}"
    return ""


def _unschedule(observer: BaseObserver, watch: ObservedWatch) -> None:
    """Stop ``observer`` watching ``watch`` (harmless when its emitter already ended)."""
    with contextlib.suppress(KeyError):
        observer.unschedule(watch)


def _close(observer: BaseObserver) -> None:
    """Stop ``observer`` and wait for its threads (also when it never started)."""
    observer.stop()
    if observer.is_alive():
        observer.join()


@dataclass(slots=True, eq=False)
class _Target:
    """A directory the observer watches, and what it was when watching began."""

    path: Path
    recursive: bool
    #: (st_dev, st_ino) of the directory watched: another one at ``path`` means it was replaced.
    identity: tuple[int, int] | None = None
    #: An open descriptor of it: its link count tells a deleted directory from one moved away.
    fd: int | None = None
    watch: ObservedWatch | None = None
    lost: bool = False
    #: Watched for the target of a symlink in a plugin directory, not for a directory itself.
    alias: bool = False

    def covers(self, path: Path) -> bool:
        """Whether events about ``path`` come from this target's watch."""
        if self.recursive:
            return path.is_relative_to(self.path)
        return self.path in (path.parent, path)

    def pin(self) -> bool:
        """Remember which directory is at ``path`` now; False if there is none."""
        self.unpin()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return False
        status = os.fstat(fd)
        self.fd, self.identity = fd, (status.st_dev, status.st_ino)
        return True

    def unpin(self) -> None:
        """Forget the directory (and close its descriptor)."""
        fd, self.fd, self.identity = self.fd, None, None
        if fd is not None:
            os.close(fd)

    def intact(self) -> bool:
        """Whether the directory watched is still the one at ``path``."""
        try:
            status = os.stat(self.path)
        except OSError:
            return False
        return (status.st_dev, status.st_ino) == self.identity

    def vanished(self) -> str:
        """How the directory watched left ``path``: "deleted" or "moved away"."""
        if self.fd is not None and os.fstat(self.fd).st_nlink == 0:
            return "deleted"
        return "moved away"


@final
class Watcher:
    """Watches plugin directories (recursively) and the config file, on a watchdog observer.

    A watched directory that goes away is reported (`WatcherLost`) and waited for: deleted,
    its plugins unload (their files are gone); moved away or renamed, nothing is unloaded and
    its plugins keep serving their last good version, and events still arriving from it under
    its old path (a stray edit in the moved directory) are ignored rather than taken for
    deletions. As soon as a directory is at that path again it is watched (`WatcherFound`),
    and whatever differs from what runs settles like a save.
    """

    __slots__ = (
        "_bus",
        "_check_interval",
        "_config_file",
        "_dirs",
        "_forwarder",
        "_limit",
        "_limit_reports",
        "_links",
        "_native",
        "_observer",
        "_polling",
        "_relink",
        "_supervisor",
        "_targets",
        "_wake",
        "kind",
    )

    def __init__(
        self,
        bus: Bus,
        plugin_dirs: Sequence[Path],
        *,
        config_file: Path | None = None,
        observer_class: Callable[[], BaseObserver] = _native_observer,
        check_interval: float = 0.25,
    ) -> None:
        self._bus = bus
        self._dirs = [Path(d).resolve() for d in plugin_dirs]
        self._config_file = config_file
        self._native = observer_class
        self._check_interval = check_interval
        self._observer: BaseObserver | None = None
        self._forwarder: FileSystemEventHandler | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._targets: list[_Target] = []
        self._wake: asyncio.Event | None = None
        self._limit: OSError | None = None
        self._limit_reports: _LimitReports | None = None
        self._polling = False
        self._links: dict[Path, Path] = {}
        self._relink = False
        #: Which observer watches now: "native", "polling", or "" when stopped.
        self.kind = ""

    def __repr__(self) -> str:
        return f"<hotbus Watcher {self.kind or 'stopped'} dirs={len(self._dirs)}>"

    @property
    def running(self) -> bool:
        """Whether file changes are seen now: every directory is watched, every thread alive."""
        observer = self._observer
        return (
            observer is not None
            and not any(target.lost and not target.alias for target in self._targets)
            and not _dead_thread(observer)
        )

    @property
    def reports_closed(self) -> bool:
        """Whether the observer reports "closed" events (inotify does; polling does not)."""
        return self.kind == "native" and type(self._observer).__name__ == "InotifyObserver"

    @property
    def roots(self) -> list[Path]:
        """The plugin directories watched now (not those lost)."""
        return [
            t.path for t in self._targets if t.recursive and not (t.lost or t.alias) and t.identity
        ]

    def _wanted_targets(self) -> list[_Target]:
        targets = [_Target(d, recursive=True) for d in self._dirs]
        if self._config_file is not None:
            parent = self._config_file.resolve().parent
            if not any(parent.is_relative_to(d) for d in self._dirs):
                targets.append(_Target(parent, recursive=False))
        return targets

    def _find_links(self) -> dict[Path, Path]:
        """Every symlink in the plugin directories, by the real path it points to."""
        links: dict[Path, Path] = {}
        for target in self._targets:
            if target.alias or not target.recursive or target.lost:
                continue
            for directory, dirs, files in os.walk(target.path):
                dirs[:] = [name for name in dirs if not is_ignored(Path(directory, name))]
                for name in (*dirs, *files):
                    link = Path(directory, name)
                    if is_ignored(link) or not link.is_symlink():
                        continue
                    with contextlib.suppress(OSError, RuntimeError):  # dangling, a loop
                        links[link.resolve(strict=True)] = link
        return links

    def _alias_targets(self, links: dict[Path, Path]) -> list[_Target]:
        """What to watch for the targets of ``links`` that no plugin directory holds.

        A linked directory is watched recursively, a linked file's real directory not.
        """
        own = [t for t in self._targets if t.recursive and not t.alias]
        wanted: dict[Path, bool] = {}
        for real in links:
            if any(real.is_relative_to(t.path) for t in own):
                continue  # its events come anyway, by its real path
            if real.is_dir():
                wanted[real] = True
            else:
                wanted.setdefault(real.parent, False)
        return [
            _Target(path, recursive=recursive, alias=True)
            for path, recursive in sorted(wanted.items())
            if not any(path != other and path.is_relative_to(other) for other in wanted)
        ]

    def _launch(
        self, factory: Callable[[], BaseObserver], loop: asyncio.AbstractEventLoop
    ) -> BaseObserver:
        forwarder = _forwarder(lambda *fields: loop.call_soon_threadsafe(self._emit, *fields))
        observer = factory()
        try:
            for target in self._targets:
                if not target.lost:
                    target.watch = observer.schedule(
                        forwarder,
                        str(target.path),
                        recursive=target.recursive,
                        event_filter=_changes(),
                    )
            observer.start()
        except BaseException:
            _close(observer)  # its inotify reader and emitters too, started or not
            raise
        self._forwarder = forwarder
        return observer

    async def start(self) -> None:
        """Start watching (harmless if already watching)."""
        if self._supervisor is not None:
            return
        self._bus.bind()
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._limit_reports = _LimitReports(
            lambda error: loop.call_soon_threadsafe(self._limit_reached, error)
        )
        logging.getLogger(_INOTIFY_LOGGER).addHandler(self._limit_reports)
        self._targets = self._wanted_targets()
        missing = [t for t in self._targets if not t.pin()]
        for target in missing:
            target.lost = True
        self._links = self._find_links()
        self._targets += [t for t in self._alias_targets(self._links) if t.pin()]
        await self._open()
        for target in missing:
            await self._publish_lost(target, "missing")
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name="hotbus-watcher"
        )

    async def _open(self, restarted_because: str = "", limit: OSError | None = None) -> None:
        """Watch with a new observer: native unless ``limit`` (or an earlier one) says not."""
        loop = asyncio.get_running_loop()
        old, self._observer = self._observer, None
        if old is not None:  # half dead (an emitter died): stop what still runs of it
            await asyncio.to_thread(_close, old)
        if limit is None and not self._polling:
            try:
                self._observer = await asyncio.to_thread(self._launch, self._native, loop)
                self.kind = "native"
            except OSError as error:
                limit = error
        if self._observer is None:
            self._observer = await asyncio.to_thread(self._launch, _polling_observer, loop)
            self.kind = "polling"
        if limit is not None:
            self._polling = True  # until watching is switched off and on again
            await self._bus.publish(
                WatcherFellBack(error=ErrorInfo.from_exception(limit), hint=_LIMIT_HINT)
            )
        paths = [t.path for t in self._targets if not t.lost and not t.alias]
        if restarted_because:
            await self._bus.publish(WatcherRestarted(observer=self.kind, reason=restarted_because))
        await self._bus.publish(WatcherStarted(observer=self.kind, paths=paths))

    async def _supervise(self) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._check_interval):
                    await wake.wait()
            wake.clear()
            try:
                await self._check()
            except Exception:  # the supervisor itself must not end silently: next round
                logger.exception("checking the watcher failed; checking again")

    async def _check(self) -> None:
        """One round of supervision: directories lost and found, links, limits, dead threads."""
        for target in self._targets:
            if not target.lost and not target.intact():
                await self._lose(target)
            if target.lost and target.path.is_dir():
                await self._find(target)
        if self._relink:
            self._relink = False
            await self._update_links()
        limit, self._limit = self._limit, None
        if limit is not None and self.kind == "native":
            await self._open(limit=limit)
        observer = self._observer
        dead = "" if observer is None else _dead_thread(observer)
        if dead:
            await self._open(f"the {self.kind} {dead} died")

    async def _update_links(self) -> None:
        """Symlinks came or went in a plugin directory: watch what they point to now."""
        self._links = self._find_links()
        wanted = {(t.path, t.recursive): t for t in self._alias_targets(self._links)}
        observer = self._observer
        for target in [t for t in self._targets if t.alias]:
            if wanted.pop((target.path, target.recursive), None) is None:
                self._targets.remove(target)
                target.unpin()
                if target.watch is not None and observer is not None:
                    await asyncio.to_thread(_unschedule, observer, target.watch)
        for target in wanted.values():
            if target.pin():
                target.lost = True  # watched by `_find`, as a directory that came back
                self._targets.append(target)
                await self._find(target)

    def _limit_reached(self, error: OSError) -> None:
        """On the loop: watchdog could not add a watch past a kernel limit; fall back soon."""
        self._limit = error
        if self._wake is not None:
            self._wake.set()

    async def _lose(self, target: _Target) -> None:
        """``target``'s directory left its path: stop watching it and say so."""
        reason = target.vanished()
        target.lost = True
        target.unpin()
        watch, target.watch = target.watch, None
        observer = self._observer
        if watch is not None and observer is not None:
            await asyncio.to_thread(_unschedule, observer, watch)
        if not target.alias:
            await self._publish_lost(target, reason)

    async def _publish_lost(self, target: _Target, reason: str) -> None:
        await self._bus.publish(
            WatcherLost(path=target.path, reason=reason, deleted=reason == "deleted")
        )

    async def _find(self, target: _Target) -> None:
        """A directory is at ``target``'s path again: watch it and say so."""
        observer, forwarder = self._observer, self._forwarder
        if not target.pin():
            return
        target.lost = False
        if observer is None or forwarder is None:
            return
        try:
            target.watch = await asyncio.to_thread(
                functools.partial(
                    observer.schedule,
                    forwarder,
                    str(target.path),
                    recursive=target.recursive,
                    event_filter=_changes(),
                )
            )
        except OSError as error:
            await self._open(limit=error)
        if not target.alias:
            await self._bus.publish(WatcherFound(path=target.path))

    async def stop(self, reason: str = "") -> None:
        """Stop watching; returns once no watcher thread is left (harmless if stopped)."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        reports, self._limit_reports = self._limit_reports, None
        if reports is not None:
            logging.getLogger(_INOTIFY_LOGGER).removeHandler(reports)
        self._limit, self._polling = None, False
        for target in self._targets:
            target.unpin()
        self._targets = []
        self._links = {}
        self._relink = False
        self._forwarder = None
        observer, self._observer = self._observer, None
        if observer is None:
            return
        await asyncio.to_thread(_close, observer)
        self.kind = ""
        await self._bus.publish(WatcherStopped(reason=reason))

    def _emit(
        self, stamp: float, kind: str, src: bytes | str, dest: bytes | str, is_dir: bool
    ) -> None:
        """On the loop: turn the raw fields into a `FileChanged` and publish it.

        The event's ``timestamp`` is ``stamp``, when watchdog's thread handed it over: the
        debouncer counts its window from then, not from when the loop got round to it.
        """
        change = _KINDS.get(kind)
        if change is None:  # opened, closed_no_write: reads, not changes
            return
        path = Path(_text(src))
        dest_path = Path(_text(dest)) if dest else None
        if is_data(path) and (dest_path is None or is_data(dest_path)):
            return  # the runtime writing its own data (the state database)
        if not self._seen_in_place(path):
            return
        own = any(
            target.covers(p)
            for target in self._targets
            if not target.alias
            for p in (path, dest_path)
            if p is not None
        )
        when = datetime.fromtimestamp(stamp, UTC)
        if own:
            self._bus.publish_nowait(
                FileChanged(
                    kind=change,
                    path=path,
                    dest_path=dest_path,
                    is_directory=is_dir,
                    timestamp=when,
                )
            )
            if change is not FileChangeKind.CLOSED and change is not FileChangeKind.MODIFIED:
                self._note_links(path, dest_path)
        if self._links:
            self._emit_through_links(change, path, dest_path, is_dir, when)

    def _emit_through_links(
        self, change: FileChangeKind, path: Path, dest: Path | None, is_dir: bool, when: datetime
    ) -> None:
        """Publish an event about a symlink's target as one about the link (the path known)."""
        linked = self._through_link(path)
        linked_dest = self._through_link(dest) if dest is not None else None
        if change is FileChangeKind.MOVED and (linked is None) != (linked_dest is None):
            # Moved onto the target (an atomic save) or away from it.
            if linked_dest is not None:
                change, linked = FileChangeKind.CREATED, linked_dest
            else:
                change = FileChangeKind.DELETED
            linked_dest = None
        if linked is not None:
            self._bus.publish_nowait(
                FileChanged(
                    kind=change,
                    path=linked,
                    dest_path=linked_dest,
                    is_directory=is_dir,
                    timestamp=when,
                )
            )

    def _through_link(self, path: Path) -> Path | None:
        """``path`` as seen through the symlink pointing at it (or at a directory above it)."""
        for real, link in self._links.items():
            if path == real:
                return link
            if path.is_relative_to(real):
                return link / path.relative_to(real)
        return None

    def _note_links(self, path: Path, dest: Path | None) -> None:
        """A symlink appeared or went: watch what the links point to now (the supervisor)."""
        known = set(self._links.values())
        for p in (path, dest):
            if p is not None and (p in known or p.is_symlink()):
                self._relink = True
                if self._wake is not None:
                    self._wake.set()
                return

    def _seen_in_place(self, path: Path) -> bool:
        """Whether an event about ``path`` comes from the directory now at its path.

        A watch follows its directory when it is moved away, and reports what happens in it
        under the old path: such an event is dropped (and the supervisor woken to tell).
        """
        for target in self._targets:
            if target.covers(path):
                if target.lost:
                    return False
                if not target.intact():
                    if self._wake is not None:
                        self._wake.set()
                    return False
        return True
