"""The commands behind ``hotbus``: ``run`` (a live console chat host), ``check`` and ``events``.

`cli` parses the arguments and imports this module only then, so that ``hotbus --help`` loads
nothing of the runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import re
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, Final, final

from hotbus.bus import RUNTIME, Bus
from hotbus.runtime._chat.host import ChatHost
from hotbus.runtime._chat.transport import Transport
from hotbus.runtime._console.exits import EVENTS_LOST, PIPE_CLOSED, UsageError
from hotbus.runtime._console.streams import EventsFile, Output, Terminal, start_reader
from hotbus.runtime._console.transport import ConsoleTransport
from hotbus.runtime._dashboard.server import Dashboard
from hotbus.runtime._eventjson import event_json
from hotbus.runtime._monitor import describe_loop
from hotbus.runtime._runtime import Runtime
from hotbus.schemas import Event, HotbusError, PluginState, Settings, registry

__all__ = ["check", "events", "run"]

_COLOURS: Final = {
    logging.DEBUG: "\033[2m",
    logging.INFO: "",
    logging.WARNING: "\033[33m",
    logging.ERROR: "\033[31m",
}
_RESET: Final = "\033[0m"

console_log = logging.getLogger("hotbus.console")


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Invalid settings or plugin directories (a `HotbusError` before anything runs) are usage
    errors of the command."""
    try:
        yield
    except HotbusError as error:
        raise UsageError(str(error)) from None


def events(options: argparse.Namespace, out: IO[str]) -> int:
    """``hotbus events``: every topic, or (``--schema``) every event's JSON Schema."""
    return _events(options, out)


def check(dirs: list[Path], config: Path | None, out: IO[str]) -> int:
    """``hotbus check``: stage every plugin, print a table and the problems; 1 if any."""
    with _usage_errors():
        return asyncio.run(_check(dirs, config, out))


def run(
    options: argparse.Namespace,
    dirs: list[Path],
    config: Path | None,
    *,
    source: IO[str] | None,
    out: IO[str],
    err: IO[str],
    process: bool,
) -> int:
    """``hotbus run``: the console chat host, until the input ends or a stop is asked for.

    ``process``: the streams are the process's own, so stopping may end the process by force
    past ``stop_timeout_s``, and a terminal gets line editing (in-process, neither).
    """
    terminal = None
    if process and source is not None and Terminal.usable(source, out):
        terminal = Terminal(source.fileno())
    streams = _Streams(source, out, err, process=process, terminal=terminal)
    with _usage_errors():
        return _serve(_run(options, dirs, config, streams))


#: How long tasks left behind when ``hotbus run`` ends get to finish once cancelled.
_LEFTOVER_GRACE_S: Final = 0.5


def _serve(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(main)``, except that what is left behind is waited for boundedly.

    `asyncio.run` waits, without limit, for every task left when ``main`` returns, once
    cancelled, and for the default executor's threads: a plugin's task that swallows
    cancellation, or a blocking call it handed to a thread, would keep ``hotbus run`` from
    ever ending.
    """
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            loop.run_until_complete(_leave(loop))
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def _leave(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks left; give them, async generators and executor threads a moment."""
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks(loop) if t is not me and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=_LEFTOVER_GRACE_S)
    closing = [
        asyncio.ensure_future(loop.shutdown_asyncgens()),
        asyncio.ensure_future(loop.shutdown_default_executor()),
    ]
    await asyncio.wait(closing, timeout=_LEFTOVER_GRACE_S)
    for future in closing:
        future.cancel()


# -- hotbus events -----------------------------------------------------------------------------


def _events(options: argparse.Namespace, out: IO[str]) -> int:
    if options.schema:
        json.dump(registry.json_schema(), out, indent=2)
        out.write("\n")
        return 0
    topics = registry.topics()
    width = max(len(t) for t in topics)
    for topic in topics:
        doc = (registry.get(topic).__doc__ or "").strip().splitlines()
        print(f"{topic:<{width}}  {doc[0] if doc else ''}", file=out)
    return 0


