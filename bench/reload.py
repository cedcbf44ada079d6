"""Benchmark: hot reload as users feel it, the transaction's cost, memory over reloads.

One `Runtime`, with its default settings (watching on, the default write window), runs one
realistic 50-line plugin (a config model, a hand-off state, two handlers, helpers) in a
temporary directory. Every save writes a new ``VALUE`` into the source, so every reload is a
new version. In one run:

1. **latency**: a saver process of its own (as an editor is) saves the plugin, alternating
   in-place writes and atomic replaces (a temp file ``os.replace``-d onto the plugin), and
   stamps ``time.monotonic_ns()`` (``CLOCK_MONOTONIC``: one clock for every process on Linux)
   just before the save's last system call, the ``close`` of an in-place write or the
   ``rename`` of an atomic save. Throughout, the plugin is asked for its ``VALUE`` every
   millisecond, as a user would. Per save, ``answer_latency_ms`` (in place) and
   ``atomic_answer_latency_ms`` run from the save to the arrival of the first reply carrying
   the new value (what users feel; within the 1 ms of asking), and ``latency_ms`` /
   ``atomic_latency_ms`` to the arrival of ``hotbus.reload.committed`` on the bus (a sync
   handler stamps it; it waits for nothing). Saves follow each other ~60 ms apart (or once the
   new code has answered, if later): the leak check of a reload is not waited for. Other sync
   handlers stamp the pipeline's events on the way, which splits the time to the commit into:
   kernel to loop, debounce (window, timer, hash), reloader, planner, and the transaction (of
   which stage, quiesce and swap come from the commit's ``durations``). ``handed_over`` is the
   part of kernel to loop from watchdog's hand-over (the raw event's timestamp) to the loop:
   the write window counts from the hand-over, so it overlaps that part. One save of each kind
   warms up first and is not counted.
1b. **hot patches**: the same saver saves body-only edits (only the string ``answer()``
   returns changes), alternating in place and atomic, paced the same way. Per save,
   ``patch_latency_ms`` (in place) and ``atomic_patch_latency_ms`` run from the save to the
   arrival of ``hotbus.reload.patched``, and ``patch_answer_latency_ms`` to the first reply
   carrying the new string. ``patch_cost_ratio_vs_compile_exec`` is the median over the saves
   of the patch's own ``duration_ms`` (comparing the two versions and replacing the code)
   over ``compile`` + ``exec`` of the same source bytes, timed in the same round
   (``patch_cost_ratio_rounds`` has its spread).
2. **transaction cost**: watching off, ``--saves`` rounds of a manual reload of new content
   (written in place beforehand, outside the timing) and ``compile`` + ``exec`` of the same
   source bytes into a fresh module, in an order rotated from round to round
   (``bench/rounds.py``; ``gc.collect()`` before each). The reload is timed from the call of
   ``runtime.reload()`` until ``runtime.idle()`` returns: everything it sets off, the leak
   check included. ``transaction_ratio_vs_compile_exec`` is the median of the per-round ratios
   (``transaction_ratio_rounds`` has its spread); the transaction's own ``durations.total`` and
   ``await runtime.reload()`` alone are reported for information. A second runtime with the
   setting ``hot_patch`` off reloads the same content in the same rounds (its own directory):
   ``transaction_ratio_without_hot_patch`` is that reload over the same baseline, which tells
   what deciding whether a save can be patched in place (parsing the new source and comparing
   its shape) costs a full reload (reported, not tracked).
3. **memory**: resident set size (``/proc/self/statm``, after ``gc.collect()``) before and after
   ``--rss-reloads`` manual reloads of changing content. Every ``hotbus.plugin.leaked`` of the
   whole run is counted (after the leak checks under way have finished).
4. **serving during reloads** (watching on, the leak check on, as by default): ``--saves`` saves
   of each kind again, while a heartbeat callback runs every millisecond on the loop.

   - ``loop_stall_ms``: per save, the longest the loop went without running the heartbeat
     (the longest gap between two beats, less the 1 ms interval), from the save until the
     runtime is idle again (the leak check done); p50/p95/max over the saves.
     ``loop_busy_ms`` is the most CPU time the loop's thread used between two beats, to
     compare with it: a gap in which the thread computed about as long is the process's own
     work; a much smaller figure means the gap was spent waiting for a CPU (other load).
   - ``save_to_answer_ms``: from the return of the save, a ``!value`` chat message is published
     every millisecond until a reply shows the new code; the time until that reply.
   - ``reply_after_commit_ms``: a message arriving 0-4 ms after ``hotbus.reload.committed``
     (due then, on a loop timer, as a line from a transport would be), until its reply from the
     new version. Timed from when it was due, so a loop that is busy then counts.
5. **unloading many plugins at once**: another runtime (watching on) with ``--unload-plugins``
   copies of the plugin; all their files are deleted at once (from a thread, as ``rm`` in a
   shell would), and the heartbeat measures the longest stall from the delete until every
   plugin is unloaded and the runtime is idle (``unload_max_stall_s``; ``unload_s`` is the
   whole time).

::

    python bench/reload.py            # a table
    python bench/reload.py --json     # one JSON object
    python bench/reload.py --quick    # 10 saves of each kind, 50 reloads, 60 plugins (smoke test)
    python bench/reload.py --check    # exit status 1 if a figure misses its target (``misses``)
    python bench/reload.py --peers    # side by side with other reloaders (see below)

Targets (default settings), for both kinds of save: save to new code answering p50 at most the
write window + 6 ms and p95 at most the window + 15 ms; save to commit p50 at most the window
+ 5 ms and p95 at most 50 ms; a body-only save to ``hotbus.reload.patched`` p50 at most the
window + 3 ms and p95 at most the window + 10 ms, the patch itself at most 1.5x compile + exec.
``transaction_ratio_vs_compile_exec`` at most 2, RSS growth over
1,000 reloads at most 2 MB (MiB: 2**20 bytes), no leaked versions, ``reply_after_commit_ms`` p95
at most 10 ms, ``loop_stall_ms`` p95 at most 5 ms, and unloading 600 plugins at once stalls the
loop at most 0.5 s. ``save_to_answer_ms`` (phase 4, the leak check waited for between saves)
has no target.

Peers. ``--peers`` measures only save to new code answering, the same way (the saver process,
its stamp, in-place and atomic saves, asking every millisecond), for hotbus and for each
installed peer, each with its own defaults, as a user would run it:

* **jurigged** patches functions in place when their file changes: a host process runs
  ``jurigged.watch()`` on a plugin-like module (the bench plugin's shape, without hotbus) and
  answers with a function of it;
* **watchfiles**: its command (``watchfiles --filter python``) restarts a host process when the
  module's directory changes; the new process answering with the new code is the end. The host
  imports nothing but the module (a real application's import time comes on top).

Every save changes only the body of the function that answers (for hotbus too: a hot patch).
Hosts answer over a Unix socket (a line asked, a line answered); hotbus is asked over its bus.
Every round, each contender saves once in each kind, in an order rotated from round to round;
between two contenders' saves, hotbus's runtime goes idle (its leak check done) and a peer gets
``PEER_QUIET_S``. A save whose new code has not answered within ``--peer-timeout`` (2 s) is
missed, and the run goes on. Per contender and kind: ``peer_answer_latency_ms`` (p50, p95, max
of the answered saves; None when none was) and ``peer_saves_missed``; per peer and kind,
``peer_ratio`` (hotbus / peer, the median of the per-round ratios of the rounds both answered)
and ``peer_ratio_spread``. A peer that is not installed is skipped and named under
``peers_skipped``. ``--check`` exits 1 when hotbus misses a save or its p50 is over a peer's.
Peers are no dependency of hotbus::

    pip install -e '.[bench]'            # jurigged, watchfiles
    python bench/reload.py --peers       # or --peers --json; --saves N (default 20)

Linux only (``/proc/self/statm``, inotify).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as ``python bench/reload.py``, this file's directory leads sys.path, and a benchmark
    # there named like a package (bench/bus.py) would shadow it: drop that entry first.
    # The repository's root takes its place, for ``bench.rounds``.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
    sys.path.insert(0, str(_HERE.parent))

import argparse
import asyncio
import gc
import importlib.util
import itertools
import json
import math
import os
import shlex
import statistics
import tempfile
import time
import types
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, Protocol, TypeVar
from uuid import UUID

from hotbus import ChatMessage, ChatReply, Runtime
from hotbus.bus import Bus, Handler, Subscription
from hotbus.schemas import (
    Event,
    FileChanged,
    FileSettled,
    PluginLeaked,
    PluginState,
    ReloadCommitted,
    ReloadPatched,
    ReloadPlanned,
    ReloadRejected,
    ReloadRequested,
    ReloadRolledBack,
)
from hotbus.testing import PluginDir, SaveStyle

from bench.rounds import Ratio, exit_status, rotated

#: p50 save-to-commit latency may exceed the write window by this much (ms).
TARGET_P50_OVER_WINDOW_MS: Final = 5.0
#: p95 save-to-commit latency target (ms).
TARGET_P95_MS: Final = 50.0
#: p50 save-to-new-code-answering latency may exceed the write window by this much (ms) ...
TARGET_ANSWER_P50_OVER_WINDOW_MS: Final = 6.0
#: ... and p95 by this much.
TARGET_ANSWER_P95_OVER_WINDOW_MS: Final = 15.0
#: ``transaction_ratio_vs_compile_exec`` the runtime should stay under.
TARGET_RATIO: Final = 2.0
#: RSS growth over 1,000 reloads the runtime should stay under (MiB).
TARGET_RSS_MB: Final = 2.0
#: Leaked versions allowed.
TARGET_LEAKED: Final = 0
#: p50 save-to-patched latency may exceed the write window by this much (ms) ...
TARGET_PATCH_P50_OVER_WINDOW_MS: Final = 3.0
#: ... and p95 by this much.
TARGET_PATCH_P95_OVER_WINDOW_MS: Final = 10.0
#: ``patch_cost_ratio_vs_compile_exec`` (the patch itself) the runtime should stay under.
TARGET_PATCH_RATIO: Final = 1.5
#: p95 of a reply to a message arriving right after a commit (ms).
TARGET_REPLY_AFTER_COMMIT_P95_MS: Final = 10.0
#: p95 of the longest loop stall during one reload (ms).
TARGET_LOOP_STALL_P95_MS: Final = 5.0
#: The longest loop stall while many plugins are unloaded at once (s).
TARGET_UNLOAD_MAX_STALL_S: Final = 0.5
#: The heartbeat's interval (s): the loop should run it this often.
BEAT_S: Final = 0.001
#: How often a waiting user asks again (s), in ``save_to_answer_ms``.
ASK_EVERY_S: Final = 0.001
#: Messages arrive this many ms after a commit, in turn, in ``reply_after_commit_ms``.
REPLY_OFFSETS_MS: Final = (0, 1, 2, 3, 4)
#: How long a reply may take before the benchmark gives up (s).
REPLY_TIMEOUT_S: Final = 10.0
#: Plugins unloaded at once (default; ``--quick`` uses fewer).
UNLOAD_PLUGINS: Final = 600
UNLOAD_PLUGINS_QUICK: Final = 60
#: The chat command the plugin answers with the VALUE of its code.
ASK: Final = "!value"
#: Saves are this far apart (s), so that each is a reload of its own.
SAVE_SPACING_S: Final = 0.060
#: How long one save may take to commit before the benchmark gives up (s).
COMMIT_TIMEOUT_S: Final = 10.0
#: The benchmark's probes run before any other handler of the topics they stamp.
PROBE_PRIORITY: Final = 1_000_000
#: The plugin's name and file.
PLUGIN: Final = "bench_counter"
FILE: Final = f"{PLUGIN}.py"
#: Save kinds, in the order they alternate.
STYLES: Final[tuple[SaveStyle, SaveStyle]] = ("in_place", "atomic")
#: Pipeline steps a save goes through, in order; their times add up to the latency.
STEPS: Final = ("kernel_to_loop", "debounce", "reloader", "planner", "transaction")

_baseline_ids = itertools.count(1)
#: A sample of one timed save.
S = TypeVar("S")


class BenchError(Exception):
    """The runtime did not do what the benchmark needs (no commit, no new version, ...)."""


def now() -> float:
    """``CLOCK_MONOTONIC`` in seconds: the clock the saver stamps with (the same on Linux)."""
    return time.monotonic_ns() / 1e9


# -- the plugin ----------------------------------------------------------------------------------

_SOURCE: Final = '''\
"""Benchmark plugin: a counter that keeps its count across reloads."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hotbus import ChatMessage, ChatReply, Event, Plugin, State, subscribe

