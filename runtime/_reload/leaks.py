"""Checking, off the critical path, that an unloaded plugin version was really freed.

An unloaded version is freed only by the cyclic garbage collector (its functions, globals and
classes refer to each other), so the check needs a collection, and a collection walks every
object the collector tracks: 25-550 ms on a grown heap, all of it on the event loop. So that the
check never stalls serving:

- `freeze_startup_heap` moves what exists at start-up (the interpreter, the libraries, the
  host) out of the collector's way (`gc.freeze`), before any plugin is loaded: a collection
  then walks only what was made since, plugins included.
- The versions retired together (a reload, a cascade, hundreds of files deleted at once) are
  checked together: one collection for the lot, in a task of its own, once the scheduler has
  nothing more to do (`LeakChecker.deferred`).
- The collection comes after the new versions have served: what the bus has queued is handed
  over, and the deliveries under way then (the events that waited in a plugin's mailbox while
  it was swapped, its first answers) finish first, for `SERVE_LIMIT_S` at most.
- A version still alive is not reported at once: what holds it may be work in flight that the
  old version is finishing, a publish that began before the swap, a callback already queued.
  The check retries, with pauses, and reports only what still holds the version after a short
  grace; a holder that is finishing work (a task or thread running the old version's code or
  delivering events) gets the version's whole patience first.
- A report names the holder: found by walking, in small slices between which the loop runs,
  from the roots that keep objects alive (threads' stacks, tasks, the loop's callbacks, modules)
  to the version, and saying which thread or task by name, or which module global, holds it.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import sys
import threading
import time
import types
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

from hotbus.bus import Bus
from hotbus.runtime._loading.loader import owner_generations
from hotbus.schemas import PluginLeaked

if TYPE_CHECKING:
    from hotbus.runtime._loading.loader import Loaded

__all__ = ["LeakChecker", "describe_referrer", "freeze_startup_heap"]

#: A version still alive is reported no sooner than this after it was retired (s).
GRACE_S: Final = 0.1
#: Pauses between two checks of versions still alive: the first, and the longest (s).
FIRST_PAUSE_S: Final = 0.02
LONGEST_PAUSE_S: Final = 1.0
#: How long a check waits for the bus to hand over what is queued before it collects (s).
QUIET_LIMIT_S: Final = 1.0
#: How long a check waits for the deliveries under way to finish before it collects (s).
SERVE_LIMIT_S: Final = 0.05
#: The name of a task delivering a plugin's mailbox begins with this.
_DELIVERY_TASK: Final = "hotbus-mailbox:"
#: Without a patience of its own, a version may take this long to finish its work (s).
DEFAULT_PATIENCE_S: Final = 5.0
#: The search for a holder yields to the loop after this much work (s) ...
SLICE_S: Final = 0.002
#: ... and gives up after visiting this many objects.
SEARCH_LIMIT: Final = 5_000_000
#: How often (objects visited) the search looks at the clock.
_CLOCK_EVERY: Final = 256
#: A report shows at most this many steps of the way from the holder to the version.
_PATH_STEPS: Final = 8


def freeze_startup_heap() -> bool:
    """Keep what exists now out of later collections: collect once, then `gc.freeze`.

    Done only while no plugin module is loaded in the process: a frozen plugin version could
    never be collected after its unload. Returns whether the heap was frozen.
    """
    if owner_generations():
        return False
    gc.collect()
    gc.freeze()
    return True


def describe_referrer(obj: Any) -> str:
    """A short description of something that holds a reference."""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if isinstance(obj, types.FrameType):
        return f"frame of {_where(obj)}"
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, dict):
        for owner in gc.get_referrers(obj):
            if getattr(owner, "__dict__", None) is obj:
                return f"attributes of {type(owner).__qualname__} object"
            if isinstance(owner, types.ModuleType):
                return f"globals of module {owner.__name__}"
        return f"dict with keys {sorted(map(str, obj))[:5]}"
    if isinstance(obj, list | tuple | set):
        return f"{type(obj).__name__} of {len(obj)} items"
    return f"{type(obj).__module__}.{type(obj).__qualname__} object"


def _where(frame: types.FrameType) -> str:
    code = frame.f_code
    return f"{code.co_qualname} ({code.co_filename}:{frame.f_lineno})"


# Frames of the bus's files (its dispatch and the plugins' mailboxes) and of what plugins are
# given to publish with deliver events: a task running them is finishing a delivery.
_DELIVERY_DIRS: Final = (
    str(Path(Bus.publish.__code__.co_filename).parent) + "/",
    str(Path(__file__).parents[1] / "_plugins") + "/",
)


def _delivering(frame: types.FrameType) -> bool:
    return frame.f_code.co_filename.startswith(_DELIVERY_DIRS)


@dataclass(eq=False, slots=True)
class _Retired:
    """A retired version, known by weak reference to its plugin class."""

    plugin: str
    version: str
    #: The package of its generation: frames of its code have globals named under it.
    package: str
    ref: weakref.ref[type]
    since: float
    patience: float


@dataclass(eq=False, slots=True)
class _Holder:
    """What keeps a version alive: the root it was reached from and the way there."""

    root: str
    path: str
    #: Whether the root is a task or thread finishing work (running the version's code, or
    #: delivering events).
    in_flight: bool

    def describe(self) -> str:
        return f"{self.root}: {self.path}" if self.path else self.root


# A root: what it is, what it reaches first, and for a task or thread its frames (outermost first).
_Root = tuple[str, list[Any], list[types.FrameType] | None]


@final
class LeakChecker:
    """Holds weak references to old plugin versions and reports the ones that stay alive.

    The check runs in a task: a garbage collection for every version retired so far, then,
    for a version still alive past its grace (or its patience, while what holds it is still
    finishing work), a `PluginLeaked` naming the holder. Each version is reported once.
    """

    __slots__ = ("_bus", "_deferred", "_pending", "_task", "_wakeup", "collections")

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._pending: list[_Retired] = []
        self._task: asyncio.Task[None] | None = None
        self._deferred = 0
        self._wakeup: asyncio.Event | None = None
        #: How many collections the checks have run (one per round, for every version in it).
        self.collections = 0

    def __repr__(self) -> str:
        state = "checking" if self._task is not None else "idle"
        return f"<hotbus LeakChecker {state} pending={len(self._pending)}>"

    def watch(self, versions: Iterable[Loaded], *, patience_s: float = DEFAULT_PATIENCE_S) -> None:
        """Check ``versions`` soon; only weak references are kept.

        Args:
            versions: the versions just retired (replaced or unloaded).
            patience_s: how long a version may take to finish work in flight (a handler, a
                delivery, a task of its own) before what holds it is reported.
        """
        now = time.monotonic()
        for loaded in versions:
            if loaded.generation is None:  # installed entry points are never unloaded
                continue
            self._pending.append(
                _Retired(
                    plugin=loaded.plugin_class.name,
                    version=loaded.version,
                    package=loaded.generation.package,
                    ref=weakref.ref(loaded.plugin_class),
                    since=now,
                    patience=patience_s,
                )
            )
        if self._pending and not self._deferred:
            self._start()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Check nothing inside the block: what it retires is checked at its end, at once."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
            if self._pending and not self._deferred:
                self._start()

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="hotbus-leaks")
        elif self._wakeup is not None:
            self._wakeup.set()  # a check pausing between rounds takes the new versions now

    async def join(self) -> None:
        """Wait for the checks under way (and for those they start)."""
        # Only an unfinished task: since 3.12 waiting on a finished one does not yield.
        while (task := self._task) is not None and not task.done():
            await asyncio.wait([task])

    # -- the check --------------------------------------------------------------------------------

    async def _run(self) -> None:
        pause = FIRST_PAUSE_S
        wakeup = self._wakeup = asyncio.Event()
        try:
            while self._pending:
                wakeup.clear()  # set again by versions retired during this round
                await self._quiet()
                gc.collect()
                self.collections += 1
                self._pending = [r for r in self._pending if r.ref() is not None]
                now = time.monotonic()
                due = [r for r in self._pending if now - r.since >= GRACE_S]
                if due:
                    await self._judge(due)
                if not self._pending:
                    break
                if wakeup.is_set():
                    pause = FIRST_PAUSE_S
                    continue
                with suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await wakeup.wait()
                pause = FIRST_PAUSE_S if wakeup.is_set() else min(pause * 2, LONGEST_PAUSE_S)
        finally:
            self._task = self._wakeup = None

    async def _quiet(self) -> None:
        """Let what is queued be handed over first (boundedly): it may refer to an old version.
        Then let the deliveries under way finish (for `SERVE_LIMIT_S` at most): a collection
        holds the loop, and what a plugin's mailbox held while it was swapped is the new
        version's first work, which the collection should not delay.

        Only the deliveries under way when the check is ready are waited for, boundedly: a
        delivery the old version is finishing is found (and given its patience) by `_judge`,
        and a busy or hung plugin elsewhere delays a check by `SERVE_LIMIT_S` at most.
        """
        await asyncio.sleep(0)
        with suppress(TimeoutError):
            async with asyncio.timeout(QUIET_LIMIT_S):
                await self._bus.flush()
        current = asyncio.current_task()
        delivering = [
            task
            for task in asyncio.all_tasks()
            if task is not current and task.get_name().startswith(_DELIVERY_TASK)
        ]
        if delivering:
            await asyncio.wait(delivering, timeout=SERVE_LIMIT_S)

    async def _judge(self, due: list[_Retired]) -> None:
        """Report each of ``due`` unless what holds it is still finishing work.

        The walk for holders runs in slices, with the loop running between them: work that
        held a version may end meanwhile, leaving only the version's own cycle, which the
        collector frees. A version for which the walk found no holder is therefore collected
        for once more before it is reported.
        """
        holders = await self._find_holders(due)
        if any(id(retired) not in holders for retired in due):
            gc.collect()
            self.collections += 1
        now = time.monotonic()
        for retired in due:
            cls = retired.ref()
            if cls is None:
                self._pending.remove(retired)
                continue
            holder = holders.get(id(retired))
            if holder is not None and holder.in_flight and now - retired.since < retired.patience:
                continue  # check again after the work is done
            referrers = [holder.describe()] if holder is not None else _direct_referrers(cls)
            del cls
            self._pending.remove(retired)
            await self._bus.publish(
                PluginLeaked(plugin=retired.plugin, version=retired.version, referrers=referrers)
            )

    # -- what holds a version ---------------------------------------------------------------------

    async def _find_holders(self, due: list[_Retired]) -> dict[int, _Holder]:
        """The holder of each version of ``due`` still alive, by ``id`` of its `_Retired`.

        A breadth-first walk over the references the collector knows (``gc.get_referents``)
        from each kind of root in turn: threads' stacks, tasks, the loop's callbacks, modules
        (the application's before the libraries'). It runs in slices, so the loop goes on.
        """
        targets: dict[int, _Retired] = {}
        alive: list[type] = []  # held during the walk, so that no id is reused meanwhile
        for retired in due:
            cls = retired.ref()
            if cls is not None:
                alive.append(cls)
                targets[id(cls)] = retired
        found: dict[int, _Holder] = {}
        if not targets:
            return found
        current = asyncio.current_task()
        # Everything visited stays referenced here until the walk ends, so ids are not reused.
        # This task (whose frames refer to the versions right now) is never walked.
        seen: dict[int, Any] = {id(x): x for x in (self, current, targets, found, alive)}
        if current is not None:
            seen[id(current.get_coro())] = current.get_coro()
        parent: dict[int, int] = {}
        roots = _root_ids()
        left = SEARCH_LIMIT
        slice_began = time.perf_counter()
        # The frames threads are running: the collector does not see their locals (they are
        # read with f_locals), and each is a seed of its own (f_back is not followed).
        running: set[int] = set()
        for name, seeds, stack in self._roots(current):
            queue: deque[Any] = deque()
            for seed in seeds:
                if id(seed) not in seen:
                    seen[id(seed)] = seed
                    queue.append(seed)
                    if isinstance(seed, types.FrameType):
                        running.add(id(seed))
            while queue and len(found) < len(targets):
                obj = queue.popleft()
                # On 3.11 and 3.12 reading f_locals leaves a snapshot of the locals in the frame
                # until it is read again or returns: the next walk renews it.
                refs = list(obj.f_locals.values()) if id(obj) in running else gc.get_referents(obj)
                for ref in refs:
                    key = id(ref)
                    # A module is not walked: its globals are a root of their own, the rest is
                    # an extension's state, whose walk can run away (3.12's _asyncio module).
                    if (
                        key in seen
                        or key in roots
                        or not gc.is_tracked(ref)
                        or isinstance(ref, types.ModuleType)
                    ):
                        continue
                    seen[key] = ref
                    parent[key] = id(obj)
                    hit = targets.get(key)
                    if hit is None:
                        queue.append(ref)
                        continue
                    in_flight = stack is not None and _finishing(stack, hit.package)
                    path = _describe_path(_path(key, parent, seen))
                    found[id(hit)] = _Holder(name, path, in_flight)
                left -= 1
                if left % _CLOCK_EVERY == 0:
                    if left <= 0:
                        return found
                    if time.perf_counter() - slice_began > SLICE_S:
                        await asyncio.sleep(0)
                        slice_began = time.perf_counter()
            if len(found) == len(targets):
                break
        return found

    def _roots(self, current: asyncio.Task[Any] | None) -> Iterator[_Root]:
        """Threads (but the loop's own), tasks (but ``current``), the loop, then modules."""
        names = {t.ident: t.name for t in threading.enumerate()}
        here = threading.get_ident()
        for ident, top in sys._current_frames().items():
            if ident == here:
                continue
            stack = _stack(top)
            yield f"thread {names.get(ident, str(ident))!r}", stack[::-1], stack
        for task in asyncio.all_tasks():
            coro = task.get_coro()
            if task is current or coro is None:
                continue
            yield f"task {task.get_name()!r}", [coro], _coroutine_stack(coro)
        yield "the event loop (a callback it holds)", [asyncio.get_running_loop()], None
        found = [(name, m) for name, m in list(sys.modules.items()) if m is not None]
        libraries = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
        for name, module in sorted(found, key=lambda item: _is_library(item[1], libraries)):
            yield f"module {name}", [module.__dict__], None


def _root_ids() -> set[int]:
    """The ids of roots of their own, which no walk from another root goes through: modules'
    globals, tasks and their coroutines, and the loop (else a thread holding the loop would be
    blamed for what a task or a callback holds)."""
    roots = {id(m.__dict__) for m in list(sys.modules.values()) if m is not None}
    roots.add(id(asyncio.get_running_loop()))
    for task in asyncio.all_tasks():
        roots.update((id(task), id(task.get_coro())))
    return roots


def _is_library(module: types.ModuleType, prefixes: tuple[str, ...]) -> bool:
    path = getattr(module, "__file__", None)
    return not isinstance(path, str) or path.startswith(prefixes)


def _stack(frame: types.FrameType | None) -> list[types.FrameType]:
    """``frame`` and its callers, outermost first."""
    frames: list[types.FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()
    return frames


def _coroutine_stack(coro: Any) -> list[types.FrameType]:
    """The frames of a suspended coroutine and of what it awaits, outermost first."""
    frames: list[types.FrameType] = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if isinstance(frame, types.FrameType):
            frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return frames


def _finishing(stack: list[types.FrameType], package: str) -> bool:
    """Whether a stack is running ``package``'s code (the old version's) or delivering events."""
    prefix = package + "."
    return any(
        _delivering(frame) or str(frame.f_globals.get("__name__", "")).startswith(prefix)
        for frame in stack
    )


def _path(key: int, parent: dict[int, int], seen: dict[int, Any]) -> list[Any]:
    """The objects from a root to the one of id ``key``."""
    chain = [seen[key]]
    while key in parent:
        key = parent[key]
        chain.append(seen[key])
    chain.reverse()
    return chain


def _describe_path(path: list[Any]) -> str:
    """``KEPT: list -> [0]: P object -> class P`` for the objects from a root to a version
    (a long way with its middle left out)."""
    steps = [step for a, b in itertools.pairwise(path) if (step := _step(a, b))]
    if len(steps) > _PATH_STEPS:
        steps = [*steps[:2], "...", *steps[2 - _PATH_STEPS :]]
    return " -> ".join(steps)


def _step(holder: Any, held: Any) -> str:
    """How ``holder`` refers to ``held`` (a key, an index, a running frame), and what it is."""
    what = _short(held)
    how = ""
    if isinstance(holder, dict):
        how = next((str(k) for k, v in holder.items() if v is held), "")
    elif isinstance(holder, list | tuple | deque):
        how = next((f"[{i}]" for i, v in enumerate(holder) if v is held), "")
    elif isinstance(holder, types.FrameType):  # a thread's (a task's are coroutines)
        local = next((k for k, v in holder.f_locals.items() if v is held), None)
        how = f"in {_where(holder)}" + (f", local {local}" if local else "")
    elif isinstance(holder, types.CoroutineType) and holder.cr_frame is not None:
        how = f"in {_where(holder.cr_frame)}"
    if how and what:
        return f"{how}: {what}"
    return how or what


def _short(obj: Any) -> str:
    """What ``obj`` is, in a word or two (nothing for the dicts and frames of a path)."""
    if isinstance(obj, dict | types.FrameType):
        return ""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if isinstance(obj, type):
        return f"class {obj.__qualname__}"
    if isinstance(obj, types.FunctionType | types.MethodType | types.CoroutineType):
        return f"{type(obj).__name__} {obj.__qualname__}"
    if isinstance(obj, list | tuple | set | deque):
        return type(obj).__name__
    return f"{type(obj).__qualname__} object"


def _direct_referrers(cls: type) -> list[str]:
    """What refers to ``cls`` directly (but the check itself), when no root led to it."""
    return [
        describe_referrer(r)
        for r in gc.get_referrers(cls)
        if not isinstance(r, weakref.ReferenceType) and not _ours(r)
    ][:10]


def _ours(obj: Any) -> bool:
    """Whether ``obj`` is a frame or coroutine of this module's code (the check's own)."""
    code = getattr(obj, "f_code", None) or getattr(obj, "cr_code", None)
    return isinstance(code, types.CodeType) and code.co_filename == _ours.__code__.co_filename
