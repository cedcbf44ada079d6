"""``hotbus run --dashboard``: the console line with the address, the dashboard serving the run's
plugins, its stream holding the same objects as the events file, and a clear error without the
``dashboard`` extra."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import StartConsole
from tests.cli.console import copy_plugins, hotbus
from tests.dashboard.http import EventStream, fetch

pytestmark = pytest.mark.timeout(60)

ADDRESS = re.compile(r"dashboard: (http://[^/\s]+/)(\S*)")


async def test_the_console_prints_the_address_and_the_dashboard_serves(
    console: StartConsole, tmp_path: Path
) -> None:
    copy_plugins(tmp_path / "plugins")
    run = console("run", "plugins", "--dashboard", "0")
    line = await asyncio.to_thread(run.err.expect, "dashboard: http://127.0.0.1:")
    found = ADDRESS.search(line)
    assert found is not None and found.group(2) == ""  # no token on loopback
    await asyncio.to_thread(run.err.expect, "hotbus started")
    rows = (await fetch(found.group(1) + "api/status")).json()
    assert {row["name"] for row in rows} >= {"dice", "rng"}
    run.close_input()
    assert await asyncio.to_thread(run.wait) == 0


async def test_a_non_loopback_run_prints_a_new_token_and_refuses_requests_without_it(
    console: StartConsole, tmp_path: Path
) -> None:
    copy_plugins(tmp_path / "plugins")
    run = console("run", "plugins", "--dashboard", "0.0.0.0:0")
    line = await asyncio.to_thread(run.err.expect, "dashboard: http://0.0.0.0:")
    found = ADDRESS.search(line)
    assert found is not None and found.group(2).startswith("?token=")
    token = found.group(2).removeprefix("?token=")
    port = found.group(1).rsplit(":", 1)[1].rstrip("/")
    await asyncio.to_thread(run.err.expect, "hotbus started")
    status = f"http://127.0.0.1:{port}/api/status"
    assert (await fetch(status)).status == 401
    assert (await fetch(status, headers={"Authorization": f"Bearer {token}"})).status == 200
    run.close_input()
    assert await asyncio.to_thread(run.wait) == 0
    # The token is in that one line only.
    assert [seen for seen in run.err.seen if token in seen] == [line]


async def test_the_stream_holds_the_objects_of_the_events_file(
    console: StartConsole, tmp_path: Path
) -> None:
    copy_plugins(tmp_path / "plugins")
    jsonl = tmp_path / "events.jsonl"
    run = console("run", "plugins", "--dashboard", "0", "--events-jsonl", str(jsonl))
    line = await asyncio.to_thread(run.err.expect, "dashboard: ")
    found = ADDRESS.search(line)
    assert found is not None
    await asyncio.to_thread(run.err.expect, "hotbus started")
    stream = EventStream(found.group(1) + "api/events?topic=chat.>")
    try:
        assert await stream.opened() == 200  # answered once the stream follows the bus
        run.send("!roll 2d6")
        streamed = await stream.events(2)  # the message and dice's reply
    finally:
        stream.close()
    run.close_input()
    assert await asyncio.to_thread(run.wait) == 0
    written = {
        line["event_id"]: line
        for line in map(json.loads, jsonl.read_text(encoding="utf-8").splitlines())
    }
    assert [e["topic"] for e in streamed] == ["chat.message", "chat.reply"]
    for event in streamed:
        assert written[event["event_id"]] == event


def test_without_the_dashboard_extra_the_error_names_the_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy_plugins(tmp_path / "plugins")
    for name in [m for m in sys.modules if m.partition(".")[0] == "starlette"] + ["starlette"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "hotbus.runtime._dashboard.app", raising=False)
    result = hotbus("run", str(tmp_path / "plugins"), "--dashboard", "0")
    assert result.code == 2
    assert "pip install 'hotbus[dashboard]'" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("address", ["host:", "99999", "x:y", ":80"])
def test_a_bad_dashboard_address_is_a_usage_error(address: str, tmp_path: Path) -> None:
    result = hotbus("run", str(tmp_path), "--dashboard", address)
    assert result.code == 2
    assert "[HOST:]PORT" in result.err


def test_a_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    import socket

    copy_plugins(tmp_path / "plugins")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hotbus("run", str(tmp_path / "plugins"), "--dashboard", str(port))
    assert result.code == 2
    assert f"dashboard on 127.0.0.1:{port}: cannot bind" in result.err


def test_a_token_from_the_environment_is_never_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy_plugins(tmp_path / "plugins")
    monkeypatch.setenv("HOTBUS_DASHBOARD_TOKEN", "env-token-0123456789-abcdef")
    result = hotbus("run", str(tmp_path / "plugins"), "--dashboard", "0.0.0.0:0")
    assert result.code == 0
    assert "dashboard: http://0.0.0.0:" in result.err
    assert "(token: $HOTBUS_DASHBOARD_TOKEN)" in result.err
    assert "env-token-0123456789" not in result.err + result.out