VALUE = @VALUE@


class CounterConfig(BaseModel):
    step: int = Field(default=1, ge=1)
    limit: int = Field(default=1_000, ge=1)
    label: str = "counter"


class CounterState(State):
    schema_version = 1

    count: int = 0
    seen: list[str] = Field(default_factory=list)


class BenchCounter(Plugin):
    name = "bench_counter"
    version = "1.0.0"
    config_model = CounterConfig
    state_model = CounterState
    config: CounterConfig

    async def setup(self) -> None:
        self.count = 0
        self.seen: list[str] = []

    async def export_state(self) -> CounterState:
        return CounterState(count=self.count, seen=self.seen[-10:])

    async def import_state(self, state: State) -> None:
        if isinstance(state, CounterState):
            self.count, self.seen = state.count, list(state.seen)

    @subscribe("bench.tick")
    async def on_tick(self, event: Event) -> None:
        self.count = self._bounded(self.count + self.config.step)
        self._remember(event.topic)

    @subscribe("bench.reset", priority=1)
    def on_reset(self, event: Event) -> None:
        self.count = 0

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        if message.text == "!value":
            reply = ChatReply(plugin=self.name, text=self.answer(), in_reply_to=message.event_id)
            await self.ctx.publish(reply)

    def _bounded(self, value: int) -> int:
        return min(value, self.config.limit)

    def _remember(self, topic: str) -> None:
        self.seen = [*self.seen[-9:], topic]

    def answer(self) -> str:
        return f"{VALUE}@BODY@"

    def describe(self) -> str:
        return f"{self.config.label}: {self.count} (value {VALUE})"
