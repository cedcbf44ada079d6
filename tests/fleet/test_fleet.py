"""A fleet of ``hotbus run`` hosts on a real NATS server (JetStream, file store, free port).

Status lists every host's plugins (a host that stops leaves it); a fleet reload commits on every
host; a rolling reload stops at the host whose file is broken and leaves the rest untouched; a
host killed with SIGKILL and restarted catches up without loss or duplicates (and, while it is
down, a reload names it as not answering); the server restarted mid-stream loses nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.fleet.conftest import StartHosts
from tests.fleet.helpers import Host, NatsServer, fleet, wait_until


def _chat_from(host: Host, source: str) -> list[str]:
    """The texts of the chat messages ``host`` got from ``source`` (``fleet:<name>``)."""
    return [
        e["text"] for e in host.events() if e["topic"] == "chat.message" and e["source"] == source
    ]


def _remote(event: dict[str, Any], name: str) -> bool:
    return bool(event["source"] == f"fleet:{name}")


def _commit_of(name: str | None) -> Callable[[dict[str, Any]], bool]:
    """Matches a commit of host ``name`` (None: the host's own)."""

    def match(event: dict[str, Any]) -> bool:
        if event["topic"] != "hotbus.reload.committed":
            return False
        return _remote(event, name) if name else not event["source"].startswith("fleet:")

    return match


def test_status_lists_every_host_and_its_plugins(
    hosts: StartHosts, nats_server: NatsServer
) -> None:
    _, _, c = hosts("a", "b", "c")

    def listed() -> Any:
        result = fleet("status", url=nats_server.url, fleet="test")
        lines = result.stdout.splitlines()
        return result if result.returncode == 0 and len(lines) == 4 else None

    result = wait_until(listed, "every host in the status")
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["host", "plugin", "state", "version", "since"]
    assert [row.split()[:3] for row in rows] == [
        ["a", "echo", "active"],
        ["b", "echo", "active"],
        ["c", "echo", "active"],
    ]
    c.stop()  # a host that stops leaves the fleet's status
    wait_until(
        lambda: fleet("status", url=nats_server.url, fleet="test").stdout.count("echo") == 2,
        "host c gone from the status",
    )


def test_a_fleet_reload_commits_on_every_host(hosts: StartHosts, nats_server: NatsServer) -> None:
    a, b = hosts("a", "b")
    wait_until(
        lambda: fleet("status", url=nats_server.url, fleet="test").stdout.count("active") == 2,
        "both hosts in the status",
    )
    result = fleet("reload", "echo", url=nats_server.url, fleet="test")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = sorted(result.stdout.splitlines())
    assert [line.split(":")[:2] for line in lines] == [["a", " committed"], ["b", " committed"]]
    for host, other in ((a, "b"), (b, "a")):
        # each committed its own reload, and saw the other's commit come in as a remote event
        host.wait_for(_commit_of(None), "its own commit")
        host.wait_for(_commit_of(other), "the other host's commit")
    requested = a.wait_for(lambda e: e["topic"] == "hotbus.reload.requested", "the request")
    assert requested[0]["reason"] == "remote"


def test_a_rolling_reload_stops_at_the_broken_host(
    hosts: StartHosts, nats_server: NatsServer
) -> None:
    _, b, c = hosts("a", "b", "c")
    wait_until(
        lambda: fleet("status", url=nats_server.url, fleet="test").stdout.count("active") == 3,
        "every host in the status",
    )
    (b.plugin_dir / "echo.py").write_text("def broken(:\n", encoding="utf-8")
    b.wait_for(lambda e: e["topic"] == "hotbus.reload.rejected", "the broken save rejected")
    result = fleet("reload", "echo", "--rolling", url=nats_server.url, fleet="test")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("a: committed")
    assert lines[1].startswith("b: rejected: ")
    assert "echo.py:1" in lines[1]
    assert lines[2] == "stopped at b: the hosts after it were left untouched"
    assert len(lines) == 3
    # c saw the others' reloads come in, and moved nothing of its own
    requests = [e for e in c.events() if e["topic"] == "hotbus.reload.requested"]
    assert requests
    assert all(e["source"].startswith("fleet:") for e in requests)


def test_a_host_killed_and_restarted_catches_up_without_loss_or_duplicates(
    hosts: StartHosts,
) -> None:
    a, b = hosts("a", "b")
    a.say("before")
    b.wait_for(lambda e: e.get("text") == "before", "the first message")
    b.kill()
    # a host that cannot answer is named, and the reload does not count as done
    missing = fleet("reload", "echo", "--host", "b", url=a.url, fleet="test")
    assert missing.returncode == 1
    assert missing.stdout.splitlines() == ["b: no answer: the host is not connected to the fleet"]
    sent = [f"m{n}" for n in range(200)]
    a.say(*sent)
    a.wait_for(lambda e: e.get("text") == "m199", "its own last message")
    b.start()
    b.wait_for(lambda e: e.get("text") == "m199" and _remote(e, "a"), "the missed messages")
    a.say("after")
    b.wait_for(lambda e: e.get("text") == "after", "a message after the restart")
    got = _chat_from(b, "fleet:a")
    assert [t for t in got if t.startswith("m")] == sent
    assert Counter(got)["after"] == 1
    assert "before" not in got  # acknowledged by the first run: not delivered again


def test_the_server_restarted_mid_stream_loses_nothing(
    hosts: StartHosts, nats_server: NatsServer
) -> None:
    a, b = hosts("a", "b")
    a.say(*(f"x{n}" for n in range(100)))
    nats_server.stop()
    a.say(*(f"y{n}" for n in range(100)))  # NATS away: into the outbox
    a.wait_for(lambda e: e.get("text") == "y99", "its own messages")
    a.wait_for(lambda e: e["topic"] == "hotbus.fleet.disconnected", "the disconnection")
    nats_server.start()
    a.wait_for(lambda e: e["topic"] == "hotbus.fleet.connected", "connected again", count=2)
    a.say(*(f"z{n}" for n in range(100)))
    b.wait_for(lambda e: e.get("text") == "z99" and _remote(e, "a"), "every message")
    expected = [f"{p}{n}" for p in "xyz" for n in range(100)]
    got = _chat_from(b, "fleet:a")
    assert sorted(got) == sorted(expected)
    assert len(got) == len(set(got))
