"""Plugin sources and views of recorded events shared by the reload tests.

Every plugin written here answers `events.Ask` with an `events.Answer` carrying the VALUE baked
into its source, and declares version ``1.0.<VALUE>``: so a test sees which code serves by
asking, and which version a transaction installed from the event alone.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hotbus import Runtime
from hotbus.bus import Recorder
from hotbus.schemas import Event, FileSettled, PluginStatus, ReloadCommitted
from hotbus.testing import Harness, PluginDir

from tests.reload.events import Answer, Ask

__all__ = [
    "IMPORTS_HELPER",
    "SERVES_HELPER",
    "TIMEOUT",
    "after",
    "answers",
    "barrier",
    "commits_of",
    "committed",
    "plugin_source",
    "settled_for",
    "sha256",
    "status_of",
    "values",
    "version",
    "write_file",
]

#: The limit of every wait: generous, since a wait ends as soon as the event comes.
TIMEOUT = 5.0

E = TypeVar("E", bound=Event)


def version(value: int) -> str:
    """The declared version of a plugin source carrying ``value``."""
    return f"1.0.{value}"


#: A plugin body serving the VALUE of its helper module (with ``header=IMPORTS_HELPER``).
SERVES_HELPER = "def value(self) -> int:\n    return helper.VALUE"
IMPORTS_HELPER = "from . import helper"


def plugin_source(
    value: int,
    *,
    name: str = "p",
    header: str = "",
    body: str = "",
    trailer: str = "",
) -> str:
    """The source of plugin ``name`` that answers `Ask` with ``value``.

    It counts the asks it served and hands the count to its next version (state schema 1); its
    export and teardown fail while ``"export"`` / ``"teardown"`` is in `events.FAULTS`.
    ``header`` goes after the imports, ``body`` into the class (a method there overrides the
    one above), ``trailer`` after the class.
    """
    class_name = "".join(part.title() for part in name.split("_"))
    members = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    return (
        "from hotbus.runtime import Plugin, State, subscribe\n"
        "from tests.reload import events\n"
        f"{textwrap.dedent(header).strip()}\n"
        "\n\n"
        "class Counter(State):\n"
        "    count: int = 0\n"
        "\n\n"
        f"class {class_name}(Plugin):\n"
        f"    name = {name!r}\n"
        f"    version = {version(value)!r}\n"
        "    state_model = Counter\n"
        f"    VALUE = {value}\n"
        "    count = 0\n"
        "\n"
        "    def value(self) -> int:\n"
        "        return self.VALUE\n"
        "\n"
        "    @subscribe('test.ask')\n"
        "    async def on_ask(self, event: events.Ask) -> None:\n"
        "        if event.plugin == self.name:\n"
        "            self.count += 1\n"
        "            answer = events.Answer(\n"
        "                plugin=self.name, value=self.value(), count=self.count\n"
        "            )\n"
        "            await self.ctx.publish(answer)\n"
        "\n"
        "    async def export_state(self) -> Counter:\n"
        "        if 'export' in events.FAULTS:\n"
        "            raise RuntimeError('export failed on purpose')\n"
        "        return Counter(count=self.count)\n"
        "\n"
        "    async def import_state(self, state: Counter) -> None:\n"
        "        self.count = state.count\n"
        "\n"
        "    async def teardown(self) -> None:\n"
        "        if 'teardown' in events.FAULTS:\n"
        "            raise RuntimeError('teardown failed on purpose')\n"
        f"{members}\n"
        f"{textwrap.dedent(trailer)}"
    )


async def answers(runtime: Runtime, plugin: str = "p") -> list[Answer]:
    """Ask ``plugin`` once; every answer that came back (one per version serving)."""
    with runtime.bus.record(Answer) as recorded:
        await runtime.bus.publish(Ask(plugin=plugin))
        await runtime.bus.join()  # the plugins' mailboxes
    return recorded.of(Answer)


async def values(runtime: Runtime, plugin: str = "p") -> list[int]:
    """The values of the answers to one `Ask` (``[]`` when nothing serves ``plugin``)."""
    return [answer.value for answer in await answers(runtime, plugin)]


def committed(plugin: str, value: int | None) -> Callable[[ReloadCommitted], bool]:
    """Matches a commit that put ``plugin`` on version ``1.0.<value>`` (None: unloaded it)."""

    def match(event: ReloadCommitted) -> bool:
        for change in event.changes:
            if change.plugin != plugin:
                continue
            if value is None:
                return change.new_version is None
            return change.new_version is not None and change.new_version.startswith(
                version(value) + "+"
            )
        return False

    return match


def after(recorder: Recorder, mark: int, kind: type[E]) -> list[E]:
    """The events of class ``kind`` recorded since index ``mark``."""
    return [event for event in recorder.events[mark:] if isinstance(event, kind)]


def commits_of(recorder: Recorder, plugin: str, mark: int = 0) -> list[ReloadCommitted]:
    """The commits since ``mark`` that changed ``plugin``."""
    return [
        event
        for event in after(recorder, mark, ReloadCommitted)
        if any(change.plugin == plugin for change in event.changes)
    ]


def settled_for(recorder: Recorder, path: Path, mark: int = 0) -> list[FileSettled]:
    """The `FileSettled` events since ``mark`` for ``path``."""
    return [event for event in after(recorder, mark, FileSettled) if event.path == path]


def status_of(runtime: Runtime, name: str) -> PluginStatus:
    """The status row of plugin ``name``."""
    rows = [row for row in runtime.status() if row.name == name]
    assert rows, f"no plugin {name!r} in {[row.name for row in runtime.status()]}"
    return rows[0]


async def barrier(harness: Harness, plugin_dir: PluginDir, value: int) -> None:
    """Save ``barrier.py`` with ``value`` and wait for its commit.

    Raw file events come in order and a transaction runs only after the one before: once the
    barrier's commit is recorded, everything an earlier save caused has been recorded too.
    """
    await plugin_dir.save("barrier.py", plugin_source(value, name="barrier"))
    await harness.wait_for(ReloadCommitted, committed("barrier", value), timeout=TIMEOUT)


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` in place, flushed to disk (as an editor saving in place)."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def sha256(text: str) -> str:
    """The content hash the debouncer reports for a file holding ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()