'''


def plugin_source(value: int, name: str = PLUGIN, body: str = "") -> str:
    """The plugin's source with ``VALUE = value``: each value is a different version (a module
    constant: a full reload). ``body`` goes into the string ``answer()`` returns: changing only
    it changes only a function body (a hot patch)."""
    source = _SOURCE.replace("@VALUE@", str(value)).replace("@BODY@", body)
    return source.replace(f'"{PLUGIN}"', f'"{name}"')


# -- stamping events as they arrive -------------------------------------------------------------


class Probe:
    """Sync bus handlers that stamp ``now`` (``CLOCK_MONOTONIC``) as events arrive; they never wait.

    `expect` arms it for one reload: the outcome (committed, rejected, rolled back) resolves the
    returned future with its arrival time; the pipeline events on the way are stamped too.
    `ask` publishes a chat message whose reply resolves a future the same way.
    """

    __slots__ = (
        "_outcome",
        "_replies",
        "_tasks",
        "after_outcome",
        "handed_over",
        "leaked",
        "path",
        "planned",
        "raw",
        "requested",
        "settled",
    )

    def __init__(self, path: Path) -> None:
        self.path = path
        self._outcome: asyncio.Future[tuple[float, Event]] | None = None
        self._replies: dict[UUID, asyncio.Future[tuple[float, str]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Called (on the loop, synchronously) right after the outcome the probe waits for.
        self.after_outcome: Callable[[float], None] | None = None
        #: Every ``hotbus.plugin.leaked`` seen.
        self.leaked: list[PluginLeaked] = []
        #: Arrival of the last raw event about ``path``, and of the pipeline's next events.
        self.raw = self.settled = self.requested = self.planned = math.nan
        #: How long (s) that raw event took from watchdog's hand-over (its timestamp) to here.
        self.handed_over = math.nan

    def attach(self, bus: Bus) -> list[Subscription]:
        """Subscribe every probe to ``bus``, ahead of every other handler."""
        handlers: list[tuple[type[Event], Handler]] = [
            (ReloadCommitted, self.on_outcome),
            (ReloadPatched, self.on_outcome),
            (ReloadRejected, self.on_outcome),
            (ReloadRolledBack, self.on_outcome),
            (PluginLeaked, self.on_leaked),
            (FileChanged, self.on_changed),
            (FileSettled, self.on_settled),
            (ReloadRequested, self.on_requested),
            (ReloadPlanned, self.on_planned),
            (ChatReply, self.on_reply),
        ]
        return [
            bus.subscribe(topic, handler, priority=PROBE_PRIORITY) for topic, handler in handlers
        ]

    def expect(self) -> asyncio.Future[tuple[float, Event]]:
        """Arm for the next outcome; resets the pipeline stamps."""
        self.raw = self.settled = self.requested = self.planned = math.nan
        self.handed_over = math.nan
        future: asyncio.Future[tuple[float, Event]] = asyncio.get_running_loop().create_future()
        self._outcome = future
        return future

    def on_outcome(self, event: Event) -> None:
        stamp = now()
        future, self._outcome = self._outcome, None
        if future is not None and not future.done():
            future.set_result((stamp, event))
            if self.after_outcome is not None:
                self.after_outcome(stamp)

    def ask(self, bus: Bus) -> asyncio.Future[tuple[float, str]]:
        """Publish the chat command (in a task of its own, as a transport would); the future
        resolves with the reply's arrival time and text."""
        message = ChatMessage(user="bench", text=ASK)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[float, str]] = loop.create_future()
        self._replies[message.event_id] = future
        future.add_done_callback(lambda _: self._replies.pop(message.event_id, None))
        task = loop.create_task(bus.publish(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return future

    def on_reply(self, event: ChatReply) -> None:
        stamp = now()
        future = self._replies.get(event.in_reply_to) if event.in_reply_to else None
        if future is not None and not future.done():
            future.set_result((stamp, event.text))

    def on_leaked(self, event: PluginLeaked) -> None:
        self.leaked.append(event)

    def on_changed(self, event: FileChanged) -> None:
        if self.path in (event.path, event.dest_path):
            self.raw = now()
            self.handed_over = time.time() - event.timestamp.timestamp()

    def on_settled(self, event: FileSettled) -> None:
        if event.path == self.path and math.isnan(self.settled):
            self.settled = now()

    def on_requested(self, event: ReloadRequested) -> None:
        if math.isnan(self.requested):
            self.requested = now()

    def on_planned(self, event: ReloadPlanned) -> None:
        if math.isnan(self.planned):
            self.planned = now()


class Versions:
    """Checks that every outcome is a commit of the plugin onto a new version."""

    __slots__ = ("current", "reloads")

    def __init__(self, current: str) -> None:
        self.current = current
        self.reloads = 0

    def commit(self, outcome: Event | None) -> ReloadCommitted:
        """``outcome`` as a `ReloadCommitted` from the current version to a new one."""
        if not isinstance(outcome, ReloadCommitted):
            detail = outcome.model_dump_json() if outcome is not None else "no outcome"
            raise BenchError(f"reload {self.reloads + 1} did not commit: {detail}")
        change = next((c for c in outcome.changes if c.plugin == PLUGIN), None)
        if change is None or change.old_version != self.current:
            raise BenchError(f"reload {self.reloads + 1} did not reload {PLUGIN}: {outcome}")
        if change.new_version is None or change.new_version == self.current:
            raise BenchError(
                f"reload {self.reloads + 1} kept version {self.current}: the content did not count"
            )
        self.current = change.new_version
        self.reloads += 1
        return outcome


@dataclass(slots=True)
class Bench:
    """The runtime under test, its plugin directory, and what checks and stamps its reloads."""

    runtime: Runtime
    plugins: PluginDir
    probe: Probe
    versions: Versions
    values: Iterator[int]
    #: The ``VALUE`` of the source written last.
    value: int = 0

    def next_source(self) -> str:
        """The plugin's source with a ``VALUE`` not used before."""
        self.value = next(self.values)
        return plugin_source(self.value)

    def write(self) -> Path:
        """Write new content in place (no save style: for reloads by hand)."""
        return self.plugins.write(FILE, self.next_source())


async def settle(runtime: Runtime) -> None:
    """Wait until no reload runs or waits, no event is queued, and no leak check runs."""
    await runtime.idle()


# -- 1. latency of saves ------------------------------------------------------------------------

#: The saver: a process of its own, as an editor is. It reads one JSON line per save
#: (``{"style": ..., "source": ...}``), saves the plugin file that way, and answers with the
#: ``CLOCK_MONOTONIC`` time (``time.monotonic_ns``, one clock for every process on Linux) taken
#: just before the save's last system call: the ``close`` of an in-place write, the ``rename``
#: of an atomic save. Nothing of the file's new content is visible before that call.
SAVER: Final = r"""
import json, os, sys, time

target = sys.argv[1]
directory = os.path.dirname(target)
temp = os.path.join(directory, "." + os.path.basename(target) + ".bench.tmp")
for line in sys.stdin:
    order = json.loads(line)
    data = order["source"].encode("utf-8")
    if order["style"] == "in_place":
        fd = os.open(target, os.O_WRONLY | os.O_TRUNC)
        os.write(fd, data)
        stamp = time.monotonic_ns()
        os.close(fd)
    else:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)
        stamp = time.monotonic_ns()
        os.replace(temp, target)
    sys.stdout.write(f"{stamp}\n")
    sys.stdout.flush()
"""


class Saver:
    """The saver process: `save` has it save new content and returns when it stamped the save."""

    __slots__ = ("_process",)

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, path: Path) -> Saver:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SAVER,
            str(path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def save(self, source: str, style: SaveStyle) -> float:
        """Have ``source`` saved ``style``-wise; the time (``now``) just before the last call."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"style": style, "source": source}).encode() + b"\n")
        await stdin.drain()
        line = await stdout.readline()
        if not line:
            raise BenchError(f"the saver process ended (status {await self._process.wait()})")
        return int(line) / 1e9

    async def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 5.0)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()


class Pinger:
    """Asks the plugin for its ``VALUE`` every `ASK_EVERY_S`, as a user would, and resolves
    `until` with the arrival (``now``) of the first reply carrying a given value."""

    __slots__ = ("_handle", "_probe", "_runtime", "_wanted")

    def __init__(self, runtime: Runtime, probe: Probe) -> None:
        self._runtime, self._probe = runtime, probe
        self._handle: asyncio.Handle | None = None
        self._wanted: tuple[str, asyncio.Future[float]] | None = None

    def start(self) -> None:
        self._handle = asyncio.get_running_loop().call_soon(self._ask)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def until(self, value: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._wanted = (value, future)
        return future

    def _ask(self) -> None:
        reply = self._probe.ask(self._runtime.bus)
        reply.add_done_callback(self._replied)
        self._handle = asyncio.get_running_loop().call_later(ASK_EVERY_S, self._ask)

    def _replied(self, reply: asyncio.Future[tuple[float, str]]) -> None:
        if reply.cancelled() or self._wanted is None:
            return
        arrived, text = reply.result()
        value, future = self._wanted
        if text == value and not future.done():
            future.set_result(arrived)
            self._wanted = None


@dataclass(frozen=True, slots=True)
class SaveSample:
    """One save: its latency to the commit and to the new code's first answer, and where the
    time to the commit went (ms)."""

    style: SaveStyle
    latency_ms: float
    answer_ms: float
    steps_ms: dict[str, float]
    stage_ms: float
    quiesce_ms: float
    swap_ms: float
    #: Of ``kernel_to_loop``, from watchdog's hand-over to the loop: the write window counts
    #: from the hand-over, so this part overlaps it.
    handed_over_ms: float


async def saved_and_answered(
    bench: Bench,
    saver: Saver,
    pinger: Pinger,
    save: tuple[str, str, SaveStyle],
    late: str,
) -> tuple[float, float, Event, float]:
    """Have the saver save ``save`` (source, the answer it gives, style); wait for the reload's
    outcome and for that answer. When the save was made, when the outcome arrived, the
    outcome, and when the answer arrived (``now``); `BenchError` ``late`` past the limits."""
    source, answer_text, style = save
    outcome = bench.probe.expect()
    answer = pinger.until(answer_text)
    saved = await saver.save(source, style)
    try:
        arrived, event = await asyncio.wait_for(outcome, COMMIT_TIMEOUT_S)
        answered = await asyncio.wait_for(answer, REPLY_TIMEOUT_S)
    except TimeoutError:
        raise BenchError(late) from None
    return saved, arrived, event, answered


async def timed_save(bench: Bench, saver: Saver, pinger: Pinger, style: SaveStyle) -> SaveSample:
    """Have the saver save new content ``style``-wise; wait for the commit and for the first
    answer of the new code."""
    probe = bench.probe
    source = bench.next_source()
    saved, arrived, event, answered = await saved_and_answered(
        bench,
        saver,
        pinger,
        (source, str(bench.value), style),
        f"a {style} save did not commit and answer within {COMMIT_TIMEOUT_S:g} s "
        f"(observer {bench.runtime.observer or 'stopped'})",
    )
    committed = bench.versions.commit(event)
    marks = [saved, probe.raw, probe.settled, probe.requested, probe.planned, arrived]
    if not all(math.isfinite(m) for m in marks):
        raise BenchError(f"a {style} save committed without the whole pipeline: {marks}")
    steps = {
        step: (b - a) * 1000 for step, (a, b) in zip(STEPS, itertools.pairwise(marks), strict=True)
    }
    return SaveSample(
        style=style,
        latency_ms=(arrived - saved) * 1000,
        answer_ms=(answered - saved) * 1000,
        steps_ms=steps,
        stage_ms=committed.durations.stage,
        quiesce_ms=committed.durations.quiesce,
        swap_ms=committed.durations.swap,
        handed_over_ms=probe.handed_over * 1000,
    )


async def paced_saves(
    bench: Bench,
    saves: int,
    save: Callable[[Saver, Pinger, SaveStyle, int], Awaitable[S]],
) -> list[S]:
    """``saves`` saves of each kind, alternating, after one warm-up save of each.

    A saver process saves (``save(saver, pinger, style, serial)`` makes one save and times it);
    the plugin is asked for its value every millisecond throughout. A save follows the
    previous one `SAVE_SPACING_S` after it, or as soon as the new code has answered if that is
    later: the leak check of the previous reload is not waited for.
    """
    samples: list[S] = []
    saver = await Saver.start(bench.plugins / FILE)
    pinger = Pinger(bench.runtime, bench.probe)
    await settle(bench.runtime)
    pinger.start()
    try:
        next_at = now()
        for index in range(2 * (saves + 1)):
            await asyncio.sleep(max(0.0, next_at - now()))  # pacing only
            began = now()
            sample = await save(saver, pinger, STYLES[index % 2], index + 1)
            next_at = began + SAVE_SPACING_S
            if index >= 2:
                samples.append(sample)
    finally:
        pinger.stop()
        await saver.close()
    await settle(bench.runtime)
    return samples


async def latency_phase(bench: Bench, saves: int) -> list[SaveSample]:
    """``saves`` saves of new content of each kind (`paced_saves`)."""
    return await paced_saves(
        bench, saves, lambda saver, pinger, style, _: timed_save(bench, saver, pinger, style)
    )


# -- 1b. hot patches -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatchSample:
    """One body-only save: to ``hotbus.reload.patched``, to the new code's first answer (ms), the
    patch's own duration, and compile + exec of the same source bytes (ms)."""

    style: SaveStyle
    latency_ms: float
    answer_ms: float
    patch_ms: float
    compile_exec_ms: float


async def timed_patch(
    bench: Bench, saver: Saver, pinger: Pinger, style: SaveStyle, serial: int
) -> PatchSample:
    """Have the saver save a body-only edit ``style``-wise; wait for the patch and the answer."""
    body = f"-p{serial}"
    saved, arrived, event, answered = await saved_and_answered(
        bench,
        saver,
        pinger,
        (plugin_source(bench.value, body=body), f"{bench.value}{body}", style),
        f"a {style} body-only save was not patched and answered within {COMMIT_TIMEOUT_S:g} s",
    )
    if not isinstance(event, ReloadPatched) or event.restored:
        raise BenchError(f"a body-only save was not patched: {event.model_dump_json()}")
    if event.functions != ["BenchCounter.answer"]:
        raise BenchError(f"a body-only save patched {event.functions}, not BenchCounter.answer")
    bench.versions.current = event.new_version
    path = bench.plugins / FILE
    return PatchSample(
        style=style,
        latency_ms=(arrived - saved) * 1000,
        answer_ms=(answered - saved) * 1000,
        patch_ms=event.duration_ms,
        compile_exec_ms=compile_exec(path.read_bytes(), path),
    )


async def patch_phase(bench: Bench, saves: int) -> list[PatchSample]:
    """``saves`` body-only saves of each kind (`paced_saves`); each round also times compile +
    exec of the saved source."""
    return await paced_saves(
        bench,
        saves,
        lambda saver, pinger, style, serial: timed_patch(bench, saver, pinger, style, serial),
    )


# -- 2. cost of the transaction -----------------------------------------------------------------


def compile_exec(data: bytes, path: Path) -> float:
    """The baseline: compile ``data`` and execute it in a fresh module; returns ms."""
    name = f"_hotbus_bench_reload_baseline_{next(_baseline_ids)}"
    begin = time.perf_counter()
    code = compile(data, str(path), "exec", dont_inherit=True)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    finally:
        del sys.modules[name]
    return (time.perf_counter() - begin) * 1000


@dataclass(frozen=True, slots=True)
class Costs:
    """Per round (ms): the transaction's own total, ``await runtime.reload()``, that and
    ``await runtime.idle()`` (everything the reload set off: the leak check included), and the
    baseline, compile + exec of the same source; the i-th figure of each is from round i."""

    transaction_ms: list[float]
    await_ms: list[float]
    whole_ms: list[float]
    compile_exec_ms: list[float]
    #: ``whole_ms`` of the runtime with the setting ``hot_patch`` off.
    unpatched_ms: list[float]


async def transaction_phase(bench: Bench, count: int) -> Costs:
    """``count`` rounds: a manual reload of new content, the same on a runtime with the setting
    ``hot_patch`` off, and compile + exec of it, in an order rotated from round to round
    (`bench.rounds.rotated`).

    Watching must be off: the content is written in place before each round, untimed.
    """
    runtime = bench.runtime
    costs = Costs([], [], [], [], [])
    other = PluginDir(bench.plugins.path.with_name(f"{bench.plugins.path.name}-unpatched"))
    other.write(FILE, plugin_source(bench.value))
    unpatched = Runtime(
        [other.path], entry_points=False, log_events=False, watch=False, hot_patch=False
    )
    await unpatched.start()
    try:
        for index in range(count):
            path = bench.write()
            data = path.read_bytes()
            other.write(FILE, data.decode("utf-8"))
            await settle(runtime)
            await settle(unpatched)
            for name in rotated(("reload", "unpatched", "compile_exec"), index):
                gc.collect()
                if name == "compile_exec":
                    costs.compile_exec_ms.append(compile_exec(data, path))
                    continue
                if name == "unpatched":
                    begin = time.perf_counter()
                    outcome = await unpatched.reload(PLUGIN)
                    await unpatched.idle()
                    costs.unpatched_ms.append((time.perf_counter() - begin) * 1000)
                    if not isinstance(outcome, ReloadCommitted):
                        raise BenchError(f"the reload with hot_patch off did not commit: {outcome}")
                    continue
                begin = time.perf_counter()
                outcome = await runtime.reload(PLUGIN)
                returned = time.perf_counter()
                await runtime.idle()
                costs.whole_ms.append((time.perf_counter() - begin) * 1000)
                costs.await_ms.append((returned - begin) * 1000)
                costs.transaction_ms.append(bench.versions.commit(outcome).durations.total)
    finally:
        await unpatched.stop()
    return costs


# -- 3. memory over many reloads ----------------------------------------------------------------


def rss_bytes() -> int:
    """The resident set size of this process."""
    try:
        fields = Path("/proc/self/statm").read_text(encoding="ascii").split()
    except OSError as error:
        raise BenchError(f"cannot read the RSS: {error} (this benchmark needs Linux)") from None
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Memory:
    """RSS before and after the reloads (bytes), and how long the reloads took (s)."""

    reloads: int
    before: int
    after: int
    seconds: float

    @property
    def growth_mb(self) -> float:
        return (self.after - self.before) / 2**20


async def rss_phase(bench: Bench, count: int) -> Memory:
    """RSS before and after ``count`` manual reloads of changing content (watching off)."""
    runtime = bench.runtime
    await settle(runtime)
    gc.collect()
    before = rss_bytes()
    begin = time.perf_counter()
    for _ in range(count):
        bench.write()
        bench.versions.commit(await runtime.reload(PLUGIN))
    seconds = time.perf_counter() - begin
    await settle(runtime)
    gc.collect()
    return Memory(reloads=count, before=before, after=rss_bytes(), seconds=seconds)


# -- 4. serving during reloads ---------------------------------------------------------------------


class Heartbeat:
    """A loop callback every `BEAT_S`: the longest gap between two beats is the loop's stall.

    `reset` starts a window; `stall_ms` is the longest gap in it (the gap still open included),
    less the interval. `busy_ms` is the most CPU time the loop's thread used between two beats
    (a gap the process spent waiting for a CPU shows in the first, not in the second).
    """

    __slots__ = ("_cpu", "_handle", "_last", "_most_cpu", "_worst")

    def __init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None
        self._last = self._worst = self._cpu = self._most_cpu = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self._cpu = time.thread_time()
        self._worst = self._most_cpu = 0.0
        self._handle = asyncio.get_running_loop().call_later(BEAT_S, self._beat)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _beat(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self._worst = max(self._worst, now - self._last)
        self._most_cpu = max(self._most_cpu, cpu - self._cpu)
        self._last, self._cpu = now, cpu
        self._handle = asyncio.get_running_loop().call_later(BEAT_S, self._beat)

    def reset(self) -> None:
        self._worst = self._most_cpu = 0.0

    def stall_ms(self) -> float:
        worst = max(self._worst, time.perf_counter() - self._last)
        return max(0.0, worst - BEAT_S) * 1000

    def busy_ms(self) -> float:
        return max(self._most_cpu, time.thread_time() - self._cpu) * 1000


@dataclass(frozen=True, slots=True)
class Serving:
    """Per save (ms): the longest loop stall (and the loop's own CPU time in it), save to new
    answer, and reply after commit."""

    stall_ms: list[float]
    busy_ms: list[float]
    answer_ms: list[float]
    reply_ms: list[float]


async def reply_of(bench: Bench, future: asyncio.Future[tuple[float, str]]) -> tuple[float, str]:
    try:
        return await asyncio.wait_for(future, REPLY_TIMEOUT_S)
    except TimeoutError:
        raise BenchError(f"{PLUGIN} did not answer {ASK!r} within {REPLY_TIMEOUT_S:g} s") from None


async def serving_phase(bench: Bench, saves: int, heartbeat: Heartbeat) -> Serving:
    """``saves`` saves of each kind, alternating, with a user waiting for the new code.

    Watching must be on. One save of each kind warms up first.
    """
    runtime, probe = bench.runtime, bench.probe
    loop = asyncio.get_running_loop()
    serving = Serving([], [], [], [])
    next_at = now()
    for index in range(2 * (saves + 1)):
        await settle(runtime)
        await asyncio.sleep(max(0.0, next_at - now()))  # pacing only
        offset = REPLY_OFFSETS_MS[index % len(REPLY_OFFSETS_MS)] / 1000
        # (when the message was due, the future of its reply), once it is sent
        sent: asyncio.Future[tuple[float, asyncio.Future[tuple[float, str]]]]
        sent = loop.create_future()

        def send_after(committed: float, offset: float = offset, sent: Any = sent) -> None:
            def send() -> None:
                sent.set_result((committed + offset, probe.ask(runtime.bus)))

            loop.call_at(loop.time() + offset, send)

        outcome = probe.expect()
        probe.after_outcome = send_after
        heartbeat.reset()
        await bench.plugins.save(FILE, bench.next_source(), STYLES[index % 2])
        saved = now()
        next_at = saved + SAVE_SPACING_S
        new = str(bench.value)
        while True:  # the user asks until the new code answers
            arrived, text = await reply_of(bench, probe.ask(runtime.bus))
            if text == new:
                break
            await asyncio.sleep(ASK_EVERY_S)
        answered = arrived
        try:
            _, event = await asyncio.wait_for(outcome, COMMIT_TIMEOUT_S)
        except TimeoutError:
            raise BenchError(f"a save did not commit within {COMMIT_TIMEOUT_S:g} s") from None
        bench.versions.commit(event)
        due, future = await sent
        replied, text = await reply_of(bench, future)
        if text != new:
            raise BenchError(f"a message after the commit was answered by {text}, not {new}")
        await settle(runtime)  # the leak check too
        stall, busy = heartbeat.stall_ms(), heartbeat.busy_ms()
        probe.after_outcome = None
        if index >= 2:
            serving.stall_ms.append(stall)
            serving.busy_ms.append(busy)
            serving.answer_ms.append((answered - saved) * 1000)
            serving.reply_ms.append((replied - due) * 1000)
    await settle(runtime)
    return serving


# -- 5. unloading many plugins at once ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unload:
    """Unloading ``plugins`` plugins at once: the longest loop stall and the whole time (s)."""

    plugins: int
    max_stall_s: float
    seconds: float
    leaked: list[PluginLeaked]


async def unload_phase(directory: Path, count: int) -> Unload:
    """Start a runtime on ``count`` copies of the plugin, delete every file at once, and time
    the longest loop stall until all are unloaded and the runtime is idle."""
    plugins = PluginDir(directory)
    names = [f"bench_many_{index:04d}" for index in range(count)]
    for index, name in enumerate(names):
        plugins.write(f"{name}.py", plugin_source(index, name=name))
    runtime = Runtime([directory], entry_points=False, log_events=False)
    leaked: list[PluginLeaked] = []
    unloaded: set[str] = set()
    done = asyncio.get_running_loop().create_future()

    def on_commit(event: ReloadCommitted) -> None:
        unloaded.update(c.plugin for c in event.changes if c.new_version is None)
        if len(unloaded) >= count and not done.done():
            done.set_result(None)

    runtime.bus.subscribe(ReloadCommitted, on_commit, priority=PROBE_PRIORITY)
    runtime.bus.subscribe(PluginLeaked, leaked.append, priority=PROBE_PRIORITY)
    heartbeat = Heartbeat()
    await runtime.start()
    try:
        active = [r.name for r in runtime.status() if r.state is PluginState.ACTIVE]
        if len(active) != count:
            raise BenchError(f"{count - len(active)} of {count} plugins did not start")
        await settle(runtime)
        heartbeat.start()
        begin = time.perf_counter()

        def delete_all() -> None:  # as `rm` in a shell would: not on the loop
            for name in names:
                plugins.delete(f"{name}.py")

        await asyncio.to_thread(delete_all)
        try:
            await asyncio.wait_for(done, COMMIT_TIMEOUT_S + count * 0.05)
        except TimeoutError:
            raise BenchError(f"only {len(unloaded)} of {count} plugins were unloaded") from None
        await settle(runtime)
        seconds = time.perf_counter() - begin
        stall = heartbeat.stall_ms() / 1000
    finally:
        heartbeat.stop()
        await runtime.stop()
    return Unload(plugins=count, max_stall_s=stall, seconds=seconds, leaked=leaked)


# -- the run --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    """Everything one run measured."""

    window_ms: float
    observer: str
    samples: list[SaveSample]
    costs: Costs
    memory: Memory
    serving: Serving
    unload: Unload
    leaked: list[PluginLeaked]
    patches: list[PatchSample]

    def patch_figures(self) -> dict[str, Any]:
        """The hot patch figures of the JSON object."""
        patches = self.patches
        ratio = Ratio.of([p.patch_ms for p in patches], [p.compile_exec_ms for p in patches])
        return {
            "patch_latency_ms": spread([p.latency_ms for p in patches if p.style == "in_place"]),
            "atomic_patch_latency_ms": spread(
                [p.latency_ms for p in patches if p.style == "atomic"]
            ),
            "patch_answer_latency_ms": spread([p.answer_ms for p in patches]),
            "patch_cost_ratio_vs_compile_exec": ratio.median,
            "patch_cost_ratio_rounds": ratio.as_dict(),
            "patch_ms_p50": statistics.median(p.patch_ms for p in patches),
        }

    def latencies(self, style: SaveStyle) -> list[float]:
        return [s.latency_ms for s in self.samples if s.style == style]

    def answers(self, style: SaveStyle) -> list[float]:
        return [s.answer_ms for s in self.samples if s.style == style]

    def breakdown(self, style: SaveStyle) -> dict[str, float]:
        """Median time of each step (ms) for saves of ``style``."""
        mine = [s for s in self.samples if s.style == style]
        found = {step: statistics.median(s.steps_ms[step] for s in mine) for step in STEPS}
        found["stage"] = statistics.median(s.stage_ms for s in mine)
        found["quiesce"] = statistics.median(s.quiesce_ms for s in mine)
        found["swap"] = statistics.median(s.swap_ms for s in mine)
        found["handed_over"] = statistics.median(s.handed_over_ms for s in mine)
        return found

    def summary(self) -> dict[str, Any]:
        """The JSON object: the figures the targets are about first, then the details."""
        costs = self.costs
        transaction = statistics.median(costs.transaction_ms)
        awaited = statistics.median(costs.await_ms)
        baseline = statistics.median(costs.compile_exec_ms)
        ratio = Ratio.of(costs.whole_ms, costs.compile_exec_ms)
        unpatched = Ratio.of(costs.unpatched_ms, costs.compile_exec_ms)
        result: dict[str, Any] = {
            "window_ms": self.window_ms,
            "latency_ms": spread(self.latencies("in_place")),
            "atomic_latency_ms": spread(self.latencies("atomic")),
            "answer_latency_ms": spread(self.answers("in_place")),
            "atomic_answer_latency_ms": spread(self.answers("atomic")),
            "commit_to_answer_ms": spread([s.answer_ms - s.latency_ms for s in self.samples]),
            "transaction_ratio_vs_compile_exec": ratio.median,
            "transaction_ratio_rounds": ratio.as_dict(),
            "transaction_ratio_without_hot_patch": unpatched.median,
            "transaction_ratio_without_hot_patch_rounds": unpatched.as_dict(),
            **self.patch_figures(),
            "rss_growth_mb_1000_reloads": self.memory.growth_mb,
            "leaked_versions": len(self.leaked) + len(self.unload.leaked),
            "saves_per_kind": len(self.latencies("in_place")),
            "observer": self.observer,
            "breakdown_ms": {style: self.breakdown(style) for style in STYLES},
            "transactions": len(self.costs.transaction_ms),
            "transaction_ms_p50": transaction,
            "reload_await_ms_p50": awaited,
            "reload_idle_ms_p50": statistics.median(costs.whole_ms),
            "reload_idle_without_hot_patch_ms_p50": statistics.median(costs.unpatched_ms),
            "compile_exec_ms_p50": baseline,
            "reload_await_ratio_vs_compile_exec": Ratio.of(
                costs.await_ms, costs.compile_exec_ms
            ).median,
            "rss_reloads": self.memory.reloads,
            "rss_before_mb": self.memory.before / 2**20,
            "rss_after_mb": self.memory.after / 2**20,
            "rss_reloads_s": self.memory.seconds,
            "leaked": [
                f"{e.plugin} {e.version}: {'; '.join(e.referrers)}"
                for e in [*self.leaked, *self.unload.leaked]
            ],
            "reply_after_commit_ms": spread(self.serving.reply_ms),
            "loop_stall_ms": spread(self.serving.stall_ms),
            "loop_busy_ms": spread(self.serving.busy_ms),
            "save_to_answer_ms": spread(self.serving.answer_ms),
            "unload_plugins": self.unload.plugins,
            "unload_max_stall_s": self.unload.max_stall_s,
            "unload_s": self.unload.seconds,
            "targets": {
                "latency_p50_ms": self.window_ms + TARGET_P50_OVER_WINDOW_MS,
                "latency_p95_ms": TARGET_P95_MS,
                "answer_p50_ms": self.window_ms + TARGET_ANSWER_P50_OVER_WINDOW_MS,
                "answer_p95_ms": self.window_ms + TARGET_ANSWER_P95_OVER_WINDOW_MS,
                "transaction_ratio": TARGET_RATIO,
                "patch_p50_ms": self.window_ms + TARGET_PATCH_P50_OVER_WINDOW_MS,
                "patch_p95_ms": self.window_ms + TARGET_PATCH_P95_OVER_WINDOW_MS,
                "patch_ratio": TARGET_PATCH_RATIO,
                "rss_growth_mb_1000_reloads": TARGET_RSS_MB,
                "leaked_versions": TARGET_LEAKED,
                "reply_after_commit_p95_ms": TARGET_REPLY_AFTER_COMMIT_P95_MS,
                "loop_stall_p95_ms": TARGET_LOOP_STALL_P95_MS,
                "unload_max_stall_s": TARGET_UNLOAD_MAX_STALL_S,
            },
            "python": sys.version.split()[0],
        }
        result["misses"] = misses(result)
        return result


def misses(result: dict[str, Any]) -> list[str]:
    """Every figure over its target, as ``name=value > limit``."""
    targets = result["targets"]
    checked = [
        ("latency_ms.p50", result["latency_ms"]["p50"], targets["latency_p50_ms"]),
        ("atomic_latency_ms.p50", result["atomic_latency_ms"]["p50"], targets["latency_p50_ms"]),
        ("latency_ms.p95", result["latency_ms"]["p95"], targets["latency_p95_ms"]),
        ("atomic_latency_ms.p95", result["atomic_latency_ms"]["p95"], targets["latency_p95_ms"]),
        ("answer_latency_ms.p50", result["answer_latency_ms"]["p50"], targets["answer_p50_ms"]),
        (
            "atomic_answer_latency_ms.p50",
            result["atomic_answer_latency_ms"]["p50"],
            targets["answer_p50_ms"],
        ),
        ("answer_latency_ms.p95", result["answer_latency_ms"]["p95"], targets["answer_p95_ms"]),
        (
            "atomic_answer_latency_ms.p95",
            result["atomic_answer_latency_ms"]["p95"],
            targets["answer_p95_ms"],
        ),
        (
            "transaction_ratio_vs_compile_exec",
            result["transaction_ratio_vs_compile_exec"],
            targets["transaction_ratio"],
        ),
        ("patch_latency_ms.p50", result["patch_latency_ms"]["p50"], targets["patch_p50_ms"]),
        ("patch_latency_ms.p95", result["patch_latency_ms"]["p95"], targets["patch_p95_ms"]),
        (
            "atomic_patch_latency_ms.p50",
            result["atomic_patch_latency_ms"]["p50"],
            targets["patch_p50_ms"],
        ),
        (
            "atomic_patch_latency_ms.p95",
            result["atomic_patch_latency_ms"]["p95"],
            targets["patch_p95_ms"],
        ),
        (
            "patch_cost_ratio_vs_compile_exec",
            result["patch_cost_ratio_vs_compile_exec"],
            targets["patch_ratio"],
        ),
        (
            "rss_growth_mb_1000_reloads",
            result["rss_growth_mb_1000_reloads"],
            targets["rss_growth_mb_1000_reloads"],
        ),
        ("leaked_versions", result["leaked_versions"], targets["leaked_versions"]),
        (
            "reply_after_commit_ms.p95",
            result["reply_after_commit_ms"]["p95"],
            targets["reply_after_commit_p95_ms"],
        ),
        ("loop_stall_ms.p95", result["loop_stall_ms"]["p95"], targets["loop_stall_p95_ms"]),
        ("unload_max_stall_s", result["unload_max_stall_s"], targets["unload_max_stall_s"]),
    ]
    return [f"{name}={value:.2f} > {limit:g}" for name, value, limit in checked if value > limit]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``values``, interpolating linearly between ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max of ``values``."""
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "max": max(values)}


async def measure(directory: Path, saves: int, rss_reloads: int, unload_plugins: int) -> Result:
    """Run the measurements: four on one runtime (default settings) on ``directory``, then
    unloading ``unload_plugins`` plugins on another, in a directory beside it."""
    plugins = PluginDir(directory)
    values = itertools.count(1)
    plugins.write(FILE, plugin_source(next(values)))
    runtime = Runtime([directory], entry_points=False, log_events=False)
    probe = Probe(directory / FILE)
    probe.attach(runtime.bus)
    await runtime.start()
    try:
        row = next((r for r in runtime.status() if r.name == PLUGIN), None)
        if row is None or row.state is not PluginState.ACTIVE or row.version is None:
            raise BenchError(f"{PLUGIN} did not start: {row}")
        if not runtime.watching:
            raise BenchError("the runtime is not watching its plugin directory")
        bench = Bench(runtime, plugins, probe, Versions(row.version), values)
        window_ms, observer = runtime.settings.debounce_ms, runtime.observer
        samples = await latency_phase(bench, saves)
        patches = await patch_phase(bench, saves)
        heartbeat = Heartbeat()
        heartbeat.start()
        try:
            serving = await serving_phase(bench, saves, heartbeat)
        finally:
            heartbeat.stop()
        await runtime.watch(False)
        costs = await transaction_phase(bench, saves)
        memory = await rss_phase(bench, rss_reloads)
    finally:
        await runtime.stop()
    await runtime.idle()
    many = directory.with_name(f"{directory.name}-many")
    many.mkdir()
    unload = await unload_phase(many, unload_plugins)
    return Result(
        window_ms=window_ms,
        observer=observer or "stopped",
        samples=samples,
        costs=costs,
        memory=memory,
        serving=serving,
        unload=unload,
        leaked=list(probe.leaked),
        patches=patches,
    )


# -- reporting -----------------------------------------------------------------------------------


def _verdict(value: float, limit: float, unit: str) -> str:
    return f"ok (<= {limit:g}{unit})" if value <= limit else f"OVER (target <= {limit:g}{unit})"


def table(summary: dict[str, Any]) -> str:
    """The human-readable report."""
    window = summary["window_ms"]
    targets = summary["targets"]
    rows: list[tuple[str, str, str]] = []
    for key, kind, what, goal in (
        ("answer_latency_ms", "in-place", "new code answers", "answer"),
        ("atomic_answer_latency_ms", "atomic", "new code answers", "answer"),
        ("latency_ms", "in-place", "commit", "latency"),
        ("atomic_latency_ms", "atomic", "commit", "latency"),
    ):
        figures = summary[key]
        rows += [
            (
                f"{kind} save -> {what} p50",
                f"{figures['p50']:.1f} ms",
                _verdict(figures["p50"], targets[f"{goal}_p50_ms"], " ms"),
            ),
            (
                f"{kind} save -> {what} p95",
                f"{figures['p95']:.1f} ms",
                _verdict(figures["p95"], targets[f"{goal}_p95_ms"], " ms"),
            ),
            (f"{kind} save -> {what} max", f"{figures['max']:.1f} ms", ""),
        ]
    for key, kind in (("patch_latency_ms", "in-place"), ("atomic_patch_latency_ms", "atomic")):
        figures = summary[key]
        rows += [
            (
                f"{kind} body-only save -> patched p50",
                f"{figures['p50']:.1f} ms",
                _verdict(figures["p50"], targets["patch_p50_ms"], " ms"),
            ),
            (
                f"{kind} body-only save -> patched p95",
                f"{figures['p95']:.1f} ms",
                _verdict(figures["p95"], targets["patch_p95_ms"], " ms"),
            ),
        ]
    patch_ratio = summary["patch_cost_ratio_vs_compile_exec"]
    patch_rounds = summary["patch_cost_ratio_rounds"]
    rows.append(
        (
            "the patch itself vs compile+exec (per round)",
            f"{patch_ratio:.2f}x",
            _verdict(patch_ratio, targets["patch_ratio"], "x")
            + f", {patch_rounds['low']:.2f}-{patch_rounds['high']:.2f};"
            f" {summary['patch_ms_p50']:.2f} ms p50",
        )
    )
    gap = summary["commit_to_answer_ms"]
    rows.append(
        (
            "commit -> new code answers p50",
            f"{gap['p50']:.1f} ms",
            f"p95 {gap['p95']:.1f} ms, max {gap['max']:.1f} ms (both kinds)",
        )
    )
    ratio = summary["transaction_ratio_vs_compile_exec"]
    rounds = summary["transaction_ratio_rounds"]
    growth = summary["rss_growth_mb_1000_reloads"]
    leaked = summary["leaked_versions"]
    rows += [
        (
            "await runtime.reload(), runtime.idle() p50",
            f"{summary['reload_idle_ms_p50']:.2f} ms",
            f"{summary['transactions']} manual reloads",
        ),
        ("compile+exec (baseline) p50", f"{summary['compile_exec_ms_p50']:.2f} ms", ""),
        (
            "ratio vs compile+exec (per round)",
            f"{ratio:.2f}x",
            _verdict(ratio, targets["transaction_ratio"], "x")
            + f", {rounds['low']:.2f}-{rounds['high']:.2f}",
        ),
        (
            "the same with hot_patch off p50",
            f"{summary['reload_idle_without_hot_patch_ms_p50']:.2f} ms",
            f"{summary['transaction_ratio_without_hot_patch']:.2f}x compile+exec (info: the "
            "hot-patch check's cost)",
        ),
        (
            "await runtime.reload() p50",
            f"{summary['reload_await_ms_p50']:.2f} ms",
            f"{summary['reload_await_ratio_vs_compile_exec']:.2f}x compile+exec (info)",
        ),
        (
            "transaction (durations.total) p50",
            f"{summary['transaction_ms_p50']:.2f} ms",
            "(info)",
        ),
        (
            f"RSS growth over {summary['rss_reloads']} reloads",
            f"{growth:+.2f} MB",
            _verdict(growth, targets["rss_growth_mb_1000_reloads"], " MB")
            + f", {summary['rss_before_mb']:.1f} -> {summary['rss_after_mb']:.1f} MB"
            f" in {summary['rss_reloads_s']:.1f} s",
        ),
        ("leaked versions", f"{leaked}", _verdict(leaked, targets["leaked_versions"], "")),
    ]
    for key, label, target in (
        ("reply_after_commit_ms", "reply to a message after a commit", "reply_after_commit_p95_ms"),
        ("loop_stall_ms", "longest loop stall per save", "loop_stall_p95_ms"),
        ("loop_busy_ms", "  of which the loop's own CPU time", None),
        ("save_to_answer_ms", "save -> the new code answers", None),
    ):
        figures = summary[key]
        rows += [
            (f"{label} p50", f"{figures['p50']:.1f} ms", ""),
            (
                f"{label} p95",
                f"{figures['p95']:.1f} ms",
                _verdict(figures["p95"], targets[target], " ms") if target else "",
            ),
            (f"{label} max", f"{figures['max']:.1f} ms", ""),
        ]
    stall = summary["unload_max_stall_s"]
    rows.append(
        (
            f"unloading {summary['unload_plugins']} plugins at once: longest stall",
            f"{stall:.3f} s",
            _verdict(stall, targets["unload_max_stall_s"], " s")
            + f", all unloaded in {summary['unload_s']:.2f} s",
        )
    )
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [
        f"hotbus reload benchmark (Python {summary['python']}, {summary['observer']} observer, "
        f"write window {window:g} ms, {summary['saves_per_kind']} saves of each kind)"
    ]
    lines += [f"  {a:<{width}}  {b:>{value_width}}  {c}".rstrip() for a, b, c in rows]
    lines.append("  where a save's milliseconds go (medians):")
    steps = [STEPS[0], "handed_over", *STEPS[1:], "stage", "quiesce", "swap"]
    step_width = max(len(s) for s in steps)
    lines.append(f"    {'':<{step_width}}  {'in-place':>9}  {'atomic':>9}")
    breakdown = summary["breakdown_ms"]
    for step in steps:
        label = f"  {step}" if step in ("stage", "quiesce", "swap", "handed_over") else step
        lines.append(
            f"    {label:<{step_width}}  {breakdown['in_place'][step]:>6.2f} ms"
            f"  {breakdown['atomic'][step]:>6.2f} ms"
        )
    return "\n".join(lines)


# -- peers: the same saves, answered by a code patcher and by a process restarter -----------------

#: The peers ``--peers`` compares with: the name shown and the module that must be importable.
PEERS: Final = {"jurigged": "jurigged", "watchfiles": "watchfiles"}
#: Saves of each kind per contender in ``--peers`` (default; ``--quick`` uses fewer).
PEER_SAVES: Final = 20
PEER_SAVES_QUICK: Final = 3
#: A save whose new code has not answered after this long is missed (s; ``--peer-timeout``).
PEER_TIMEOUT_S: Final = 2.0
#: After a contender's save has answered (or was missed), this quiet time before the next one
#: (s): a restarted process or a patcher's timer has nothing left to do by then.
PEER_QUIET_S: Final = 0.030
#: How long a peer's host may take to answer the first time (s).
PEER_START_S: Final = 20.0
#: The module a peer's host runs, and its file.
PEER_MODULE: Final = "bench_peer"
PEER_FILE: Final = f"{PEER_MODULE}.py"

#: The peers' plugin-like module: the bench plugin's shape (a config, a state, handlers,
#: helpers) without hotbus and pydantic, which the hosts would otherwise have to import.
#: ``answer()`` returns this version's value.
_PEER_SOURCE: Final = '''\
"""Benchmark module: a counter that answers with the value of its code."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CounterConfig:
    step: int = 1
    limit: int = 1_000
    label: str = "counter"


@dataclass
class CounterState:
    count: int = 0
    seen: list[str] = field(default_factory=list)


class Counter:
    def __init__(self, config: CounterConfig) -> None:
        self.config = config
        self.state = CounterState()

    def on_tick(self, topic: str) -> None:
        self.state.count = self._bounded(self.state.count + self.config.step)
        self._remember(topic)

    def on_reset(self) -> None:
        self.state.count = 0

    def _bounded(self, value: int) -> int:
        return min(value, self.config.limit)

    def _remember(self, topic: str) -> None:
        self.state.seen = [*self.state.seen[-9:], topic]

    def describe(self) -> str:
        return f"{self.config.label}: {self.state.count} (value {answer()})"


def answer() -> str:
    return "@VALUE@"
'''

#: A peer's host process: imports the module (after ``jurigged.watch`` on its file, when
#: patched by jurigged), connects to the benchmark's socket, and answers every line it
#: receives with ``answer()`` of the module as it is now.
PEER_HOST: Final = r"""
import importlib, os, socket, sys