# -- hotbus check ------------------------------------------------------------------------------


async def _check(dirs: list[Path], config: Path | None, out: IO[str]) -> int:
    runtime = Runtime(dirs, config_file=config, log_events=False, watch=False)
    rows = await runtime.check()
    if not rows:
        print(f"no plugins found in {', '.join(map(str, dirs))}", file=out)
        return 0
    table = [("plugin", "version", "status", "source")]
    for row in rows:
        status = "ok" if row.state is PluginState.LOADED else str(row.state)
        table.append((row.name, row.version or "-", status, row.source))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for cells in table:
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip(), file=out)
    problems = [row for row in rows if row.state is not PluginState.LOADED]
    if not problems:
        fine = (
            "1 plugin is fine" if len(rows) == 1 else f"all {_count(len(rows), 'plugin')} are fine"
        )
        print(f"\n{fine}", file=out)
        return 0
    print(file=out)
    for row in problems:
        print(_problem_line(row), file=out)
    return 1


def _count(number: int, noun: str) -> str:
    """``1 plugin``, ``2 plugins``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _problem_line(row: Any) -> str:
    """``file:line: plugin: what is wrong, how to fix it``."""
    error = row.error
    if error is not None:
        line = error.line
        fix = ""
        if error.type.endswith("ConfigError") and error.file is not None and line is None:
            line = _section_line(error.file, row.name)
            fix = f"; fix the value in [plugins.{row.name}] or the plugin's config_model"
        where = str(error.file) if error.file else row.source
        if line:
            where += f":{line}"
        message = error.message
        prefix = f"plugin {row.name!r}: "
        if prefix in message:  # hotbus errors already name the plugin (and often the place)
            message = message.split(prefix, 1)[1]
        return f"{where}: {row.name}: {error.type.rsplit('.', 1)[-1]}: {message}{fix}"
    where = row.source
    line = _requires_line(Path(row.source))
    if line is not None:
        where = f"{_main_file(Path(row.source))}:{line}"
    return f"{where}: {row.name}: {row.reason}: {_dependency_fix(row.reason)}"


def _dependency_fix(reason: str) -> str:
    if reason.startswith("missing dependency"):
        return "add that plugin to a plugin directory, or remove it from requires"
    if reason.startswith("dependency cycle"):
        return "remove one of the requirements that close the cycle"
    if reason.startswith("needs "):
        return "update the dependency, or relax the minimum version in requires"
    return "fix that dependency first"


def _main_file(source: Path) -> Path:
    return source / "__init__.py" if source.is_dir() else source


def _section_line(config: Path, plugin: str) -> int | None:
    """The line of ``[plugins.<plugin>]`` in a config file, if it can be found."""
    try:
        lines = config.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    header = f"[plugins.{plugin}]"
    return next((n for n, line in enumerate(lines, 1) if line.strip() == header), None)


def _requires_line(source: Path) -> int | None:
    """The line declaring ``requires`` in a plugin's main file, if it can be found."""
    try:
        text = _main_file(source).read_text(encoding="utf-8")
    except OSError:
        return None
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("requires") and "=" in line:
            return number
    return None


# -- hotbus run --------------------------------------------------------------------------------


class _ConsoleFormatter(logging.Formatter):
    def __init__(self, colour: bool) -> None:
        super().__init__("%(message)s")
        self._colour = colour

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.name.startswith("hotbus.plugins."):  # a plugin's own line: say whose
            text = f"[{record.name.removeprefix('hotbus.plugins.')}] {text}"
        if not self._colour:
            return text
        colour = _COLOURS.get(record.levelno, "")
        return f"{colour}{text}{_RESET}" if colour else text


