"""Benchmark: `Bus.publish` against raw blinker and a plain loop over the same handlers.

For 0, 1, 10 and 100 receivers, with sync and with async handlers, it times one event through:

* ours: ``await bus.publish(event)``, handlers subscribed to the exact topic;
* ours, wildcard: the same, handlers subscribed to the pattern ``bench.*``;
* blinker: ``signal.send(event)`` (sync) or ``await signal.send_async(event, _sync_wrapper=...)``
  (async) on a `blinker.Signal` with the same handlers connected ``weak=False``;
* the floor: a plain function calling the handlers in a loop (``for h in handlers: h(event)``),
  or a coroutine awaiting them (``for h in handlers: await h(event)``), called once per event.

Every candidate gets the same handler objects (each increments its own counter) and the same
event, built once outside the timed region; building an event is timed on its own and reported
apart. All timing runs in one event loop with the garbage collector off. Each candidate's batch
is sized to take about ``--batch-ms``; each of the ``--repeats`` rounds runs one batch of every
candidate of a group, in a rotating order, so that load on a shared machine hits all alike; the
minimum time per event over the rounds is reported::

    python bench/bus.py            # a table
    python bench/bus.py --json     # one JSON object
    python bench/bus.py --quick    # tiny batches, two rounds (a smoke test)
    python bench/bus.py --check    # exit status 1 if a tracked figure misses its target

Targets: ours / blinker at most 1.0 (sync and async) at 1, 10 and 100 receivers; ours / floor at
most 2.0 at 10 and 100; wildcard / exact at most 1.2.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as ``python bench/bus.py``, this file's directory leads sys.path and this very file
    # would shadow the ``bus`` package: drop that entry before importing it.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import argparse
import asyncio
import gc
import itertools
import json
import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from time import perf_counter
from typing import Any, Final

import blinker
from hotbus import Bus, Event

#: Receiver counts measured; the JSON ratios are keyed by these (as strings).
RECEIVERS: Final = (0, 1, 10, 100)
#: The topic published, and the pattern the wildcard subscriptions use.
TOPIC: Final = "bench.dispatch"
PATTERN: Final = "bench.*"
#: Each tracked JSON key, the receiver counts it covers, and the most it should be.
TARGETS: Final[dict[str, tuple[tuple[int, ...], float]]] = {
    "dispatch_ratio_vs_blinker": ((1, 10, 100), 1.0),
    "async_ratio_vs_blinker": ((1, 10, 100), 1.0),
    "loop_ratio": ((10, 100), 2.0),
    "async_loop_ratio": ((10, 100), 2.0),
    "wildcard_ratio_vs_exact": ((1, 10, 100), 1.2),
}

SyncHandler = Callable[[object], None]
AsyncHandler = Callable[[object], Coroutine[Any, Any, None]]
#: Runs a candidate ``n`` times back to back; returns the seconds that took.
Timer = Callable[[int], Awaitable[float]]


class MisdeliveryError(Exception):
    """A candidate did not reach every handler exactly once: its timings would mean nothing."""


class Dispatch(Event):
    """The event published in every measurement."""

    topic = TOPIC
    seq: int = 0


# -- handlers and candidates ---------------------------------------------------------------------


def sync_handler(cell: list[int]) -> SyncHandler:
    """A trivial but real sync handler: counts into ``cell``."""

    def handler(event: object) -> None:
        cell[0] += 1

    return handler


def async_handler(cell: list[int]) -> AsyncHandler:
    """A trivial but real async handler: counts into ``cell``."""

    async def handler(event: object) -> None:
        cell[0] += 1

    return handler


def sync_floor(handlers: Sequence[SyncHandler]) -> SyncHandler:
    """The least any dispatcher must do: call each handler in turn."""
    handlers = tuple(handlers)

    def floor(event: object) -> None:
        for handler in handlers:
            handler(event)

    return floor


def async_floor(handlers: Sequence[AsyncHandler]) -> AsyncHandler:
    """The least any async dispatcher must do: await each handler in turn."""
    handlers = tuple(handlers)

    async def floor(event: object) -> None:
        for handler in handlers:
            await handler(event)

    return floor


def _to_coroutine(receiver: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """blinker's ``_sync_wrapper``: only used for sync receivers, so never in this benchmark."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        return receiver(*args, **kwargs)

    return call


def call_timer(call: Callable[[Event], object], event: Event) -> Timer:
    """Times ``call(event)`` (a plain call)."""

    async def run(n: int) -> float:
        batch = itertools.repeat(None, n)
        start = perf_counter()
        for _ in batch:
            call(event)
        return perf_counter() - start

    return run


