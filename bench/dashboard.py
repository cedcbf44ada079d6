"""The dashboard's cost to the bus, for ``bench/bus.py``: publish with a client connected, and a
stream of 10,000 events/s to a connected client.

* **publish cost**: ``await bus.publish(event)`` to one sync handler, on a plain bus and on a
  bus whose runtime a `Dashboard` serves with one client reading ``/api/events`` over real
  HTTP (``http.client``, in a process of its own, as a browser is). Paired rounds (three
  times ``--repeats``), rotated order; the ratio is the median of per-round ratios. The
  publish loop itself does not yield; after each batch, outside the timing, the dashboard
  fans out and streams what was published.
* **publish and fan-out**: the same, with the fan-out of the batch timed too (turning each
  event into its JSON line and queueing it for the client, `Hub.flush`): what the dashboard
  costs the loop in all, reported and not tracked.
* **stream**: events published at 10,000/s for ``--stream-seconds`` (1 s), in ticks of 1 ms,
  to a client following ``bench.stream``: how many it received, how many were lost, and the
  rate achieved.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from hotbus import Bus, Dashboard, Event, Runtime

from bench.rounds import Ratio, rotated

__all__ = ["dashboard_misses", "dashboard_table", "measure_dashboard", "missing_extra"]

#: The tracked figures and the most each may be (the least, for the stream's rate).
PUBLISH_RATIO_TARGET: Final = 1.1
#: The publish pair gets this many times ``--repeats`` rounds: the two differ by one handler
#: call (tens of nanoseconds), which a busy machine's noise would otherwise swamp.
ROUNDS_FACTOR: Final = 3
STREAM_RATE: Final = 10_000


class DashboardDispatch(Event):
    """The event published in the publish-cost figures."""

    topic = "bench.dashboard"
    seq: int = 0


class StreamTick(Event):
    """The event streamed in the stream figure."""

    topic = "bench.stream"
    seq: int


def missing_extra() -> str | None:
    """Why the dashboard cannot be measured here (its extra is not installed), or None."""
    for module in ("starlette", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: pip install -e '.[dashboard]'"
    return None


#: The client: a process of its own (as a browser is) reading ``/api/events`` with
#: ``http.client``; it says when the stream is open, and at its end how many events it got.
_READER: Final = r"""
import http.client, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
connection = http.client.HTTPConnection(host, port, timeout=120)
connection.request("GET", path)
response = connection.getresponse()
print("open", response.status, flush=True)
received = dropped = 0
dropped_next = False
for raw in response:
    if raw.startswith(b"data: "):
        if dropped_next:
            dropped = int(raw.split(b":")[-1].strip(b" }\r\n"))
            dropped_next = False
        else:
            received += 1
    elif raw.startswith(b"event: dropped"):
        dropped_next = True
print("done", received, dropped, flush=True)
"""


@dataclass(slots=True)
class Reader:
    """A client of a dashboard's ``/api/events``, in a process of its own."""

    process: asyncio.subprocess.Process
    received: int = 0
    dropped: int = 0

    @classmethod
    async def open(cls, dashboard: Dashboard, path: str) -> Reader:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _READER,
            "127.0.0.1",
            str(dashboard.port),
            path,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if line.split() != [b"open", b"200"]:
            process.kill()
            await process.wait()
            raise RuntimeError(f"the stream did not open: {line!r}")
        return cls(process)

    async def finish(self) -> None:
        """Wait (after the dashboard stopped, which ends the stream) for the counts."""
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), 30)
            words = line.split()
            if words[:1] == [b"done"]:
                self.received, self.dropped = int(words[1]), int(words[2])
        finally:
            if self.process.returncode is None:
                self.process.kill()
            await self.process.wait()


def _handler(cell: list[int]) -> Callable[[object], None]:
    def handler(event: object) -> None:
        cell[0] += 1

    return handler


def _publisher(
    bus: Bus, flush: Callable[[], None], *, timed: bool
) -> Callable[[int], Awaitable[float]]:
    """Times ``n`` publishes (and with ``timed``, ``flush``: the fan-out of what they
    published). What came before is fanned out first, untimed; after the batch the loop runs,
    untimed, so that what was published is streamed."""
    publish = bus.publish
    event = DashboardDispatch(seq=1)

    async def run(n: int) -> float:
        flush()
        start = time.perf_counter()
        for _ in range(n):
            await publish(event)
        if timed:
            flush()
        elapsed = time.perf_counter() - start
        if not timed:
            flush()
        for _ in range(3):
            await asyncio.sleep(0)
        return elapsed

    return run


async def _calibrate(run: Callable[[int], Awaitable[float]], target_s: float) -> int:
    n = 1
    while True:
        elapsed = await run(n)
        if elapsed >= target_s / 4:
            return max(1, round(n * target_s / elapsed))
        n *= 2


