"""`Importer`: executes plugin sources on a loader thread, never on the event loop's.

A plugin's module code is arbitrary: it may loop forever (a ``while True`` left while editing)
or sleep. It runs on a thread of its own, so that the loop, and every other plugin, goes on
meanwhile. Loads are submitted in batches (a start-up submits all of its loads at once: one
hand-over, not one round trip per plugin) and run one after the other; the loop awaits each
result under a time limit counted from when that load began. Past the limit, the load is
interrupted (`PluginInterrupted` raised in the loader thread) and reported as the plugin's
failure at phase import, naming the file and line it was running. A thread stuck in a C call
(``time.sleep(60)``) sees the interruption only when the call returns: it is abandoned, a new
loader thread takes the next loads, and the abandoned one purges its generation when it ends.

A save is loaded while it settles (`stage_ahead`): the write that completes it queues a load
of the plugin it belongs to, and the reload it sets off takes that load, once done, if every file
the load read still holds the bytes it read; else it loads anew. At most one such load per plugin
waits to be taken, so a plugin whose module code writes its own file runs once more per reload,
not in a loop; one that is never taken is discarded after the import time limit (a load still
running then is stopped as any other). Where no plugin owns the file, it is only compiled ahead
(`precompile`) while no load waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final, final

from hotbus.runtime._loading.bytecode import unwritten, write_bytecode
from hotbus.runtime._loading.interrupt import (
    culprit,
    drain,
    interrupt,
    may_interrupt,
    stack_of,
)
from hotbus.runtime._loading.loader import Loaded, PluginSource, load, precompile
from hotbus.runtime._loading.paths import hash_file
from hotbus.runtime._loading.phase_error import PhaseError
from hotbus.schemas import Phase, PluginInterrupted

__all__ = ["Importer", "Job"]

_QUEUED: Final = 0
_RUNNING: Final = 1
_DONE: Final = 2
#: How long an interrupted load gets to come back before its thread is abandoned (at most).
_GRACE_S: Final = 0.5
#: How long the loop blocks at a time while it waits for loads: the first slice, and the
#: longest, which slices double up to while the loop has nothing else to do.
_SLICE_S: Final = 0.005
_MAX_SLICE_S: Final = 0.05
#: A round of the loop this short means it had nothing else to do.
_IDLE_ROUND_S: Final = 0.0002
#: How long the loader thread has had no load or compile to run before it writes what loads
#: compiled to the bytecode cache.
_WRITE_WHEN_IDLE_S: Final = 0.5


@final
class Job:
    """One load submitted to an `Importer`; await it with `Importer.result`."""

    __slots__ = (
        "claimed",
        "done",
        "error",
        "expiry",
        "interrupted",
        "seen",
        "source",
        "started",
        "state",
        "thread_id",
        "untaken",
        "value",
        "written",
    )

    def __init__(self, source: PluginSource) -> None:
        self.source = source
        self.state = _QUEUED
        #: When the loader thread began it (``time.monotonic()``).
        self.started = 0.0
        self.thread_id = 0
        self.value: Loaded | None = None
        self.error: PhaseError | None = None
        #: Set (by whichever thread settles the job) once it is done.
        self.done = threading.Event()
        #: The result was handed out, or given up (then whoever finishes last releases it).
        self.claimed = False
        #: The loop raised an interruption into the loader thread while this load ran.
        self.interrupted = False
        #: The content hash of every file the load read (complete once it is done).
        self.seen: dict[Path, str] = {}
        #: For a load staged ahead (`Importer.stage_ahead`): the file whose write queued it.
        self.written: Path | None = None
        #: Staged ahead and not taken yet; `expiry` discards it if it stays so.
        self.untaken = False
        self.expiry: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        state = ("queued", "running", "done")[self.state]
        return f"<hotbus import Job {self.source.name!r} {state}>"


async def _pause(job: Job, timeout: float) -> float:
    """Block the loop thread until ``job`` is done, for at most ``timeout``; if it is not done
    yet, let the loop serve one round. Returns how long that round took (0 when done: the
    caller goes on with the result at once, and the loop serves at its next wait).

    Blocking hands the interpreter lock to the loader thread. Awaiting a future instead would
    starve it while the loop is busy: the loop releases the lock at each poll for I/O and
    takes it back at once, and a waiting thread never gets to ask for it (measured: a 1 ms load
    took 300 ms while four tasks kept the loop busy).
    """
    if job.done.wait(timeout):
        return 0.0
    begin = time.perf_counter()
    await asyncio.sleep(0)
    return time.perf_counter() - begin


@final
class Importer:
    """Runs `load` for plugin sources on a loader thread, one at a time, in submission order."""

    __slots__ = (
        "_ahead",
        "_jobs",
        "_lock",
        "_ready",
        "_stoppers",
        "_thread",
        "_work_ready",
        "_worked",
        "_writing",
        "abandoned",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)
        self._jobs: deque[Job] = deque()
        #: Files to compile ahead of their loads, in order (a dict as an ordered set).
        self._ahead: dict[Path, None] = {}
        #: Loads staged ahead and not taken yet, by source key (touched on the loop only).
        self._ready: dict[str, Job] = {}
        #: Loads staged ahead that outlived their time limit untaken, and the task stopping each.
        self._stoppers: dict[Job, asyncio.Task[None]] = {}
        self._thread: threading.Thread | None = None
        #: Held while code is written to the bytecode cache: once `close` has taken it, no
        #: loader thread of this importer writes any more.
        self._writing = threading.Lock()
        #: When the loader thread last took a load or a compile (``time.monotonic()``).
        self._worked = 0.0
        #: Names of loader threads left behind in a call that could not be interrupted.
        self.abandoned: list[str] = []

    def __repr__(self) -> str:
        return f"<hotbus Importer queued={len(self._jobs)} abandoned={len(self.abandoned)}>"

    # -- the loop's side ------------------------------------------------------------------------

    def submit(self, sources: Iterable[PluginSource]) -> list[Job]:
        """Queue a load of each of ``sources``; returns their jobs, in order."""
        jobs = [Job(source) for source in sources]
        self._queue(jobs)
        return jobs

    def _queue(self, jobs: Sequence[Job]) -> None:
        with self._lock:
            self._jobs.extend(jobs)
            if self._thread is None:
                self._start_thread()
            self._work_ready.notify()

    def stage_ahead(self, source: PluginSource, written: Path, limit: float) -> bool:
        """Load ``source`` now, ahead of the reload that a completed write to ``written`` (its
        file, or a helper it imports) sets off once it settles (see `stage`). Returns whether
        a load was queued: not when one staged ahead for ``source`` waits to be taken already.
        On the loop's thread.
        """
        if source.key in self._ready:
            return False
        job = Job(source)
        job.written, job.untaken = written, True
        job.expiry = asyncio.get_running_loop().call_later(limit, self._expire, job, limit)
        self._ready[source.key] = job
        self._queue([job])
        return True

    def _expire(self, job: Job, limit: float) -> None:
        """``job`` was staged ahead ``limit`` seconds ago and no reload took it: discard it,
        stopping it first if it still runs (module code that never returns)."""
        if not job.untaken:
            return
        job.untaken, job.expiry = False, None
        if self._ready.get(job.source.key) is job:
            del self._ready[job.source.key]
        with self._lock:
            running = job.state == _RUNNING
        if not running:
            self.discard([job])
            return
        task = asyncio.get_running_loop().create_task(
            self._stop_untaken(job, limit), name="hotbus-loader-stop"
        )
        self._stoppers[job] = task
        task.add_done_callback(lambda _: self._stoppers.pop(job, None))

    async def _stop_untaken(self, job: Job, limit: float) -> None:
        try:
            await self._stop(job, limit)
        finally:
            self.discard([job])

    def _take(self, sources: Iterable[PluginSource]) -> list[Job]:
        """A job for each of ``sources``: the load staged ahead for it, else a new one."""
        jobs: list[Job] = []
        fresh: list[Job] = []
        for source in sources:
            job = self._ready.pop(source.key, None)
            if job is None or job.claimed:
                job = Job(source)
                fresh.append(job)
            else:
                job.untaken = False
                if job.expiry is not None:
                    job.expiry.cancel()
                    job.expiry = None
            jobs.append(job)
        self._queue(fresh)
        return jobs

    async def stage(self, sources: Sequence[PluginSource], limit: float) -> list[Job]:
        """Load each of ``sources`` (as `submit` and `wait`); returns their jobs, done, in
        order. A load staged ahead for a source (`stage_ahead`) is taken instead of a new one
        if every file it read still holds what it read; else the source loads anew. Jobs are
        discarded if this is interrupted; else their results are the caller's to take
        (`result`) or `discard`.
        """
        jobs = self._take(sources)
        try:
            await self.wait(jobs, limit)
            stale = [i for i, job in enumerate(jobs) if job.written and not _unchanged(job)]
            if stale:
                self.discard([jobs[i] for i in stale])
                again = self.submit(jobs[i].source for i in stale)
                for i, job in zip(stale, again, strict=True):
                    jobs[i] = job
                await self.wait(again, limit)
        except BaseException:
            self.discard(jobs)
            raise
        return jobs

    def precompile(self, path: Path) -> None:
        """Compile ``path`` ahead of its load, on the loader thread once no load waits.

        Nothing is executed: the load that reads the same bytes skips compiling them (see
        `loader.precompile`).
        """
        with self._lock:
            self._ahead[path] = None
            if self._thread is None:
                self._start_thread()
            self._work_ready.notify()

    async def result(self, job: Job, limit: float) -> Loaded | None:
        """The outcome of ``job``: its plugin class, or None for a helper module.

        Raises:
            PhaseError: the load failed (compile, import, validate); or it ran past ``limit``
                seconds and was stopped: a failure at phase import naming where it was.
        """
        await self.wait([job], limit)
        with self._lock:
            job.claimed = True  # handed out: discarding it later leaves it alone
            value, error, job.value, job.error = job.value, job.error, None, None
        if error is not None:
            raise error
        return value

    async def wait(self, jobs: Sequence[Job], limit: float) -> None:
        """Wait until every one of ``jobs`` is done, stopping each that runs past ``limit``.

        The loop blocks in slices (handing the interpreter lock to the loader thread) and
        serves one round between them: other plugins keep answering while the loads run, a few
        milliseconds later at most while the loop is busy (slices grow to `_MAX_SLICE_S` only
        while it has nothing else to do).
        """
        if not jobs:
            return
        last = jobs[-1]
        slice_s = _SLICE_S
        pending = 0  # the jobs before it are done, and a job once done stays done
        try:
            while True:
                with self._lock:
                    while pending < len(jobs) and jobs[pending].state == _DONE:
                        pending += 1
                    if pending == len(jobs):
                        return
                    first = jobs[pending]
                    started = first.started if first.state == _RUNNING else 0.0
                    if self._thread is None or not self._thread.is_alive():
                        self._start_thread()  # never left without a loader for queued loads
                remaining = limit - (time.monotonic() - started) if started else limit
                if remaining > 0:
                    round_s = await _pause(last, min(remaining, slice_s))
                    # Longer slices while nothing else runs: each slice costs a switch of the
                    # interpreter lock; back to short ones as soon as the loop has work.
                    idle = round_s < _IDLE_ROUND_S
                    slice_s = min(slice_s * 2, _MAX_SLICE_S) if idle else _SLICE_S
                else:
                    await self._stop(first, limit)
        except BaseException:
            self.discard(jobs)
            raise

    def discard(self, jobs: Iterable[Job]) -> None:
        """Give up ``jobs`` whose results will not be taken: those not begun never run, those
        done are released, those running are released by the loader thread when they end."""
        for job in jobs:
            with self._lock:
                if job.claimed:
                    continue
                job.claimed = True
                if job.state == _QUEUED:
                    with contextlib.suppress(ValueError):
                        self._jobs.remove(job)
                    continue
                value = job.value if job.state == _DONE else None
            if value is not None:
                value.release()

    def close(self) -> None:
        """Stop the loader thread once it is idle (loads still queued are dropped).

        What loads compiled and is not in the bytecode cache yet is written here, on the
        caller's thread: nothing is written into the plugin directories once this returns (a
        host may delete them then).
        """
        with self._lock:
            dropped = list(self._jobs)
            for job in dropped:
                job.state = _DONE
                job.error = PhaseError(
                    Phase.IMPORT,
                    PluginInterrupted.bound(job.source.name, "the runtime stopped first")(),
                    plugin=job.source.name,
                )
            self._jobs.clear()
            self._ahead.clear()
            untaken = list(self._ready.values())
            self._ready.clear()
            self._thread = None
            self._work_ready.notify_all()
        # A write under way on the loader thread ends first (one file; a file system that hangs
        # it is not waited for past the grace, and that thread writes nothing after it).
        if self._writing.acquire(timeout=_GRACE_S):
            try:
                write_bytecode()
            finally:
                self._writing.release()
        for job in dropped:
            job.done.set()
        for job in untaken:
            job.untaken = False
            if job.expiry is not None:
                job.expiry.cancel()
                job.expiry = None
        # Loads staged ahead that still run would keep their thread busy after the runtime
        # stopped (module code that never returns): stopped now, where that is safe.
        running = [*untaken, *self._stoppers]
        for task in self._stoppers.values():
            task.cancel()
        self._stoppers.clear()
        self.discard(untaken)
        for job in running:
            stopper = PluginInterrupted.bound(job.source.name, "the runtime stopped first")
            safe = may_interrupt(job.thread_id) if job.thread_id else False
            with self._lock:
                if safe and job.state == _RUNNING and not job.interrupted:
                    interrupt(job.thread_id, stopper)
                    job.interrupted = True

    async def _stop(self, job: Job, limit: float) -> None:
        """``job`` ran past ``limit``: interrupt it; if it does not come back, abandon it (it is
        done then, failed at phase import, naming the file and line it was running)."""
        found = culprit(stack_of(job.thread_id))
        path, line = (found.file, found.line) if found is not None else (job.source.main_file, None)
        detail = (
            f"module code did not finish within {limit:g} s and was stopped: look for an "
            "endless loop or a blocking call at module level, move slow work into setup() or a "
            "task, or raise import_timeout_s"
        )
        stopper = PluginInterrupted.bound(job.source.name, detail, path=path, line=line)
        safe = may_interrupt(job.thread_id)
        with self._lock:
            if job.state != _RUNNING:
                return  # it ended meanwhile
            if safe:  # else it is blocked in a call: abandoned below, purged when it returns
                interrupt(job.thread_id, stopper)
                job.interrupted = True
        deadline = time.monotonic() + min(_GRACE_S, limit)
        while not job.done.is_set() and time.monotonic() < deadline:
            await _pause(job, min(deadline - time.monotonic(), _SLICE_S))
        gone = PluginInterrupted.bound(
            job.source.name,
            f"{detail}; it is blocked in a call that cannot be interrupted, so its loader "
            "thread is abandoned (its modules are purged when the call returns)",
            path=path,
            line=line,
        )
        with self._lock:
            if job.state == _DONE:
                return  # interrupted: its error names the place
            job.state = _DONE
            job.error = PhaseError(Phase.IMPORT, gone(), plugin=job.source.name)
            job.done.set()
            thread = self._thread
            if thread is not None and thread.ident == job.thread_id:
                self.abandoned.append(thread.name)
                self._thread = None
                if self._jobs:
                    self._start_thread()

    # -- the loader thread --------------------------------------------------------------------

    def _start_thread(self) -> None:
        """Start a loader thread (the lock is held)."""
        thread = threading.Thread(target=self._work, name="hotbus-loader", daemon=True)
        self._thread = thread
        thread.start()

    def _next(self, me: threading.Thread) -> Job | Path | bool | None:
        """The next load, else the next file to compile ahead, else True when code loads
        compiled waits to be written to the bytecode cache and no load or compile has come for
        `_WRITE_WHEN_IDLE_S` (a start-up or a reload is over, and its writes do not compete
        with it for the interpreter lock); None when this thread is to end."""
        with self._lock:
            while not self._jobs and not self._ahead and self._thread is me:
                if not unwritten():
                    self._work_ready.wait()
                    continue
                idle = time.monotonic() - self._worked
                if idle >= _WRITE_WHEN_IDLE_S:
                    return True
                self._work_ready.wait(_WRITE_WHEN_IDLE_S - idle)
            if self._thread is not me:
                return None
            self._worked = time.monotonic()
            if not self._jobs:
                path = next(iter(self._ahead))
                del self._ahead[path]
                return path
            job = self._jobs.popleft()
            job.state = _RUNNING
            job.thread_id = threading.get_ident()
            job.started = time.monotonic()
            return job

    def _work(self) -> None:
        me = threading.current_thread()
        while self._step(me):
            pass

    def _step(self, me: threading.Thread) -> bool:
        """Run the next load; False when this thread is to end. Keeps nothing of the load
        once it returns (an idle loader thread must not keep a retired version alive)."""
        try:
            job = self._next(me)
        except PluginInterrupted:  # pragma: no cover - an interruption cannot come here
            return True
        if job is None:
            return False
        if isinstance(job, bool):  # no load waits: write a file loads compiled to the cache
            with self._writing:
                if self._thread is me:  # not closed meanwhile (closing writes the rest)
                    write_bytecode(most=1)
            return True
        if isinstance(job, Path):  # no load waits: compile a file ahead
            precompile(job)
            return True
        value: Loaded | None = None
        error: PhaseError | None = None
        try:
            try:
                if job.written is not None:  # its shape too, which a hot patch compares
                    precompile(job.written)
                value = load(job.source, job.seen)
            except PhaseError as failed:
                error = failed
            except BaseException as raised:  # interrupted in the loader's own code
                error = PhaseError(Phase.IMPORT, raised, plugin=job.source.name)
        except PluginInterrupted as late:  # an interruption landing right after the load
            error = error or PhaseError(Phase.IMPORT, late, plugin=job.source.name)
        while True:
            try:
                if self._finish(job, value, error):
                    drain(PluginInterrupted)  # an interruption that came too late fires here
                return True
            except PluginInterrupted:  # came late, in our own code: finishing is idempotent
                continue

    def _finish(self, job: Job, value: Loaded | None, error: PhaseError | None) -> bool:
        """Hand the outcome over; whether the load was interrupted (then an interruption may
        still be pending for this thread: none can come once this returns)."""
        late = None
        with self._lock:
            interrupted = job.interrupted
            if job.state == _DONE:  # the loop gave up on it (abandoned this thread)
                late = value
            else:
                job.value, job.error, job.state = value, error, _DONE
                late = value if job.claimed else None  # discarded while it ran
        job.done.set()
        if late is not None:
            late.release()
        return interrupted


def _unchanged(job: Job) -> bool:
    """Whether every file ``job``'s load read still holds the bytes it read."""
    return bool(job.seen) and all(hash_file(path) == digest for path, digest in job.seen.items())