def await_timer(call: Callable[[Event], Awaitable[object]], event: Event) -> Timer:
    """Times ``await call(event)``."""

    async def run(n: int) -> float:
        batch = itertools.repeat(None, n)
        start = perf_counter()
        for _ in batch:
            await call(event)
        return perf_counter() - start

    return run


def send_async_timer(signal: blinker.Signal, event: Event) -> Timer:
    """Times ``await signal.send_async(event, _sync_wrapper=...)``."""
    send = signal.send_async

    async def run(n: int) -> float:
        batch = itertools.repeat(None, n)
        start = perf_counter()
        for _ in batch:
            await send(event, _sync_wrapper=_to_coroutine)
        return perf_counter() - start

    return run


def construction_timer() -> Timer:
    """Times building an event (``Dispatch(seq=1)``), which the dispatch figures exclude."""

    async def run(n: int) -> float:
        batch = itertools.repeat(None, n)
        start = perf_counter()
        for _ in batch:
            Dispatch(seq=1)
        return perf_counter() - start

    return run


@dataclass(slots=True)
class Candidate:
    """One thing timed: its timer, its calibrated batch size, its best time per event."""

    name: str
    run: Timer
    cells: list[list[int]] = field(default_factory=list)
    batch: int = 0
    best: float = math.inf

    @property
    def hits(self) -> int:
        return sum(cell[0] for cell in self.cells)


def buses(handlers: Sequence[Callable[[object], object]]) -> tuple[Bus, Bus]:
    """Two buses with ``handlers`` subscribed as the runtime (called during ``publish``): to
    the exact topic, and to the pattern."""
    exact, wildcard = Bus(), Bus()
    for handler in handlers:
        exact.subscribe(TOPIC, handler)
        wildcard.subscribe(PATTERN, handler)
    return exact, wildcard


def mailboxes(handlers: Sequence[Callable[[object], object]]) -> Bus:
    """A bus with each of ``handlers`` subscribed by an owner of its own (a mailbox each)."""
    bus = Bus()
    for index, handler in enumerate(handlers):
        bus.subscribe(TOPIC, handler, owner=f"plugin{index}")
    return bus


def delivered_timer(bus: Bus, event: Event) -> Timer:
    """Times ``await bus.publish(event); await bus.join()``: one event, until every mailbox
    has delivered it (what a publisher waiting for the plugins feels)."""
    publish, join = bus.publish, bus.join

    async def run(n: int) -> float:
        batch = itertools.repeat(None, n)
        start = perf_counter()
        for _ in batch:
            await publish(event)
            await join()
        return perf_counter() - start

    return run


def pipelined_timer(bus: Bus, event: Event) -> Timer:
    """Times publishing a batch of events into the mailboxes, then one ``join`` (throughput)."""
    publish, join = bus.publish, bus.join

    async def run(n: int) -> float:
        batch = itertools.repeat(None, n)
        start = perf_counter()
        for _ in batch:
            await publish(event)
        await join()
        return perf_counter() - start

    return run


def signal_of(handlers: Sequence[Callable[[object], object]]) -> blinker.Signal:
    """A raw blinker signal with ``handlers`` connected strongly."""
    signal = blinker.Signal()
    for handler in handlers:
        signal.connect(handler, weak=False)
    return signal


def sync_group(receivers: int, event: Event) -> list[Candidate]:
    """Ours (exact, wildcard), blinker, the floor and mailboxes, on ``receivers`` sync
    handlers."""
    cells = [[0] for _ in range(receivers)]
    handlers = [sync_handler(cell) for cell in cells]
    exact, wildcard = buses(handlers)
    return [
        Candidate("ours", await_timer(exact.publish, event), cells),
        Candidate("wildcard", await_timer(wildcard.publish, event), cells),
        Candidate("blinker", call_timer(signal_of(handlers).send, event), cells),
        Candidate("floor", call_timer(sync_floor(handlers), event), cells),
        Candidate("mailbox", delivered_timer(mailboxes(handlers), event), cells),
        Candidate("mailbox_pipelined", pipelined_timer(mailboxes(handlers), event), cells),
    ]