async def _publish_cost(repeats: int, target_s: float, directory: str) -> dict[str, Any]:
    plain, served = Bus(), Bus()
    cells = [[0], [0]]
    plain.subscribe(DashboardDispatch, _handler(cells[0]))
    served.subscribe(DashboardDispatch, _handler(cells[1]))
    runtime = Runtime([directory], bus=served, watch=False, entry_points=False, log_events=False)
    dashboard = Dashboard(runtime)
    await dashboard.start()
    try:
        reader = await Reader.open(dashboard, "/api/events")
        flush = dashboard.hub.flush

        def nothing() -> None:
            pass

        timers = {
            "without": _publisher(plain, nothing, timed=False),
            "with_client": _publisher(served, flush, timed=False),
            "without_fanout": _publisher(plain, nothing, timed=True),
            "with_client_fanout": _publisher(served, flush, timed=True),
        }
        batches = {name: await _calibrate(run, target_s) for name, run in timers.items()}
        samples: dict[str, list[float]] = {name: [] for name in timers}
        for round_ in range(repeats * ROUNDS_FACTOR):
            for name in rotated(list(timers), round_):
                samples[name].append(await timers[name](batches[name]) / batches[name])
        clients = len(dashboard.hub.clients)
        streamed = dashboard.hub.events
    finally:
        await dashboard.stop()
    await reader.finish()
    publish = Ratio.of(samples["with_client"], samples["without"])
    fanout = Ratio.of(samples["with_client_fanout"], samples["without_fanout"])
    return {
        "dashboard_publish_ratio": round(publish.median, 3),
        "dashboard_publish_spread": publish.as_dict(),
        "dashboard_fanout_ratio": round(fanout.median, 3),
        "dashboard_fanout_spread": fanout.as_dict(),
        "dashboard_publish_us": {
            name: round(min(values) * 1e6, 4) for name, values in samples.items()
        },
        "dashboard_clients": clients,
        "dashboard_events_seen": streamed,
        # What the client missed because whole batches (thousands of events published without
        # the loop running) overflowed its bounded queue: by design, counted and told.
        "dashboard_batch_dropped": reader.dropped,
    }


async def _stream(rate: int, seconds: float, directory: str) -> dict[str, Any]:
    bus = Bus()
    runtime = Runtime([directory], bus=bus, watch=False, entry_points=False, log_events=False)
    dashboard = Dashboard(runtime)
    await dashboard.start()
    try:
        reader = await Reader.open(dashboard, "/api/events?topic=bench.stream")
        per_tick = max(1, round(rate / 1000))
        ticks = max(1, round(seconds * 1000))
        loop = asyncio.get_running_loop()
        begin = loop.time()
        sent = 0
        for tick in range(ticks):
            for _ in range(per_tick):
                await bus.publish(StreamTick(seq=sent))
                sent += 1
            await asyncio.sleep(max(0.0, begin + (tick + 1) / 1000 - loop.time()))
        publishing_s = loop.time() - begin
        dropped = dashboard.hub.dropped
    finally:
        await dashboard.stop()  # what is queued is sent, then the stream ends
    await reader.finish()
    dropped = max(dropped, reader.dropped)
    drained_s = loop.time() - begin
    return {
        "dashboard_stream_sent": sent,
        "dashboard_stream_received": reader.received,
        "dashboard_stream_lost": sent - reader.received,
        "dashboard_stream_dropped": dropped,
        "dashboard_stream_rate": round(sent / publishing_s),
        "dashboard_stream_seconds": round(drained_s, 3),
    }


async def measure_dashboard(
    repeats: int, target_s: float, *, rate: int = STREAM_RATE, seconds: float = 1.0
) -> dict[str, Any]:
    """Every dashboard figure of ``bench/bus.py``'s JSON object."""
    with tempfile.TemporaryDirectory() as directory:  # a runtime with no plugins
        result = await _publish_cost(repeats, target_s, directory)
        result |= await _stream(rate, seconds, directory)
    result["dashboard_stream_target_rate"] = rate
    return result


def dashboard_misses(result: dict[str, Any]) -> list[str]:
    """The dashboard's targets missed: publish ratio, stream losses, stream rate."""
    found = []
    ratio = result["dashboard_publish_ratio"]
    if ratio > PUBLISH_RATIO_TARGET:
        found.append(f"dashboard_publish_ratio={ratio:.2f} > {PUBLISH_RATIO_TARGET}")
    if result["dashboard_stream_lost"] > 0:
        found.append(f"dashboard_stream_lost={result['dashboard_stream_lost']} > 0")
    target = result["dashboard_stream_target_rate"]
    if result["dashboard_stream_rate"] < target * 0.95:
        found.append(f"dashboard_stream_rate={result['dashboard_stream_rate']} < {target}")
    return found


def dashboard_table(result: dict[str, Any]) -> list[str]:
    """The report's lines about the dashboard."""
    if "dashboard_skipped" in result:
        return ["", f"dashboard: not measured ({result['dashboard_skipped']})"]
    us = result["dashboard_publish_us"]
    publish, fanout = result["dashboard_publish_spread"], result["dashboard_fanout_spread"]
    return [
        "",
        "dashboard serving, one client reading /api/events over HTTP (one sync handler):",
        f"  publish: {us['without']:.3f} us without, {us['with_client']:.3f} us with; "
        f"with/without {publish['median']:.2f} ({publish['low']:.2f}-{publish['high']:.2f})",
        f"  publish and fan-out (JSON line, queue): {us['without_fanout']:.3f} us without, "
        f"{us['with_client_fanout']:.3f} us with; with/without {fanout['median']:.2f} "
        f"({fanout['low']:.2f}-{fanout['high']:.2f}) (not tracked)",
        f"  stream at {result['dashboard_stream_target_rate']:,}/s: sent "
        f"{result['dashboard_stream_sent']:,} at {result['dashboard_stream_rate']:,}/s, "
        f"received {result['dashboard_stream_received']:,}, lost "
        f"{result['dashboard_stream_lost']}, dropped {result['dashboard_stream_dropped']}",
        f"  targets: publish with/without <= {PUBLISH_RATIO_TARGET}; stream without loss at "
        f"{result['dashboard_stream_target_rate']:,} events/s",
    ]