@contextlib.contextmanager
def _console_logging(err: IO[str], verbose: bool) -> Iterator[None]:
    handler = logging.StreamHandler(err)
    handler.setFormatter(_ConsoleFormatter(colour=_is_terminal(err)))
    logger = logging.getLogger("hotbus")
    previous = (logger.level, logger.propagate)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]


def _is_terminal(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty() and os.environ.get("NO_COLOR") is None
    except (AttributeError, ValueError):
        return False


@dataclass(slots=True)
class _Streams:
    source: IO[str] | None
    out: IO[str]
    err: IO[str]
    #: The process's own console: stopping may end the process by force (never in-process).
    process: bool = False
    #: Line editing, when stdin and stdout are the process's own terminal.
    terminal: Terminal | None = None

    def restore(self) -> None:
        """Put the terminal back as it was (when lines were edited on it)."""
        if self.terminal is not None:
            self.terminal.restore()


def _open_jsonl(target: str) -> IO[str]:
    try:
        return Path(target).open("w", encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"cannot write the events file '{target}': {error.strerror}; give a path in an "
            "existing, writable directory, or '-' for stdout"
        ) from None


#: The variable holding the token of ``--dashboard`` (a secret: never printed back).
DASHBOARD_TOKEN_VARIABLE: Final = "HOTBUS_DASHBOARD_TOKEN"


def _dashboard(options: argparse.Namespace, runtime: Runtime) -> Dashboard | None:
    """The `Dashboard` that ``--dashboard`` asks for, or None."""
    if options.dashboard is None:
        return None
    host, port = options.dashboard
    token = os.environ.get(DASHBOARD_TOKEN_VARIABLE) or None
    return Dashboard(runtime, host=host, port=port, token=token)


def _announce(dashboard: Dashboard) -> None:
    """The console line with the dashboard's address (with its token only when it made one)."""
    if dashboard.token is None:
        console_log.info("🌐 dashboard: %s", dashboard.url)
    elif os.environ.get(DASHBOARD_TOKEN_VARIABLE):
        console_log.info("🌐 dashboard: %s (token: $%s)", dashboard.url, DASHBOARD_TOKEN_VARIABLE)
    else:
        console_log.info(
            "🌐 dashboard: %s (a new token, in the address: keep it secret)", dashboard.login_url
        )


async def _serve_chat(
    runtime: Runtime,
    irc: Transport | None,
    console: ConsoleTransport,
    io: _Streams,
    stopper: _Stopper,
) -> None:
    """Serve the chat on IRC (if asked for) and the console until the input ends (the console
    serves when there is no IRC, or stdin is a terminal), or else until a stop is asked for."""
    transports: list[Transport] = [] if irc is None else [irc]
    if irc is None or _is_tty(io.source):
        transports.append(console)
    chat = ChatHost(runtime, transports)
    console.ready = partial(chat.commands_done, console.name)
    async with chat:
        if console.name in chat.served:
            await chat.served[console.name]
        else:  # IRC alone: until a stop is asked for
            await stopper.stop.wait()


def _say(message: str) -> None:
    """One line of the command's own on the console (stderr), from any thread."""
    console_log.warning("%s", message)


async def _run(
    options: argparse.Namespace, dirs: list[Path], config: Path | None, io: _Streams
) -> int:
    """Serve until the input ends or a stop is asked for; the exit status.

    ``PIPE_CLOSED`` when stdout's reader went away (the runtime then stops), ``EVENTS_LOST``
    when the ``--events-jsonl`` file could not be written, else 0.
    """
    fleet = _fleet_target(options)  # before anything starts: a usage error says what is wrong
    bus = Bus()
    runtime = Runtime(
        dirs,
        config_file=config,
        bus=bus,
        debounce_ms=options.debounce,
        watch=False if options.no_watch else None,
        hot_patch=False if options.no_hot_patch else None,
        stage_ahead=False if options.no_stage_ahead else None,
        state_db=options.state_db,
        persist_state=False if options.no_state_db else (True if options.state_db else None),
        irc=options.irc,
        nick=options.nick,
    )
    irc = _irc_transport(runtime.settings)
    stopper = _Stopper(asyncio.get_running_loop(), io, lambda: runtime.settings.stop_timeout_s)
    output = Output(io.out, on_closed=lambda: stopper.ask("stdout closed", PIPE_CLOSED))
    target: str | None = options.events_jsonl
    events = EventsFile(target, _open_jsonl(target), _say) if target and target != "-" else None
    jsonl = output if target == "-" else events

    def write_json(event: Event) -> None:
        assert jsonl is not None
        jsonl.line(event_json(event))

    if jsonl is not None:
        bus.subscribe(">", write_json, owner=RUNTIME, priority=1 << 40)
    loop = asyncio.get_running_loop()

    def ended() -> None:
        stopper.arm("end of input", 1)

    console = ConsoleTransport(
        options.user or _user_name(),
        lambda: start_reader(io.source, loop, ended, _say, io.terminal),
        stopper.stop,
        lambda: runtime.settings.quiesce_timeout_s,
        None if jsonl is output else output.line,
    )
    dashboard = _dashboard(options, runtime)
    with _console_logging(io.err, options.verbose), stopper.signals():
        try:
            async with contextlib.AsyncExitStack() as serving:
                if dashboard is not None:
                    await serving.enter_async_context(dashboard)
                    _announce(dashboard)
                await serving.enter_async_context(runtime)
                if _is_terminal(io.source):
                    print(
                        "type a message (try !help), edit a plugin to reload it; "
                        "Ctrl+D or Ctrl+C to quit",
                        file=io.err,
                    )
                bridge = None if fleet is None else await _join_fleet(fleet, runtime)
                if dashboard is not None:
                    dashboard.fleet = bridge  # the page lists every host's plugins too
                try:
                    await _serve_chat(runtime, irc, console, io, stopper)
                    await runtime.stop(reason=stopper.reason or "exit")
                finally:
                    if bridge is not None:  # after the stop: the fleet sees the plugins go
                        await bridge.stop()
        finally:
            stopper.disarm()
            io.restore()
            if events is not None:
                events.close()
    if output.closed:
        return PIPE_CLOSED
    return EVENTS_LOST if events is not None and events.failed else 0


_NICK: Final = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*")


def _irc_transport(settings: Settings) -> Transport | None:
    """The IRC transport the settings ask for (``irc``, ``nick``), if any."""
    if settings.irc is None:
        return None
    try:
        from hotbus.runtime._chat.irc import IrcAddress, IrcSecrets, IrcTransport
    except ImportError as error:
        raise UsageError(
            f"the IRC transport needs {error.name}: install hotbus with its irc extra "
            "(pip install 'hotbus[irc]')"
        ) from None
    try:
        address = IrcAddress.parse(settings.irc)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if not _NICK.fullmatch(settings.nick):
        raise UsageError(
            f"{settings.nick!r} is not an IRC nick: letters, digits and []\\`_^{{|}}- only, "
            "not starting with a digit or -"
        )
    return IrcTransport(address, settings.nick, secrets=IrcSecrets.from_env())


def _is_tty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


def _fleet_target(options: argparse.Namespace) -> tuple[Any, str, str] | None:
    """``(NatsTarget, host, fleet)`` when ``--nats`` is given, checked; else None."""
    if not options.nats:
        return None
    import socket

    from hotbus.runtime._fleet.names import DEFAULT_FLEET, NatsTarget, check_name, import_nats

    import_nats()
    host = options.host or "".join(
        c if c.isalnum() or c in "_-" else "-" for c in socket.gethostname()
    )
    fleet = options.fleet or DEFAULT_FLEET
    return NatsTarget.parse(options.nats), check_name("host", host), check_name("fleet", fleet)


async def _join_fleet(fleet: tuple[Any, str, str], runtime: Runtime) -> Any:
    """The started `FleetBridge` of ``runtime`` in the fleet."""
    from hotbus.runtime._fleet.bridge import FleetBridge

    target, host, name = fleet
    settings = runtime.settings
    bridge = FleetBridge(
        runtime,
        target,
        host=host,
        fleet=name,
        topics=settings.fleet_topics,
        outbox=settings.fleet_outbox,
    )
    try:
        await bridge.start()
    except OSError as error:
        raise UsageError(str(error)) from None
    return bridge


@final
class _Stopper:
    """Ends ``hotbus run`` in bounded time, whatever plugins do.

    The first Ctrl+C or SIGTERM, or the end of the input, asks for a stop (`stop` is set) and
    arms a deadline: past ``stop_timeout_s`` the process exits without waiting any longer,
    naming what held it up. A second signal exits at once. The signal handlers are Python's
    own (not the loop's), so that they run even while plugin code holds the event loop.
    """

    __slots__ = ("_armed", "_deadline_s", "_io", "_loop", "_signals", "_timer", "reason", "stop")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, io: _Streams, deadline_s: Callable[[], float]
    ) -> None:
        self._loop = loop
        self._io = io
        self._deadline_s = deadline_s  # read when armed: the setting may change while running
        self._armed = threading.Lock()  # taken, without blocking, by the first stop asked for
        self._timer: threading.Timer | None = None
        self._signals = 0
        #: Set once a stop is asked for.
        self.stop = asyncio.Event()
        #: Why it stops (``signal SIGINT``, ``end of input``), once asked.
        self.reason = ""

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM inside the block (when running on the main thread)."""
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                previous[number] = signal.signal(number, self._on_signal)
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _on_signal(self, number: int, frame: Any) -> None:
        name = signal.Signals(number).name
        self._signals += 1
        if self._signals > 1:
            self._exit(128 + number, f"second {name}: exiting at once")
        self.ask(f"signal {name}", 128 + number)

    def ask(self, reason: str, code: int) -> None:
        """Ask for a stop (from any thread, or a signal handler), and `arm` the deadline."""
        self.arm(reason, code)
        with contextlib.suppress(RuntimeError):  # the loop closed: it is stopping anyway
            self._loop.call_soon_threadsafe(self.stop.set)

    def arm(self, reason: str, code: int) -> None:
        """Start the deadline (once, from any thread): the process ends past it, with ``code``.

        The end of the input arms it from the reader's thread, so that it runs even while
        plugin code holds the event loop (the chat loop itself then stops the runtime).
        """
        if not self._armed.acquire(blocking=False):
            return
        self.reason = reason
        if self._io.process:
            timer = threading.Timer(self._deadline_s(), self._expire, args=(code,))
            timer.name = "hotbus-stop-deadline"
            timer.daemon = True
            self._timer = timer
            timer.start()

    def disarm(self) -> None:
        """The run ended in time: no deadline any more."""
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self, code: int) -> None:
        held = describe_loop(self._loop, threading.main_thread().ident or 0, _module_owner)
        where = ""
        if held is not None:
            plugin, doing, found = held
            where = f"; the event loop is held by {plugin} ({doing} at {found.file}:{found.line})"
        self._exit(
            code,
            f"still stopping after {self._deadline_s():g} s (stop_timeout_s): exiting without "
            f"waiting any longer{where}",
        )

    def _exit(self, code: int, message: str) -> None:
        if not self._io.process:
            return  # in-process (tests): never end the process hosting it
        self._io.restore()
        with contextlib.suppress(Exception):
            print(f"hotbus: {message}", file=self._io.err, flush=True)
        with contextlib.suppress(Exception):
            self._io.out.flush()
        os._exit(code)


def _module_owner(module: str) -> str:
    """The plugin a plugin module belongs to, by its file's name (enough for a last message)."""
    return module.rsplit(".", 1)[-1]


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "you"