def async_group(receivers: int, event: Event) -> list[Candidate]:
    """Ours (exact, wildcard), blinker, the floor and mailboxes, on ``receivers`` async
    handlers."""
    cells = [[0] for _ in range(receivers)]
    handlers = [async_handler(cell) for cell in cells]
    exact, wildcard = buses(handlers)
    return [
        Candidate("ours", await_timer(exact.publish, event), cells),
        Candidate("wildcard", await_timer(wildcard.publish, event), cells),
        Candidate("blinker", send_async_timer(signal_of(handlers), event), cells),
        Candidate("floor", await_timer(async_floor(handlers), event), cells),
        Candidate("mailbox", delivered_timer(mailboxes(handlers), event), cells),
        Candidate("mailbox_pipelined", pipelined_timer(mailboxes(handlers), event), cells),
    ]


# -- timing --------------------------------------------------------------------------------------


async def calibrate(run: Timer, target_s: float) -> int:
    """A batch size for which ``run`` takes about ``target_s`` (running it warms it up too)."""
    n = 1
    while True:
        elapsed = await run(n)
        if elapsed >= target_s / 4:
            return max(1, round(n * target_s / elapsed))
        n *= 2


async def check(candidates: Sequence[Candidate], receivers: int) -> None:
    """Make sure every candidate delivers one event to every handler exactly once."""
    for candidate in candidates:
        before = candidate.hits
        await candidate.run(1)
        delivered = candidate.hits - before
        if delivered != receivers:
            raise MisdeliveryError(
                f"{candidate.name} reached {delivered} of {receivers} handlers with one event"
            )


async def time_group(candidates: Sequence[Candidate], repeats: int, target_s: float) -> None:
    """Calibrate, then run ``repeats`` interleaved rounds; keeps each candidate's best."""
    for candidate in candidates:
        candidate.batch = await calibrate(candidate.run, target_s)
    for round_ in range(repeats):
        shift = round_ % len(candidates)
        for candidate in [*candidates[shift:], *candidates[:shift]]:
            elapsed = await candidate.run(candidate.batch)
            candidate.best = min(candidate.best, elapsed / candidate.batch)


@dataclass(slots=True)
class Measurements:
    """Best seconds per event: ``times[kind][receivers][candidate]``, kind "sync" or "async"."""

    times: dict[str, dict[int, dict[str, float]]]
    construction_s: float
    repeats: int
    batch_ms: float


async def measure(repeats: int, target_s: float) -> Measurements:
    """Time every group, in one event loop, with the collector off."""
    event = Dispatch(seq=1)
    times: dict[str, dict[int, dict[str, float]]] = {"sync": {}, "async": {}}
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        construction = Candidate("construction", construction_timer())
        await time_group([construction], repeats, target_s)
        for receivers in RECEIVERS:
            for kind, make in (("sync", sync_group), ("async", async_group)):
                candidates = make(receivers, event)
                await check(candidates, receivers)
                await time_group(candidates, repeats, target_s)
                times[kind][receivers] = {c.name: c.best for c in candidates}
                gc.collect()
    finally:
        if enabled:
            gc.enable()
    return Measurements(times, construction.best, repeats, target_s * 1000)


# -- reporting -----------------------------------------------------------------------------------


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 4)


def _ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 3)


def summary(m: Measurements) -> dict[str, Any]:
    """The JSON object: the tracked ratios first, then the raw figures behind them."""
    sync, asyn = m.times["sync"], m.times["async"]

    def ratios(
        times: dict[int, dict[str, float]], ours: str, theirs: str, counts: Sequence[int]
    ) -> dict[str, float]:
        return {str(n): _ratio(times[n][ours], times[n][theirs]) for n in counts}

    def micros(times: dict[int, dict[str, float]], name: str) -> dict[str, float]:
        return {str(n): _us(times[n][name]) for n in RECEIVERS}

    result: dict[str, Any] = {
        "dispatch_ratio_vs_blinker": ratios(sync, "ours", "blinker", (1, 10, 100)),
        "async_ratio_vs_blinker": ratios(asyn, "ours", "blinker", (1, 10, 100)),
        "loop_ratio": ratios(sync, "ours", "floor", (10, 100)),
        "async_loop_ratio": ratios(asyn, "ours", "floor", (10, 100)),
        "wildcard_ratio_vs_exact": ratios(sync, "wildcard", "ours", (1, 10, 100)),
        "publish_per_s": {str(n): round(1 / sync[n]["ours"]) for n in (1, 10, 100)},
        "async_wildcard_ratio_vs_exact": ratios(asyn, "wildcard", "ours", (1, 10, 100)),
        "us_per_publish": {
            "sync": micros(sync, "ours"),
            "async": micros(asyn, "ours"),
            "sync_wildcard": micros(sync, "wildcard"),
            "async_wildcard": micros(asyn, "wildcard"),
        },
        "blinker_us": {"sync": micros(sync, "blinker"), "async": micros(asyn, "blinker")},
        # Plugins' handlers, one owner each: one event published and delivered by every
        # mailbox, and a stream of events through the mailboxes (per event).
        "mailbox_us": {"sync": micros(sync, "mailbox"), "async": micros(asyn, "mailbox")},
        "mailbox_pipelined_us": {
            "sync": micros(sync, "mailbox_pipelined"),
            "async": micros(asyn, "mailbox_pipelined"),
        },
        "floor_us": {"sync": micros(sync, "floor"), "async": micros(asyn, "floor")},
        "event_construction_us": _us(m.construction_s),
        "targets": {key: limit for key, (_, limit) in TARGETS.items()},
        "repeats": m.repeats,
        "batch_ms": m.batch_ms,
        "python": sys.version.split()[0],
        "blinker": version("blinker"),
    }
    result["misses"] = misses(result)
    return result


