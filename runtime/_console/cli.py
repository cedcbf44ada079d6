"""The ``hotbus`` command: ``run`` (a live console chat host), ``check`` and ``events``.

`cli` takes the arguments and the streams, so tests run it in-process; `main` is the console
entry point.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, Final

from hotbus.runtime._console.exits import PIPE_CLOSED, USAGE, UsageError

__all__ = ["cli", "main"]

_DEFAULT_DIR: Final = Path("plugins")


def _version() -> str:
    try:
        return version("hotbus")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would sys.exit() itself
        raise UsageError(f"{message}\n{self.format_usage().rstrip()}")


#: The settings of hotbus.toml, each also a ``HOTBUS_<SETTING>`` variable (a test keeps this
#: list equal to the `Settings` model's, which ``--help`` must not import).
SETTINGS: Final = (
    "plugin_dirs",
    "config_file",
    "watch",
    "debounce_ms",
    "modified_debounce_ms",
    "delete_window_ms",
    "max_wait_windows",
    "reload_loop_limit",
    "reload_backoff_max_s",
    "setup_timeout_s",
    "teardown_timeout_s",
    "quiesce_timeout_s",
    "import_timeout_s",
    "stall_threshold_ms",
    "stall_limit_s",
    "stop_timeout_s",
    "entry_points",
    "hot_patch",
    "stage_ahead",
    "leak_check",
    "persist_state",
    "state_db",
    "state_save_interval_s",
    "admins",
    "command_rate_per_min",
    "irc",
    "nick",
    "fleet_topics",
    "fleet_outbox",
)
_DIRS_HELP: Final = (
    "directories holding plugin modules and packages (default: the directories in "
    "$HOTBUS_PLUGIN_DIRS, else ./plugins)"
)
_CONFIG_HELP: Final = (
    "the hotbus.toml to use (default: $HOTBUS_CONFIG_FILE, else the hotbus.toml of the first "
    "plugin directory, else of the working directory, else none)"
)


def _wrapped(words: str, indent: int = 2) -> str:
    import textwrap

    return textwrap.fill(words, 78, initial_indent=" " * indent, subsequent_indent=" " * indent)


def _configuration_help() -> str:
    return "\n".join(
        [
            "configuration:",
            _wrapped(
                "Settings resolve in this order: the options above, then HOTBUS_<SETTING> "
                "environment variables, then the top of hotbus.toml, then defaults. "
                "[plugins.<name>] tables of hotbus.toml configure each plugin. The settings: "
                + ", ".join(SETTINGS)
                + "."
            ),
            "",
            "environment:",
            "  HOTBUS_CONFIG_FILE    the hotbus.toml to use (when --config is not given)",
            f"  HOTBUS_PLUGIN_DIRS    plugin directories, separated by '{os.pathsep}' (when "
            "none is given)",
            "  HOTBUS_<SETTING>      any setting, e.g. HOTBUS_DEBOUNCE_MS=50, HOTBUS_WATCH=false",
            "  HOTBUS_DASHBOARD_TOKEN  the token of --dashboard (else one is made, on a "
            "non-loopback address)",
            "  HOTBUS_IRC_PASSWORD   the IRC server's password (a secret: never shown)",
            "  HOTBUS_IRC_SASL_USER, HOTBUS_IRC_SASL_PASSWORD",
            "                        SASL PLAIN credentials on IRC (the password never shown)",
            "  NO_COLOR              no colours on stderr, even on a terminal",
        ]
    )


def _parser() -> _Parser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="hotbus",
        description="A Python plugin runtime in which reload is just another event.",
        epilog="Run 'hotbus COMMAND --help' for a command's arguments, its configuration and "
        "its exit statuses.",
    )
    parser.add_argument("--version", action="version", version=f"hotbus {_version()}")
    commands = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        parser_class=_Parser,
        help="what to do (each has its own --help):",
    )

    run = commands.add_parser(
        "run",
        help="run the console chat host on plugin directories, reloading plugins as you edit",
        description=_wrapped(
            "Each line of stdin is a chat message; plugins answer on stdout, and the console "
            "shows every step on stderr. Edit a plugin and save it: it reloads. Ctrl+D (the "
            "end of the input, or a closed stdin) or Ctrl+C stops. On a terminal, lines are "
            "edited with readline.",
            indent=0,
        ),
        epilog=_configuration_help()
        + "\n\nexit status:\n"
        + "  0    the run ended (end of input, Ctrl+C, SIGTERM)\n"
        + "  1    events could not be written to --events-jsonl FILE (said once, on stderr)\n"
        + "  2    a usage error: bad arguments, a missing directory or file, invalid settings,\n"
        + "       --nats without nats-py installed or with a server that cannot be reached\n"
        + "  141  stdout was closed by its reader (as a process ended by SIGPIPE): output\n"
        + "       ended quietly and the runtime stopped\n"
        + "  128+N  still stopping stop_timeout_s after signal N: exited without waiting\n"
        + "       (1 when it was the end of the input)",
        formatter_class=formatter,
    )
    run.add_argument("plugin_dirs", nargs="*", type=Path, metavar="PLUGIN_DIR", help=_DIRS_HELP)
    run.add_argument("--config", type=Path, metavar="FILE", help=_CONFIG_HELP)
    run.add_argument(
        "--debounce",
        type=float,
        metavar="MS",
        help="the write window in milliseconds: how long a file must be quiet after a write "
        "before it reloads (setting debounce_ms, default 20)",
    )
    run.add_argument(
        "--no-watch",
        action="store_true",
        help="do not reload plugins when their files change (setting watch = false)",
    )
    run.add_argument(
        "--no-hot-patch",
        action="store_true",
        help="reload every save in full, even one that changes only function bodies (setting "
        "hot_patch = false)",
    )
    run.add_argument(
        "--no-stage-ahead",
        action="store_true",
        help="run a save's module code only once its file settled, not while it settles "
        "(setting stage_ahead = false)",
    )
    run.add_argument(
        "--state-db",
        type=Path,
        metavar="PATH",
        help="the SQLite file plugins' state is kept in across restarts (setting state_db, "
        "default .hotbus/state.sqlite3 beside the config file, else in the first plugin "
        "directory)",
    )
    run.add_argument(
        "--no-state-db",
        action="store_true",
        help="keep no state across restarts (setting persist_state = false)",
    )
    run.add_argument(
        "--events-jsonl",
        metavar="PATH",
        help="write every bus event as one JSON line to PATH, created afresh ('-': to stdout, "
        "instead of the replies)",
    )
    run.add_argument(
        "--dashboard",
        type=_dashboard_address,
        metavar="[HOST:]PORT",
        help="serve the live dashboard in the browser on HOST:PORT (HOST: 127.0.0.1 unless "
        "given; PORT 0 picks a free one); another address than loopback needs a token: "
        "$HOTBUS_DASHBOARD_TOKEN, else a new one, printed (needs pip install "
        "'hotbus[dashboard]')",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", help="also show every small step on stderr"
    )
    run.add_argument("--user", help="the name your chat messages carry (default: your login name)")
    run.add_argument(
        "--irc",
        metavar="URL",
        help="also serve the chat on IRC: irc://HOST:PORT/#channel[,#other], ircs:// for TLS "
        "(setting irc; the server password in $HOTBUS_IRC_PASSWORD, SASL in "
        "$HOTBUS_IRC_SASL_USER and $HOTBUS_IRC_SASL_PASSWORD). The console then chats only "
        "when stdin is a terminal, and the run lasts until Ctrl+C or SIGTERM",
    )
    run.add_argument("--nick", help="the bot's nick on IRC (setting nick, default hotbus)")
    fleet_options = run.add_argument_group(
        "fleet",
        "Bridge the bus to a fleet on NATS JetStream (needs pip install 'hotbus[nats]'): this "
        "host's hotbus.* events (and the fleet_topics setting's) go to the fleet, the other "
        "hosts' come back, and 'hotbus fleet' sees and reloads every host.",
    )
    fleet_options.add_argument(
        "--nats",
        metavar="URL",
        default=os.environ.get("HOTBUS_NATS_URL") or None,
        help="the NATS server, nats://[USER:PASSWORD@]HOST:PORT or tls://... (default: "
        "$HOTBUS_NATS_URL); credentials may also come from HOTBUS_NATS_USER, "
        "HOTBUS_NATS_PASSWORD, HOTBUS_NATS_TOKEN, HOTBUS_NATS_CREDS, HOTBUS_NATS_NKEY, and a CA "
        "file from HOTBUS_NATS_CA",
    )
    fleet_options.add_argument(
        "--host", metavar="NAME", help="this host's name in the fleet (default: the machine's name)"
    )
    fleet_options.add_argument(
        "--fleet", metavar="NAME", help="the fleet to join (default: 'default')"
    )

    check = commands.add_parser(
        "check",
        help="stage every plugin without starting it and report problems",
        description=_wrapped(
            "Compile every plugin, validate its manifest, dependencies and config, and print a "
            "table, then each problem as 'file:line: plugin: what is wrong, how to fix it'. "
            "Nothing is started.",
            indent=0,
        ),
        epilog=_configuration_help()
        + "\n\nexit status:\n"
        + "  0    every plugin is fine\n"
        + "  1    a plugin has a problem\n"
        + "  2    a usage error: bad arguments, a missing directory or file, invalid settings\n"
        + "  141  stdout was closed by its reader",
        formatter_class=formatter,
    )
    check.add_argument("plugin_dirs", nargs="*", type=Path, metavar="PLUGIN_DIR", help=_DIRS_HELP)
    check.add_argument("--config", type=Path, metavar="FILE", help=_CONFIG_HELP)

    events = commands.add_parser(
        "events",
        help="list every event topic",
        description="List every event topic with what it means, or print their JSON Schema.",
        epilog="exit status: 0, or 141 when stdout was closed by its reader",
    )
    events.add_argument(
        "--schema",
        action="store_true",
        help="print the JSON Schema of every event (one document, by topic) instead",
    )
    _add_fleet(commands, formatter)
    return parser


def _dashboard_address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` -> (host, port); HOST defaults to 127.0.0.1, ``[::1]:80`` for IPv6."""
    host, colon, port = text.rpartition(":")
    if not colon:
        host = "127.0.0.1"
    host = host.removeprefix("[").removesuffix("]")
    if not port.isdigit() or int(port) > 65535 or (colon and not host):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not [HOST:]PORT: give a port (0 to 65535, 0 for a free one), "
            "optionally after an address, as in 8080, 127.0.0.1:8080 or 0.0.0.0:8080"
        )
    return host, int(port)


