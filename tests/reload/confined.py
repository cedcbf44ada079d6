"""Scenarios that need a process of their own: run as ``python confined.py <scenario>``.

Each confines itself before it starts a runtime, then prints one JSON object, with ``skip``
set to the reason when the confinement is not possible here:

- ``watch-limit-at-start`` / ``watch-limit-after-start``: in a user namespace of its own, the
  kernel's inotify watch limit (``/proc/sys/user/max_inotify_watches``, which counts for this
  namespace only) is lowered so that a subdirectory of the plugin directory cannot be watched,
  at start or once the runtime runs;
- ``unreadable``: as an unprivileged user (root reads a ``chmod 000`` file anyway), a plugin
  file that cannot be read, at start and when it is saved so.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

CLONE_NEWUSER = 0x10000000
WATCH_LIMIT = Path("/proc/sys/user/max_inotify_watches")
NOBODY = 65534
TIMEOUT = 5.0
#: What a runtime imports on the way (the interpreter may live in a directory only root reads).
PRELOADED = (
    "concurrent.futures.thread",
    "hotbus.runtime._runtime",  # hotbus.runtime imports its names when first used
    "watchdog.observers",
    "watchdog.observers.inotify",
    "watchdog.observers.polling",
)

PLUGIN = """
from hotbus import Plugin


class {cls}(Plugin):
    name = {name!r}
    version = "1.0.{value}"
"""


def plugin(name: str, value: int) -> str:
    """The source of plugin ``name`` at version ``1.0.<value>``."""
    return PLUGIN.format(cls=name.title(), name=name, value=value)


def versions(event: Any) -> list[tuple[str, str | None]]:
    """``(plugin, declared new version)`` of each change of a commit."""
    return [(c.plugin, (c.new_version or "").split("+")[0] or None) for c in event.changes]


def confine_watches() -> str:
    """Enter a user namespace of our own, where the watch limit is ours to lower; or why not."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER) != 0:
        return f"cannot enter a user namespace: {os.strerror(ctypes.get_errno())}"
    try:
        WATCH_LIMIT.write_text("1000")
    except OSError as error:
        return f"cannot set {WATCH_LIMIT} in a user namespace: {error}"
    return ""


def limit_watches(count: int) -> None:
    """Let this namespace hold at most ``count`` inotify watches from now on."""
    WATCH_LIMIT.write_text(str(count))


async def watch_limit(directory: Path, *, at_start: bool) -> dict[str, Any]:
    from hotbus import Runtime
    from hotbus.schemas import ReloadCommitted, WatcherFellBack

    plugins = directory / "plugins"
    (plugins / "deep" / "deeper").mkdir(parents=True)  # three directories to watch
    (plugins / "p.py").write_text(plugin("p", 1))
    if at_start:
        limit_watches(2)
    runtime = Runtime([plugins], entry_points=False, config_file=None)
    with runtime.bus.record("hotbus.>") as events:
        async with runtime:
            before = runtime.observer
            if not at_start:
                limit_watches(3)  # all in use: the next directory cannot be watched
                (plugins / "pkg").mkdir()
                (plugins / "pkg" / "__init__.py").write_text(plugin("pkg", 1))
            fell_back = await events.wait_for(WatcherFellBack, timeout=TIMEOUT)
            limit_watches(1000)
            if not at_start:
                await events.wait_for(
                    ReloadCommitted, lambda e: ("pkg", "1.0.1") in versions(e), timeout=TIMEOUT
                )
            (plugins / "p.py").write_text(plugin("p", 2))
            await events.wait_for(
                ReloadCommitted, lambda e: ("p", "1.0.2") in versions(e), timeout=TIMEOUT
            )
            return {
                "observer": [before, runtime.observer],
                "error": fell_back.error.message,
                "hint": fell_back.hint,
                "watching": runtime.watching,
            }


def drop_privileges() -> str:
    """Run as an unprivileged user from now on, for whom ``chmod 000`` means it; or why not."""
    if os.getuid() == 0:
        # What is imported later may be where the unprivileged user cannot read: now, then.
        for module in PRELOADED:
            importlib.import_module(module)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        except OSError as error:
            return f"cannot drop root privileges: {error}"
    with tempfile.NamedTemporaryFile() as probe:
        os.chmod(probe.name, 0)
        try:
            Path(probe.name).read_bytes()
        except PermissionError:
            return ""
    return "files with mode 000 are still readable to this process"


async def unreadable_files(directory: Path) -> dict[str, Any]:
    from hotbus import Runtime
    from hotbus.schemas import FileUnreadable, PluginFailed, ReloadCommitted

    plugins = directory / "plugins"
    plugins.mkdir()
    (plugins / "p.py").write_text(plugin("p", 1))
    (plugins / "q.py").write_text(plugin("q", 1))
    (plugins / "q.py").chmod(0)
    runtime = Runtime([plugins], entry_points=False)
    with runtime.bus.record("hotbus.>") as events:
        async with runtime:
            failed = events.of(PluginFailed)
            saved = plugins / ".p.py.tmp"  # an atomic save of a file nobody may read
            saved.write_text(plugin("p", 2))
            saved.chmod(0)
            saved.replace(plugins / "p.py")
            told = await events.wait_for(FileUnreadable, timeout=TIMEOUT)
            await runtime.idle()
            serving = [(row.name, row.state, row.version) for row in runtime.status()]
            (plugins / "p.py").chmod(0o644)
            await events.wait_for(
                ReloadCommitted, lambda e: ("p", "1.0.2") in versions(e), timeout=TIMEOUT
            )
            (plugins / "q.py").chmod(0o644)
            await events.wait_for(
                ReloadCommitted, lambda e: ("q", "1.0.1") in versions(e), timeout=TIMEOUT
            )
            return {
                "failed": [(f.plugin, f.phase, f.error.message) for f in failed],
                "told": [told.path.name, told.error.message],
                "serving": [
                    (name, state, (version or "").split("+")[0]) for name, state, version in serving
                ],
            }


def main(scenario: str) -> dict[str, Any]:
    if scenario.startswith("watch-limit"):
        why = confine_watches()
        if why:
            return {"skip": why}
        with tempfile.TemporaryDirectory() as directory:
            return asyncio.run(
                watch_limit(Path(directory), at_start=scenario == "watch-limit-at-start")
            )
    if scenario == "unreadable":
        why = drop_privileges()
        if why:
            return {"skip": why}
        with tempfile.TemporaryDirectory() as directory:
            return asyncio.run(unreadable_files(Path(directory)))
    raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