def misses(result: dict[str, Any]) -> list[str]:
    """Every tracked figure over its target, as ``key[receivers]=value > limit``."""
    found: list[str] = []
    for key, (counts, limit) in TARGETS.items():
        for n in counts:
            value = result[key][str(n)]
            if value > limit:
                found.append(f"{key}[{n}]={value:.2f} > {limit}")
    return found


def table(result: dict[str, Any]) -> str:
    """The human-readable report."""
    us = result["us_per_publish"]
    lines = [
        f"hotbus bus benchmark (Python {result['python']}, blinker {result['blinker']}): "
        f"us per event, min of {result['repeats']} interleaved batches of ~"
        f"{result['batch_ms']:g} ms",
        f"event construction, excluded below: {result['event_construction_us']:.3f} us "
        f"(Dispatch(seq=1))",
    ]
    head = (
        "receivers",
        "ours us",
        "wildcard us",
        "blinker us",
        "floor us",
        "ours/blinker",
        "ours/floor",
        "wildcard/exact",
    )
    widths = [max(len(h), 8) for h in head]
    for kind, label in (("sync", "sync handlers"), ("async", "async handlers")):
        wildcard = us[f"{kind}_wildcard"]
        lines += ["", label, "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
        for n in RECEIVERS:
            key = str(n)
            ours = us[kind][key]
            blink = result["blinker_us"][kind][key]
            floor = result["floor_us"][kind][key]
            row = (
                key,
                f"{ours:.3f}",
                f"{wildcard[key]:.3f}",
                f"{blink:.3f}",
                f"{floor:.3f}",
                f"{ours / blink:.2f}",
                f"{ours / floor:.2f}",
                f"{wildcard[key] / ours:.2f}",
            )
            lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    box, piped = result["mailbox_us"], result["mailbox_pipelined_us"]
    lines += ["", "mailboxes (one owner per handler): us per event, delivered / pipelined"]
    for kind in ("sync", "async"):
        cells = ", ".join(
            f"{n}: {box[kind][str(n)]:.2f} / {piped[kind][str(n)]:.2f}" for n in RECEIVERS
        )
        lines.append(f"  {kind} handlers  {cells}")
    per_s = result["publish_per_s"]
    lines += [
        "",
        "publish/s (sync, exact): " + ", ".join(f"{n} receivers {per_s[n]:,}" for n in per_s),
        "targets: ours/blinker <= 1.0 (sync, async) at 1/10/100; ours/floor <= 2.0 at 10/100; "
        "wildcard/exact (sync) <= 1.2 at 1/10/100",
    ]
    missed = result["misses"]
    lines.append("missed: " + "; ".join(missed) if missed else "all targets met")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/bus.py",
        description="Time Bus.publish against raw blinker and a plain loop over the handlers.",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="interleaved rounds (default 7; 2 --quick)"
    )
    parser.add_argument(
        "--batch-ms",
        type=float,
        default=None,
        help="target duration of one batch (default 30; 0.5 --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny batches, two rounds")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a target is missed"
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 7
    if args.batch_ms is None:
        args.batch_ms = 0.5 if args.quick else 30.0
    if args.repeats < 1 or not args.batch_ms > 0:
        parser.error("--repeats must be at least 1 and --batch-ms positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report.

    Returns:
        0; 1 if a candidate misdelivered, or with ``--check`` if a tracked figure missed its
        target.
    """
    args = parse_args(argv)
    try:
        measured = asyncio.run(measure(args.repeats, args.batch_ms / 1000))
    except MisdeliveryError as error:
        print(f"bench/bus.py: {error}", file=sys.stderr)
        return 1
    result = summary(measured)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 1 if args.check and result["misses"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
