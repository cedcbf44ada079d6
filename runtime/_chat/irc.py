"""`IrcTransport`: the plugins' chat on an IRC server.

The wire format (tags, source, parameters, and formatting what is sent) is irctokens'; what a
bot needs around it is here: registering (a server password, SASL PLAIN), a taken nick
(``nick_``, ``nick__``, then a number), joining the channels again after every reconnect,
reconnecting with a doubling backoff, a ping when the server is quiet, replies split to fit a
line and throttled, and every change of the connection as an event
(``hotbus.transport.connected``, ``.disconnected``, ``.nick_taken``). Secrets (the server
password, the SASL password) are never logged, published or shown in a repr.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import random
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, final

from hotbus.bus import Bus
from hotbus.runtime._chat.lines import LINE_BYTES, Throttle, split_text
from hotbus.runtime._plugins.chat import ChatJoined, ChatMessage, ChatParted, ChatReply
from hotbus.schemas import MASK, NickTaken, TransportConnected, TransportDisconnected
from irctokens.line import Line, build, tokenise
from pydantic import SecretStr

__all__ = ["IRC", "IrcAddress", "IrcSecrets", "IrcTransport"]

#: The IRC transport's name.
IRC: Final = "irc"
_CHANNEL_PREFIXES: Final = "#&+!"
#: Room left in a line for the ``:nick!user@host`` the server puts before a relayed message.
_SOURCE_ROOM: Final = 100
#: A connection that lasted this long was good: the next attempt waits the shortest time again
#: (one that keeps dropping at once, a ban say, goes on backing off).
_STABLE_S: Final = 30.0
#: How many lines wait while the bot is not connected; the oldest go first when more come.
_OUTBOX: Final = 200
#: Characters that cannot be in a target: they would end the command or name several.
_BAD_TARGET: Final = frozenset(" ,\r\n\0\x07")

logger = logging.getLogger("hotbus.irc")


@dataclass(frozen=True, slots=True)
class IrcAddress:
    """Where to connect: ``irc://HOST:PORT/#channel[,#other]``, ``ircs://`` for TLS."""

    host: str
    port: int
    tls: bool
    channels: tuple[str, ...]

    @classmethod
    def parse(cls, url: str) -> IrcAddress:
        """Read an ``irc://`` or ``ircs://`` URL; the port defaults to 6667 (6697 with TLS).

        A channel written without its ``#`` gets one. A URL holding a password is refused
        (without repeating it): passwords come from the environment.

        Raises:
            ValueError: saying what is wrong with the URL and what to write instead.
        """
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in {"irc", "ircs"}:
            raise ValueError(
                "an IRC server is given as irc://HOST:PORT/#channel (or ircs:// for TLS)"
            )
        netloc, _, path = rest.partition("/")
        if "@" in netloc:
            raise ValueError(
                "the IRC URL holds a user or password: give the server password in "
                "HOTBUS_IRC_PASSWORD (or SASL in HOTBUS_IRC_SASL_USER and "
                "HOTBUS_IRC_SASL_PASSWORD), never in the URL"
            )
        tls = scheme.lower() == "ircs"
        host, port_text = netloc, ""
        if netloc.startswith("["):  # [::1]:6667
            host, _, after = netloc[1:].partition("]")
            port_text = after.removeprefix(":")
        elif netloc.count(":") == 1:
            host, _, port_text = netloc.partition(":")
        if not host:
            raise ValueError(f"the IRC URL {url!r} names no host: irc://HOST:PORT/#channel")
        try:
            port = int(port_text) if port_text else (6697 if tls else 6667)
        except ValueError:
            raise ValueError(f"the port of {url!r} is not a number") from None
        if not 0 < port < 65536:
            raise ValueError(f"the port of {url!r} is not between 1 and 65535")
        channels = tuple(
            name if name[0] in _CHANNEL_PREFIXES else f"#{name}"
            for name in (part.strip() for part in path.split(","))
            if name
        )
        if any(_BAD_TARGET & set(name) for name in channels):
            raise ValueError(f"a channel of {url!r} holds a space or a control character")
        return cls(host, port, tls, channels)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class IrcSecrets:
    """The server password and SASL credentials, from the environment only."""

    password: SecretStr | None = None
    sasl_user: str | None = None
    sasl_password: SecretStr | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IrcSecrets:
        """``HOTBUS_IRC_PASSWORD``; ``HOTBUS_IRC_SASL_USER`` and ``HOTBUS_IRC_SASL_PASSWORD``."""
        env = os.environ if env is None else env
        password = env.get("HOTBUS_IRC_PASSWORD") or None
        sasl_password = env.get("HOTBUS_IRC_SASL_PASSWORD") or None
        return cls(
            password=SecretStr(password) if password else None,
            sasl_user=env.get("HOTBUS_IRC_SASL_USER") or None,
            sasl_password=SecretStr(sasl_password) if sasl_password else None,
        )

    def values(self) -> list[str]:
        """The secret values, to mask wherever text could quote them."""
        return [s.get_secret_value() for s in (self.password, self.sasl_password) if s]