address, directory, module_name, patcher = sys.argv[1:5]
sys.path.insert(0, directory)
if patcher == "jurigged":
    import jurigged

    jurigged.watch(pattern=os.path.join(directory, module_name + ".py"))
module = importlib.import_module(module_name)
connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
connection.connect(address)
try:
    for _ in connection.makefile("rb"):
        connection.sendall(module.answer().encode() + b"\n")
except (KeyboardInterrupt, OSError):
    pass
"""


def peer_source(value: int) -> str:
    """The peers' module with ``answer()`` returning ``value``."""
    return _PEER_SOURCE.replace("@VALUE@", str(value))


def installed(module: str) -> str | None:
    """The installed version of ``module``'s distribution, or None if it is not installed."""
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return version(module)
    except PackageNotFoundError:
        return "unknown"


class Asker(Protocol):
    """Asks a contender for its value until it answers with the one wanted (`Pinger`,
    `PeerLink`)."""

    def until(self, value: str) -> asyncio.Future[float]: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


async def answered_after(
    saver: Saver, asker: Asker, source: str, style: SaveStyle, *, wanted: str, timeout_s: float
) -> float | None:
    """Ask throughout while ``saver`` saves ``source`` ``style``-wise; ms from the save to the
    first answer ``wanted``, None if none came within ``timeout_s``."""
    answer = asker.until(wanted)
    asker.start()
    try:
        saved = await saver.save(source, style)
        answered = await asyncio.wait_for(answer, timeout_s)
    except TimeoutError:
        return None
    finally:
        asker.stop()
    return (answered - saved) * 1000