def _add_fleet(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """``hotbus fleet status`` and ``hotbus fleet reload``."""
    fleet = commands.add_parser(
        "fleet",
        help="see and reload the hosts of a fleet on NATS",
        description=_wrapped(
            "Ask a fleet of 'hotbus run --nats' hosts: 'status' lists every host's plugins, "
            "'reload' reloads a plugin on every host that runs it (or one host).",
            indent=0,
        ),
        epilog="exit status:\n"
        + "  0    done: (reload) every host committed\n"
        + "  1    (status) no host has reported; (reload) a host failed or did not answer\n"
        + "  2    a usage error: bad arguments, nats-py not installed, NATS unreachable",
        formatter_class=formatter,
    )
    fleet_commands = fleet.add_subparsers(
        dest="fleet_command", metavar="COMMAND", parser_class=_Parser
    )
    status = fleet_commands.add_parser(
        "status", help="one line per host and plugin: host, plugin, state, version, since"
    )
    reload = fleet_commands.add_parser(
        "reload",
        help="reload a plugin on every host that runs it, and print each host's outcome",
        description=_wrapped(
            "Each host runs the same transaction as a local save and answers with its "
            "outcome (committed, patched, rejected, rolled_back). Exits 0 only if every "
            "host succeeded.",
            indent=0,
        ),
    )
    reload.add_argument("plugin", metavar="PLUGIN", help="the plugin to reload")
    reload.add_argument("--host", metavar="NAME", help="only this host")
    reload.add_argument(
        "--rolling",
        action="store_true",
        help="one host at a time, in name order, stopping at the first that fails (the "
        "hosts after it are left untouched: a canary)",
    )
    reload.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="how long a host gets to answer (default 30); one that does not is named",
    )
    for command in (status, reload):
        command.add_argument(
            "--nats",
            metavar="URL",
            default=os.environ.get("HOTBUS_NATS_URL") or None,
            help="the NATS server (default: $HOTBUS_NATS_URL), as for 'hotbus run --nats'",
        )
        command.add_argument(
            "--fleet", metavar="NAME", default="default", help="the fleet (default: 'default')"
        )