class _Closed(Exception):
    """The session ended; its message says why."""


@final
class IrcTransport:
    """The chat on one IRC server, in the channels of ``address``, as ``nick``.

    ``burst`` and ``interval_s`` throttle what is said; ``backoff_s`` is the first and the
    longest wait between attempts to connect (doubling); past ``ping_s`` of silence the server
    is pinged, and past twice that the connection is given up and made again.
    """

    __slots__ = (
        "_address",
        "_bus",
        "_closing",
        "_joined",
        "_max_lines",
        "_nick",
        "_outbox",
        "_ping_s",
        "_rejoins",
        "_secrets",
        "_stream",
        "_throttle",
        "_wake",
        "_wanted",
        "_writer",
        "backoff_s",
    )

    name = IRC

    def __init__(
        self,
        address: IrcAddress,
        nick: str,
        *,
        secrets: IrcSecrets | None = None,
        burst: int = 5,
        interval_s: float = 1.0,
        backoff_s: tuple[float, float] = (1.0, 60.0),
        ping_s: float = 120.0,
        max_lines: int = 8,
    ) -> None:
        self._address = address
        self._wanted = nick
        self._nick = nick
        self._secrets = secrets if secrets is not None else IrcSecrets()
        self._throttle = Throttle(burst, interval_s)
        #: The first and the longest wait between attempts to connect.
        self.backoff_s = backoff_s
        self._ping_s = ping_s
        self._max_lines = max_lines
        self._bus: Bus | None = None
        self._writer: asyncio.StreamWriter | None = None  # once registered
        self._stream: asyncio.StreamWriter | None = None  # once connected
        self._outbox: deque[str] = deque(maxlen=_OUTBOX)
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._joined: set[str] = set()
        self._rejoins: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<hotbus IrcTransport {self._address} as {self._nick} {state}>"

    @property
    def nick(self) -> str:
        """The nick the bot has (or asks for)."""
        return self._nick

    @property
    def connected(self) -> bool:
        """Whether the bot is registered on the server."""
        return self._writer is not None

    @property
    def channels(self) -> frozenset[str]:
        """The channels the bot is in now."""
        return frozenset(self._joined)

    # -- the connection ---------------------------------------------------------------------

    async def serve(self, bus: Bus) -> None:
        """Connect, register, join, and publish what is said; again after each disconnect."""
        self._bus = bus
        first, longest = self.backoff_s
        delay = first
        failed = 0
        loop = asyncio.get_running_loop()
        while not self._closing.is_set():
            began = loop.time()
            registered, reason = await self._session(failed)
            if registered and loop.time() - began >= _STABLE_S:
                delay, failed = first, 0
            if self._closing.is_set():
                break
            self._publish(
                TransportDisconnected(
                    transport=IRC,
                    server=str(self._address),
                    reason=self._masked(reason),
                    retry_in_s=delay,
                )
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=delay)
            delay = min(delay * 2, longest)
            failed += 1
        self._publish(
            TransportDisconnected(
                transport=IRC, server=str(self._address), reason="closed", retry_in_s=None
            )
        )

    async def close(self) -> None:
        """Say QUIT (if connected), close the connection, and make `serve` return."""
        self._closing.set()
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self._write_now(writer, "QUIT", ["hotbus is stopping"])
                await asyncio.wait_for(writer.drain(), timeout=2)
            writer.close()
        elif self._stream is not None:  # connected, not registered yet
            self._stream.close()
        for task in list(self._rejoins):
            task.cancel()

    async def _session(self, failed: int) -> tuple[bool, str]:
        """One connection, from connecting to its end: whether it registered, and why it ended."""
        address = self._address
        try:
            context = ssl.create_default_context() if address.tls else None
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address.host, address.port, ssl=context), timeout=30
            )
        except (OSError, TimeoutError) as error:
            return False, f"cannot connect: {_describe(error)}"
        self._stream = writer
        if self._closing.is_set():  # closed while connecting
            writer.close()
            return False, "closed"
        state = _Session(failed)
        sender = asyncio.create_task(self._send_loop(writer, state), name="hotbus-irc-send")
        try:
            self._register(writer)
            await self._read_loop(reader, writer, state)
        except _Closed as closed:
            return state.registered, str(closed)
        except OSError as error:
            return state.registered, _describe(error)
        finally:
            sender.cancel()
            self._writer = self._stream = None
            self._joined.clear()
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), timeout=2)
        return state.registered, "closed"  # pragma: no cover - the loop ends by raising

    def _register(self, writer: asyncio.StreamWriter) -> None:
        secrets = self._secrets
        if secrets.sasl_password is not None:
            self._write_now(writer, "CAP", ["REQ", "sasl"])
        if secrets.password is not None:
            self._write_now(writer, "PASS", [secrets.password.get_secret_value()])
        self._nick = self._wanted
        self._write_now(writer, "NICK", [self._nick])
        self._write_now(writer, "USER", [self._wanted.lower(), "0", "*", "hotbus"])

    async def _read_loop(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: _Session
    ) -> None:
        buffer = b""
        quiet = 0
        while True:
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout=self._ping_s)
            except TimeoutError:
                quiet += 1
                if quiet > 1:
                    raise _Closed(f"no answer from the server for {2 * self._ping_s:g} s") from None
                self._write_now(writer, "PING", ["hotbus"])
                continue
            if not data:
                raise _Closed("the server closed the connection")
            quiet = 0
            buffer += data
            *raw_lines, buffer = buffer.split(b"\n")
            for raw in raw_lines:
                text = raw.rstrip(b"\r")
                if not text.strip():
                    continue
                try:
                    line = tokenise(text)
                except (ValueError, IndexError):
                    logger.debug("unreadable line from the server: %r", text[:100])
                    continue
                self._handle(line, writer, state)

    # -- what the server says ---------------------------------------------------------------

    def _handle(self, line: Line, writer: asyncio.StreamWriter, state: _Session) -> None:
        command, params = line.command, line.params
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("<< %s", self._masked(line.format()))
        if command == "PING":
            self._write_now(writer, "PONG", params[-1:] or ["hotbus"])
        elif command == "ERROR":
            raise _Closed(f"the server said: {params[-1] if params else 'ERROR'}")
        elif command == "001":
            self._nick = params[0] if params else self._nick
            state.registered = True
            self._writer = writer
            self._wake.set()
            if self._address.channels:
                self._write_now(writer, "JOIN", [",".join(self._address.channels)])
            self._publish(
                TransportConnected(
                    transport=IRC,
                    server=str(self._address),
                    nick=self._nick,
                    channels=list(self._address.channels),
                    attempt=state.failed,
                )
            )
        elif command in {"433", "436"} and not state.registered:
            taken = params[1] if len(params) > 1 else self._nick
            state.tries += 1
            self._nick = _another_nick(self._wanted, state.tries)
            self._publish(NickTaken(transport=IRC, wanted=taken, using=self._nick))
            self._write_now(writer, "NICK", [self._nick])
        elif command == "CAP" and len(params) >= 3:
            self._cap(writer, params[1], params[-1])
        elif command == "AUTHENTICATE" and params == ["+"]:
            self._authenticate(writer)
        elif command in {"903", "904", "905", "906", "907"}:
            if command != "903":
                logger.warning("SASL authentication failed: %s", params[-1] if params else "")
            self._write_now(writer, "CAP", ["END"])
        elif line.source is None:
            return
        elif command == "PRIVMSG" and len(params) >= 2:
            self._message(line, params[0], params[1])
        elif command == "JOIN" and params:
            self._joined_or_parted(line, params[0], joined=True)
        elif command == "PART" and params:
            self._joined_or_parted(line, params[0], joined=False, reason="".join(params[1:2]))
        elif command == "KICK" and len(params) >= 2:
            self._kicked(line, params)
        elif command == "NICK" and params and line.hostmask.nickname == self._nick:
            self._nick = params[0]
        elif command in {"471", "473", "474", "475", "403", "405"}:
            logger.warning("cannot join %s: %s", params[1:2], params[-1] if params else "")

    def _cap(self, writer: asyncio.StreamWriter, verb: str, caps: str) -> None:
        if verb == "ACK" and "sasl" in caps.split():
            self._write_now(writer, "AUTHENTICATE", ["PLAIN"])
        elif verb == "NAK":
            logger.warning("the server offers no SASL: connecting without it")
            self._write_now(writer, "CAP", ["END"])

    def _authenticate(self, writer: asyncio.StreamWriter) -> None:
        secrets = self._secrets
        if secrets.sasl_password is None:
            return
        user = secrets.sasl_user or self._wanted
        token = f"{user}\0{user}\0{secrets.sasl_password.get_secret_value()}"
        self._write_now(writer, "AUTHENTICATE", [base64.b64encode(token.encode()).decode()])

    def _message(self, line: Line, target: str, text: str) -> None:
        sender = line.hostmask.nickname
        if sender == self._nick or text.startswith("\x01"):  # our own echo, or CTCP
            return
        channel = target if target[:1] in _CHANNEL_PREFIXES else None
        self._publish(
            ChatMessage(
                user=sender, text=text, channel=channel, mask=line.source or "", transport=IRC
            )
        )

    def _joined_or_parted(
        self, line: Line, channel: str, *, joined: bool, reason: str = ""
    ) -> None:
        nick = line.hostmask.nickname
        if nick == self._nick:
            (self._joined.add if joined else self._joined.discard)(channel)
        mask = line.source or ""
        if joined:
            self._publish(ChatJoined(user=nick, channel=channel, mask=mask, transport=IRC))
        else:
            self._publish(
                ChatParted(user=nick, channel=channel, mask=mask, transport=IRC, reason=reason)
            )

    def _kicked(self, line: Line, params: list[str]) -> None:
        channel, nick = params[0], params[1]
        why = f"kicked by {line.hostmask.nickname}" + (f": {params[2]}" if len(params) > 2 else "")
        self._publish(ChatParted(user=nick, channel=channel, transport=IRC, reason=why))
        if nick == self._nick:
            self._joined.discard(channel)
            task = asyncio.get_running_loop().create_task(self._rejoin(channel))
            self._rejoins.add(task)
            task.add_done_callback(self._rejoins.discard)

    async def _rejoin(self, channel: str) -> None:
        await asyncio.sleep(self.backoff_s[0] * 5)
        writer = self._writer
        if writer is not None and channel not in self._joined:
            self._write_now(writer, "JOIN", [channel])

    # -- what the bot says ------------------------------------------------------------------

    def send(self, target: str, reply: ChatReply) -> None:
        """Queue ``reply`` for ``target``, split into lines that fit; sent, throttled, once
        connected (the lines wait through a reconnect)."""
        if not target or _BAD_TARGET & set(target):
            logger.warning(
                "%s's reply names the target %r, which IRC cannot address", reply.plugin, target
            )
            return
        room = LINE_BYTES - 2 - _SOURCE_ROOM - len(f"PRIVMSG {target} :".encode())
        for text in split_text(reply.text, room, self._max_lines):
            if len(self._outbox) == self._outbox.maxlen:
                logger.warning("too many replies waiting to be sent: dropping the oldest")
            self._outbox.append(build("PRIVMSG", [target, text]).format())
        self._wake.set()

    async def _send_loop(self, writer: asyncio.StreamWriter, state: _Session) -> None:
        outbox = self._outbox
        while True:
            await self._wake.wait()
            self._wake.clear()
            while outbox and state.registered:
                await self._throttle.wait()
                if not outbox:
                    break
                line = outbox.popleft()
                logger.debug(">> %s", line)
                writer.write(line.encode() + b"\r\n")
                await writer.drain()

    def _write_now(self, writer: asyncio.StreamWriter, command: str, params: list[str]) -> None:
        """Write one line at once (registration, PONG, JOIN, QUIT: never held back)."""
        line = build(command, params).format()
        if logger.isEnabledFor(logging.DEBUG):
            shown = f"{command} {MASK}" if command in {"PASS", "AUTHENTICATE"} else line
            logger.debug(">> %s", shown)
        writer.write(line.encode() + b"\r\n")

    def _publish(
        self,
        event: ChatMessage
        | ChatJoined
        | ChatParted
        | TransportConnected
        | TransportDisconnected
        | NickTaken,
    ) -> None:
        if self._bus is not None:
            self._bus.publish_nowait(event)

    def _masked(self, text: str) -> str:
        for secret in self._secrets.values():
            text = text.replace(secret, MASK)
        return text


@dataclass(slots=True)
class _Session:
    """What one connection has learnt so far."""

    failed: int
    registered: bool = False
    tries: int = 0


def _another_nick(wanted: str, tries: int) -> str:
    """``nick_``, then ``nick__``, then ``nick`` and three digits; within nine characters, the
    shortest limit servers have."""
    if tries <= 2:
        return wanted[: 9 - tries] + "_" * tries
    return f"{wanted[:6]}{random.randint(100, 999)}"


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower() if error.strerror[0].isupper() else error.strerror
    return str(error) or type(error).__name__