class Contender(Protocol):
    """One reloader under comparison: it saves new code and times its first answer."""

    name: str
    #: How it was set up, for the report (its windows, its defaults).
    settings: str

    async def save(self, style: SaveStyle, timeout_s: float) -> float | None:
        """Save new code ``style``-wise; ms from the save to its first answer, None if none
        came within ``timeout_s``."""
        ...

    async def close(self) -> None: ...


class HotbusContender:
    """A `Runtime` with its default settings on the bench plugin, asked over its bus."""

    name = "hotbus"

    def __init__(self, bench: Bench, saver: Saver, pinger: Pinger) -> None:
        self._bench, self._saver, self._pinger = bench, saver, pinger
        self._edits = 0
        self.settings = (
            f"Runtime defaults: write window {bench.runtime.settings.debounce_ms:g} ms, "
            f"{bench.runtime.observer} observer"
        )

    @classmethod
    async def start(cls, directory: Path) -> HotbusContender:
        directory.mkdir()
        plugins = PluginDir(directory)
        values = itertools.count(1)
        plugins.write(FILE, plugin_source(next(values)))
        runtime = Runtime([directory], entry_points=False, log_events=False)
        probe = Probe(directory / FILE)
        probe.attach(runtime.bus)
        await runtime.start()
        row = next((r for r in runtime.status() if r.name == PLUGIN), None)
        if row is None or row.state is not PluginState.ACTIVE or row.version is None:
            await runtime.stop()
            raise BenchError(f"{PLUGIN} did not start: {row}")
        bench = Bench(runtime, plugins, probe, Versions(row.version), values)
        return cls(bench, await Saver.start(directory / FILE), Pinger(runtime, probe))

    async def save(self, style: SaveStyle, timeout_s: float) -> float | None:
        bench = self._bench
        await settle(bench.runtime)  # the last reload's leak check: not in anyone's timing
        # As for the peers, only the body of the function answering changes: a hot patch.
        self._edits += 1
        body = f"-p{self._edits}"
        source = plugin_source(bench.value, body=body)
        return await answered_after(
            self._saver,
            self._pinger,
            source,
            style,
            wanted=f"{bench.value}{body}",
            timeout_s=timeout_s,
        )

    async def close(self) -> None:
        await self._saver.close()
        await self._bench.runtime.stop()
        await self._bench.runtime.idle()


