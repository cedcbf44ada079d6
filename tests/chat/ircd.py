"""A real IRC server for the tests (Debian's ngircd, on a free loopback port), and a person on it.

`IrcServer` writes an ngircd config into a temporary directory and runs ``ngircd -n -f CONF``
(in the foreground, never as a daemon); it can be stopped and started again on the same port.
`Person` is a plain socket client that registers, joins, speaks and waits for lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from irctokens.line import Line, build, tokenise

__all__ = ["NGIRCD", "IrcServer", "Person", "free_port"]

#: Where Debian installs ngircd (or wherever it is on PATH).
NGIRCD: Final = shutil.which("ngircd") or (
    "/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").exists() else None
)
_CONFIG: Final = """\
[Global]
    Name = irc.hotbus.test
    Info = hotbus test server
    Listen = 127.0.0.1
    Ports = {port}
    MotdPhrase = "hotbus tests"
{password}
[Limits]
    MaxConnectionsIP = 0
    MaxNickLength = 30
    PingTimeout = 120
    PongTimeout = 20
[Options]
    Ident = no
    PAM = no
    DNS = no
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class IrcServer:
    """ngircd on ``127.0.0.1:port``, configured in ``directory``."""

    def __init__(self, directory: Path, *, password: str | None = None) -> None:
        assert NGIRCD is not None
        self.port = free_port()
        self.config = directory / "ngircd.conf"
        line = f"    Password = {password}" if password else ""
        self.config.write_text(_CONFIG.format(port=self.port, password=line), encoding="utf-8")
        self.log = directory / "ngircd.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``irc://127.0.0.1:PORT``, without channels."""
        return f"irc://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts connections."""
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(NGIRCD), "-n", "-f", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"ngircd exited: {self.log.read_text(errors='replace')}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise AssertionError(f"ngircd did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        """Stop the server (every client is disconnected); harmless if it is not running."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


class Person:
    """Someone on the server, with a plain socket: every line they receive is kept."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[Line] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._arrived = asyncio.Event()
        self._reading: asyncio.Task[None] | None = None

    async def connect(self, port: int, *, password: str | None = None) -> None:
        """Connect and register; returns once the server welcomed them."""
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        self._reading = asyncio.create_task(self._read())
        if password:
            self.send("PASS", password)
        self.send("NICK", self.nick)
        self.send("USER", self.nick, "0", "*", self.nick)
        await self.expect(lambda line: line.command == "001")

    def send(self, command: str, *params: str) -> None:
        """Send one command."""
        assert self._writer is not None
        self._writer.write(build(command, list(params)).format().encode() + b"\r\n")

    async def join(self, channel: str) -> None:
        """Join ``channel``; returns once the server says they are in."""
        self.send("JOIN", channel)
        await self.expect(lambda line: line.command == "366" and line.params[1] == channel)

    def say(self, target: str, text: str) -> int:
        """Say ``text`` to ``target``; the index of the next line to arrive."""
        mark = len(self.lines)
        self.send("PRIVMSG", target, text)
        return mark

    async def expect(
        self, wanted: Callable[[Line], bool], *, since: int = 0, timeout: float = 15.0
    ) -> Line:
        """The first line from ``since`` on for which ``wanted`` is true, waiting for it."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = since
        while True:
            for line in self.lines[seen:]:
                if wanted(line):
                    return line
            seen = len(self.lines)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                shown = "\n".join(line.format() for line in self.lines[since:])
                raise AssertionError(f"{self.nick} waited {timeout} s in vain; got:\n{shown}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=left)

    async def message_from(
        self, nick: str, target: str, *, since: int = 0, timeout: float = 15.0
    ) -> str:
        """The text of the next PRIVMSG from ``nick`` to ``target``."""
        line = await self.expect(
            lambda line: (
                line.command == "PRIVMSG"
                and line.source is not None
                and line.hostmask.nickname == nick
                and line.params[0] == target
            ),
            since=since,
            timeout=timeout,
        )
        return line.params[1]

    async def close(self) -> None:
        """Quit and close the connection."""
        if self._writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.send("QUIT", "bye")
                await self._writer.drain()
            self._writer.close()
        if self._reading is not None:
            self._reading.cancel()

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            raw = await self._reader.readline()
            if not raw:
                return
            text = raw.rstrip(b"\r\n")
            if not text:
                continue
            line = tokenise(text)
            if line.command == "PING":
                self.send("PONG", *line.params)
            self.lines.append(line)
            self._arrived.set()