def _resolve_dirs(given: list[Path], err: IO[str]) -> list[Path]:
    dirs = given
    from_env = [Path(p) for p in os.environ.get("HOTBUS_PLUGIN_DIRS", "").split(os.pathsep) if p]
    if not dirs and from_env:
        dirs = from_env
        print(
            f"hotbus: no plugin directory given, using HOTBUS_PLUGIN_DIRS: "
            f"{', '.join(map(str, dirs))}",
            file=err,
        )
    elif not dirs:
        dirs = [_DEFAULT_DIR]
        print(f"hotbus: no plugin directory given, using ./{_DEFAULT_DIR}", file=err)
    for directory in dirs:
        if not directory.is_dir():
            raise UsageError(
                f"plugin directory '{directory}' does not exist: create it, or name an "
                "existing directory"
            )
    return dirs


def _check_config(given: Path | None) -> Path | None:
    if given is not None and not given.is_file():
        raise UsageError(f"config file '{given}' does not exist: create it, or leave --config out")
    return given


def cli(
    *args: str,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run ``hotbus`` with ``args`` (without the program name); returns the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = _parser()
    try:
        with contextlib.redirect_stdout(out):
            options = parser.parse_args(args)
        if options.command is None:
            parser.print_help(out)
            raise UsageError("choose a command: run, check, events or fleet")
        if options.command == "events":
            from hotbus.runtime._console import host

            return host.events(options, out)
        if options.command == "fleet":
            if options.fleet_command is None:
                raise UsageError("choose a fleet command: status or reload")
            if not options.nats:
                raise UsageError("give the NATS server: --nats nats://HOST:PORT")
            from hotbus.runtime._console import fleet

            return fleet.command(options, out)
        dirs = _resolve_dirs(options.plugin_dirs, err)
        config = _check_config(options.config)
        from hotbus.runtime._console import host

        if options.command == "check":
            return host.check(dirs, config, out)
        source = stdin if stdin is not None else sys.stdin
        # The process's own console (no stream given) may be ended by force; in-process, never.
        return host.run(
            options, dirs, config, source=source, out=out, err=err, process=stdin is None
        )
    except UsageError as error:
        print(f"hotbus: error: {error}", file=err)
        return USAGE
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0)
    except BrokenPipeError:  # the reader of stdout went away (hotbus events | head -1)
        from hotbus.runtime._console.streams import silence

        silence(out)
        return PIPE_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point.

    Threads that plugins started and never stopped do not keep the process alive: they are
    named, and the process exits without waiting for them.
    """
    code = cli(*(sys.argv[1:] if argv is None else argv))
    me = threading.current_thread()
    left = [t for t in threading.enumerate() if t is not me and not t.daemon and t.is_alive()]
    if left:
        names = ", ".join(t.name for t in left)
        print(f"hotbus: not waiting for threads left running: {names}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