class PeerLink:
    """The benchmark's end of a peer's host: a Unix socket the host connects to (each host
    process anew, when restarted). While asking, it sends a line every `ASK_EVERY_S` to the
    host connected; `until` resolves with the arrival (``now``) of the first answer carrying a
    value."""

    __slots__ = ("_handle", "_server", "_tasks", "_wanted", "_writer", "address")

    def __init__(self, address: Path) -> None:
        self.address = address
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._wanted: tuple[str, asyncio.Future[float]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self) -> None:
        self._server = await asyncio.start_unix_server(self._connected, path=str(self.address))

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        try:
            while line := await reader.readline():
                stamp = now()
                wanted = self._wanted
                if wanted is not None and line.strip().decode() == wanted[0]:
                    self._wanted = None
                    if not wanted[1].done():
                        wanted[1].set_result(stamp)
        except ConnectionError:
            pass
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()

    def until(self, value: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._wanted = (value, future)
        return future

    def start(self) -> None:
        self._ask()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _ask(self) -> None:
        writer = self._writer
        if writer is not None and not writer.is_closing():
            writer.write(b"?\n")
        self._handle = asyncio.get_running_loop().call_later(ASK_EVERY_S, self._ask)

    async def close(self) -> None:
        self.stop()
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()


class PeerContender:
    """A peer's host process on the peers' module, asked over a `PeerLink`.

    ``jurigged``: the host runs ``jurigged.watch`` on the module's file and is patched in place.
    ``watchfiles``: the ``watchfiles`` command (``--filter python``, its defaults otherwise)
    watches the module's directory and restarts the host on every change.
    """

    def __init__(
        self,
        name: str,
        *,
        process: asyncio.subprocess.Process,
        link: PeerLink,
        saver: Saver,
        settings: str,
        log: Path,
    ) -> None:
        self.name, self.settings = name, settings
        self._process, self._link, self._saver, self._log = process, link, saver, log
        self._values = itertools.count(2)

    @classmethod
    async def start(cls, name: str, root: Path) -> PeerContender:
        directory = root / name
        directory.mkdir()
        (directory / PEER_FILE).write_text(peer_source(1), encoding="utf-8")
        host = root / "peer_host.py"
        if not host.exists():
            host.write_text(PEER_HOST, encoding="utf-8")
        link = PeerLink(root / f"{name}.sock")
        await link.listen()
        command = [sys.executable, str(host), str(link.address), str(directory), PEER_MODULE]
        if name == "jurigged":
            argv = [*command, "jurigged"]
            settings = "jurigged.watch() defaults: 50 ms debounce, watchdog observer"
        else:
            argv = [
                *(sys.executable, "-m", "watchfiles", "--filter", "python"),
                *("--target-type", "command", shlex.join([*command, "none"]), str(directory)),
            ]
            settings = (
                "watchfiles CLI defaults (--filter python): 50 ms step, 1600 ms debounce; "
                "restarts a minimal host (stdlib only)"
            )
        log = root / f"{name}.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output
            )
        saver = await Saver.start(directory / PEER_FILE)
        peer = cls(name, process=process, link=link, saver=saver, settings=settings, log=log)
        answered = link.until("1")
        link.start()
        try:
            await asyncio.wait_for(answered, PEER_START_S)
        except TimeoutError:
            await peer.close()
            raise BenchError(
                f"{name}'s host did not answer within {PEER_START_S:g} s: {peer.tail()}"
            ) from None
        finally:
            link.stop()
        return peer

    def tail(self) -> str:
        """The end of the host's output (for an error message)."""
        try:
            return self._log.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""

    async def save(self, style: SaveStyle, timeout_s: float) -> float | None:
        await asyncio.sleep(PEER_QUIET_S)
        if self._process.returncode is not None:
            raise BenchError(f"{self.name}'s host ended: {self.tail()}")
        value = next(self._values)
        return await answered_after(
            self._saver,
            self._link,
            peer_source(value),
            style,
            wanted=str(value),
            timeout_s=timeout_s,
        )

    async def close(self) -> None:
        await self._saver.close()
        if self._process.returncode is None:
            self._process.terminate()  # watchfiles stops its host on SIGTERM too
            try:
                await asyncio.wait_for(self._process.wait(), 10.0)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        await self._link.close()


#: Answer latency by contender, save kind and round (ms; None: missed).
PeerSamples = dict[str, dict[SaveStyle, list[float | None]]]


async def measure_peers(
    root: Path, saves: int, timeout_s: float, peers: Sequence[str]
) -> tuple[PeerSamples, dict[str, str]]:
    """``saves`` saves of each kind per contender, after one warm-up save of each: in round
    ``r`` every contender saves once in each kind, in an order rotated from round to round."""
    contenders: list[Contender] = []
    try:
        contenders.append(await HotbusContender.start(root / "hotbus"))
        for name in peers:
            contenders.append(await PeerContender.start(name, root))
        by_name = {c.name: c for c in contenders}
        samples: PeerSamples = {c.name: {style: [] for style in STYLES} for c in contenders}
        for index in range(2 * (saves + 1)):
            style = STYLES[index % 2]
            for name in rotated(list(by_name), index // 2):
                answered = await by_name[name].save(style, timeout_s)
                if index >= 2:
                    samples[name][style].append(answered)
        return samples, {c.name: c.settings for c in contenders}
    finally:
        for contender in reversed(contenders):
            await contender.close()


def peers_summary(
    samples: PeerSamples,
    settings: dict[str, str],
    found: dict[str, str | None],
    saves: int,
    timeout_s: float,
) -> dict[str, Any]:
    """The ``--peers`` JSON object: every contender's answer latency and missed saves by kind;
    hotbus / peer by round (answered rounds of both), median and spread."""
    present = [name for name, v in found.items() if v is not None]

    def figures(values: Sequence[float | None]) -> dict[str, float | None]:
        answered = [v for v in values if v is not None]
        if not answered:
            return {"p50": None, "p95": None, "max": None}
        return {**spread(answered)}

    result: dict[str, Any] = {
        "peers": {name: found[name] for name in present},
        "peers_skipped": [
            f"{name} (not installed; pip install -e '.[bench]')"
            for name, v in found.items()
            if v is None
        ],
        "peer_answer_latency_ms": {
            name: {style: figures(by_style[style]) for style in STYLES}
            for name, by_style in samples.items()
        },
        "peer_saves_missed": {
            name: {style: sum(v is None for v in by_style[style]) for style in STYLES}
            for name, by_style in samples.items()
        },
        "peer_ratio": {},
        "peer_ratio_spread": {},
        "peer_settings": settings,
        "saves_per_kind": saves,
        "timeout_s": timeout_s,
        "targets": {"hotbus_saves_missed": 0, "peer_ratio_p50": 1.0},
        "python": sys.version.split()[0],
    }
    ours = samples["hotbus"]
    for name in present:
        result["peer_ratio"][name], result["peer_ratio_spread"][name] = {}, {}
        for style in STYLES:
            pairs = [
                (a, b)
                for a, b in zip(ours[style], samples[name][style], strict=True)
                if a is not None and b is not None
            ]
            ratio = Ratio.of([a for a, _ in pairs], [b for _, b in pairs]) if pairs else None
            result["peer_ratio"][name][style] = round(ratio.median, 3) if ratio else None
            result["peer_ratio_spread"][name][style] = ratio.as_dict() if ratio else None
    result["misses"] = peers_misses(result)
    return result


def peers_misses(result: dict[str, Any]) -> list[str]:
    """hotbus missing a save, or slower than a peer at p50 (answered saves), by kind."""
    found: list[str] = []
    latency, missed = result["peer_answer_latency_ms"], result["peer_saves_missed"]
    for style in STYLES:
        if missed["hotbus"][style]:
            found.append(f"peer_saves_missed[hotbus][{style}]={missed['hotbus'][style]} > 0")
        ours = latency["hotbus"][style]["p50"]
        for name in result["peers"]:
            theirs = latency[name][style]["p50"]
            if ours is not None and theirs is not None and ours > theirs:
                found.append(
                    f"peer_answer_latency_ms[hotbus][{style}].p50={ours:.2f} > {name} {theirs:.2f}"
                )
    return found


def peers_table(result: dict[str, Any]) -> str:
    """The human-readable ``--peers`` report."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = [
        f"hotbus reload side by side (Python {result['python']}): save to new code answering, "
        f"{result['saves_per_kind']} saves of each kind per contender in rotated rounds; a save "
        f"not answered within {result['timeout_s']:g} s is missed",
    ]
    if result["peers"]:
        lines.append("peers: " + ", ".join(f"{n} {v}" for n, v in result["peers"].items()))
    if result["peers_skipped"]:
        lines.append("skipped: " + "; ".join(result["peers_skipped"]))
    latency, missed = result["peer_answer_latency_ms"], result["peer_saves_missed"]
    for style in STYLES:
        lines += ["", f"{style.replace('_', '-')} saves: ms p50 / p95 / max, missed"]
        for name, by_style in latency.items():
            f = by_style[style]
            row = f"  {name:<11} {ms(f['p50']):>7} / {ms(f['p95']):>7} / {ms(f['max']):>7}"
            row += f", missed {missed[name][style]}"
            ratio = result["peer_ratio_spread"].get(name, {}).get(style)
            if ratio:
                row += (
                    f"; hotbus/{name} {ratio['median']:.2f} "
                    f"({ratio['low']:.2f}-{ratio['high']:.2f}, {ratio['rounds']} rounds)"
                )
            lines.append(row)
    lines += ["", "settings:"]
    lines += [f"  {name}: {text}" for name, text in result["peer_settings"].items()]
    missed_targets = result["misses"]
    lines += [
        "",
        "targets: hotbus misses no save and is not slower than a peer at p50",
        "missed: " + "; ".join(missed_targets) if missed_targets else "all targets met",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/reload.py",
        description="Time save-to-commit latency, the reload transaction's cost, and RSS growth.",
    )
    parser.add_argument(
        "--saves", type=int, default=None, help="saves of each kind (default 50; 10 --quick)"
    )
    parser.add_argument(
        "--rss-reloads",
        type=int,
        default=None,
        help="manual reloads for the RSS figure (default 1000; 50 --quick)",
    )
    parser.add_argument(
        "--unload-plugins",
        type=int,
        default=None,
        help=f"plugins unloaded at once (default {UNLOAD_PLUGINS}; {UNLOAD_PLUGINS_QUICK} --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"10 saves each, 50 reloads for RSS, {UNLOAD_PLUGINS_QUICK} plugins unloaded",
    )
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a figure misses its target"
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="only compare save to new code answering with the installed peers (jurigged, "
        f"watchfiles); --saves defaults to {PEER_SAVES} ({PEER_SAVES_QUICK} --quick)",
    )
    parser.add_argument(
        "--peer-timeout",
        type=float,
        default=PEER_TIMEOUT_S,
        help="with --peers: a save not answered this long (s) is missed "
        f"(default {PEER_TIMEOUT_S:g})",
    )
    args = parser.parse_args(argv)
    if args.saves is None and args.peers:
        args.saves = PEER_SAVES_QUICK if args.quick else PEER_SAVES
    if args.saves is None:
        args.saves = 10 if args.quick else 50
    if args.rss_reloads is None:
        args.rss_reloads = 50 if args.quick else 1000
    if args.unload_plugins is None:
        args.unload_plugins = UNLOAD_PLUGINS_QUICK if args.quick else UNLOAD_PLUGINS
    if args.saves < 1 or args.rss_reloads < 1 or args.unload_plugins < 1:
        parser.error("--saves, --rss-reloads and --unload-plugins must be at least 1")
    if not args.peer_timeout > 0:
        parser.error("--peer-timeout must be positive")
    return args


def main_peers(args: argparse.Namespace) -> int:
    """``--peers``: hotbus and every installed peer, side by side."""
    found = {name: installed(module) for name, module in PEERS.items()}
    present = [name for name, v in found.items() if v is not None]
    with tempfile.TemporaryDirectory(prefix="hotbus-bench-") as tmp:
        try:
            samples, settings = asyncio.run(
                measure_peers(Path(tmp).resolve(), args.saves, args.peer_timeout, present)
            )
        except BenchError as error:
            print(f"bench/reload.py: {error}", file=sys.stderr)
            return 1
    result = peers_summary(samples, settings, found, args.saves, args.peer_timeout)
    print(json.dumps(result, indent=2) if args.json else peers_table(result))
    if args.check and result["misses"]:
        print(f"missed targets: {', '.join(result['misses'])}", file=sys.stderr)
    return exit_status(result["misses"], check=args.check)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 if a reload did not commit as it should (or, with
    ``--check``, if a figure missed its target)."""
    args = parse_args(argv)
    if args.peers:
        return main_peers(args)
    with tempfile.TemporaryDirectory(prefix="hotbus-bench-") as tmp:
        directory = Path(tmp).resolve() / "plugins"
        directory.mkdir()
        try:
            result = asyncio.run(
                measure(directory, args.saves, args.rss_reloads, args.unload_plugins)
            )
        except BenchError as error:
            print(f"bench/reload.py: {error}", file=sys.stderr)
            return 1
    summary = result.summary()
    figures = [
        *summary["latency_ms"].values(),
        *summary["atomic_latency_ms"].values(),
        *summary["answer_latency_ms"].values(),
        *summary["atomic_answer_latency_ms"].values(),
        summary["transaction_ratio_vs_compile_exec"],
        summary["rss_growth_mb_1000_reloads"],
        *summary["reply_after_commit_ms"].values(),
        *summary["loop_stall_ms"].values(),
        *summary["save_to_answer_ms"].values(),
        summary["unload_max_stall_s"],
    ]
    if not all(math.isfinite(f) for f in figures):
        print("a figure is not finite: the clock misbehaved", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2) if args.json else table(summary))
    if args.check and summary["misses"]:
        print(f"missed targets: {', '.join(summary['misses'])}", file=sys.stderr)
    return exit_status(summary["misses"], check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
