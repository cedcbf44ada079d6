"""Builders of the cascade tests: plugin sources, the two graphs, and views of recorded events."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from hotbus import Runtime
from hotbus.bus import Recorder
from hotbus.schemas import (
    Event,
    FileSettled,
    PluginFailed,
    PluginState,
    PluginStateChanged,
    ReloadCommitted,
    ReloadPlanned,
    ReloadReason,
    ReloadRejected,
    ReloadRequested,
    ReloadRolledBack,
    SettleOutcome,
)
from hotbus.testing import Harness, PluginDir

from tests.cascade.events import Answer, Ask

__all__ = [
    "CHAIN",
    "DIAMOND",
    "OUTCOMES",
    "answers",
    "ask",
    "describe",
    "moved",
    "outcome",
    "plugin_source",
    "publish_together",
    "request",
    "running",
    "sequence",
    "settle",
    "setups",
    "since",
    "states",
    "teardowns",
    "touched",
    "versions",
    "write_chain",
    "write_diamond",
]

S = PluginState

#: ``a <- b <- c``: b requires a, c requires b (dependency order).
CHAIN: dict[str, tuple[str, ...]] = {"a": (), "b": ("a",), "c": ("b",)}
#: ``a <- b, a <- c, b,c <- d`` (dependency order).
DIAMOND: dict[str, tuple[str, ...]] = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}
#: The topics that end a reload transaction.
OUTCOMES: Final = frozenset(
    {"hotbus.reload.committed", "hotbus.reload.rejected", "hotbus.reload.rolled_back"}
)


def plugin_source(
    name: str,
    *,
    requires: Iterable[str] = (),
    value: int = 1,
    imports: Iterable[str] = (),
    setup: str = "",
    version: str = "1.0.0",
) -> str:
    """The source of plugin ``name``, which answers `Ask` events addressed to it.

    Its module defines ``VALUE = value``; ``value()`` returns it. The answer carries that value,
    the number of times the plugin was asked (state handed over across reloads), what
    ``ctx.get_plugin(dep).value()`` returns for each required ``dep``, and the ``VALUE`` of each
    plugin module in ``imports`` (imported with ``from . import <name> as <name>_module``).
    ``setup`` is extra code run at the end of ``setup``.
    """
    requires = tuple(requires)
    imports = tuple(imports)
    deps = [r.split(">=")[0] for r in requires]
    cls = name.title()
    import_lines = "".join(f"from . import {m} as {m}_module\n" for m in imports)
    imported = ", ".join(f"{m!r}: {m}_module.VALUE" for m in imports)
    extra = textwrap.indent(textwrap.dedent(setup).strip("\n"), " " * 8)
    return (
        f'"""Cascade test plugin {name}."""\n\n'
        "from hotbus.runtime import Plugin, State, subscribe\n"
        "from tests.cascade import faults\n"
        "from tests.cascade.events import Answer, Ask\n"
        f"{import_lines}\n"
        f"VALUE = {value}\n\n\n"
        f"class {cls}State(State):\n"
        "    hits: int = 0\n\n\n"
        f"class {cls}(Plugin):\n"
        f"    name = {name!r}\n"
        f"    version = {version!r}\n"
        f"    requires = {requires!r}\n"
        f"    state_model = {cls}State\n\n"
        "    async def setup(self) -> None:\n"
        f"        faults.check('setup {name}')\n"
        "        self.hits = 0\n"
        f"{extra}\n\n"
        "    async def teardown(self) -> None:\n"
        f"        faults.check('teardown {name}')\n\n"
        f"    async def export_state(self) -> {cls}State:\n"
        f"        faults.check('export {name}')\n"
        f"        return {cls}State(hits=self.hits)\n\n"
        f"    async def import_state(self, state: {cls}State) -> None:\n"
        "        self.hits = state.hits\n\n"
        "    def value(self) -> int:\n"
        "        return VALUE\n\n"
        "    @subscribe(Ask)\n"
        "    async def on_ask(self, event: Ask) -> None:\n"
        "        if event.plugin != self.name:\n"
        "            return\n"
        "        self.hits += 1\n"
        "        await self.ctx.publish(\n"
        "            Answer(\n"
        "                plugin=self.name,\n"
        "                value=VALUE,\n"
        "                hits=self.hits,\n"
        f"                looked_up={{d: self.ctx.get_plugin(d).value() for d in {deps!r}}},\n"
        f"                imported={{{imported}}},\n"
        "            )\n"
        "        )\n"
    )


def write_chain(plugin_dir: PluginDir, *, a_value: int = 1, c_setup: str = "") -> None:
    """Write ``a <- b <- c``; each dependent looks its dependency up (and c runs ``c_setup``)."""
    plugin_dir.write("a.py", plugin_source("a", value=a_value))
    plugin_dir.write("b.py", plugin_source("b", requires=["a"], value=20))
    plugin_dir.write("c.py", plugin_source("c", requires=["b"], value=300, setup=c_setup))


def write_diamond(plugin_dir: PluginDir) -> None:
    """Write ``a <- b, a <- c, b,c <- d``."""
    for name, requires in DIAMOND.items():
        plugin_dir.write(f"{name}.py", plugin_source(name, requires=requires))


async def ask(harness: Harness, plugin: str) -> Answer:
    """Publish `Ask` for ``plugin`` and return its one answer."""
    before = len(harness.events.of(Answer))
    await harness.bus.publish(Ask(plugin=plugin))
    await harness.bus.join()  # the plugins' mailboxes
    answers = [a for a in harness.events.of(Answer)[before:] if a.plugin == plugin]
    assert len(answers) == 1, f"{plugin} answered {len(answers)} times"
    return answers[0]


async def answers(harness: Harness, plugins: Iterable[str]) -> dict[str, Answer]:
    """`ask` each of ``plugins``, by name."""
    return {plugin: await ask(harness, plugin) for plugin in plugins}


def _is_outcome(event: Event) -> bool:
    return event.topic in OUTCOMES


async def outcome(harness: Harness) -> Event:
    """The next outcome of a reload transaction: committed, rejected or rolled back."""
    return await harness.wait_for("hotbus.reload.>", _is_outcome, timeout=10.0)


async def publish_together(harness: Harness, events: Sequence[Event]) -> Event:
    """Publish ``events`` back to back, without a pause between them; returns the first.

    They are queued with ``publish_nowait`` and delivered one after the other before anything
    else runs, the way the debouncer hands over the paths that settle together.
    """
    for event in events:
        harness.bus.publish_nowait(event)
    await harness.bus.join()
    return events[0]


async def settle(harness: Harness, *paths: Path) -> Event:
    """Publish ``hotbus.file.settled`` (changed) for ``paths`` together; returns the first."""
    return await publish_together(
        harness,
        [FileSettled(path=p.resolve(), outcome=SettleOutcome.CHANGED, absorbed=1) for p in paths],
    )


async def request(harness: Harness, *plugins: str) -> Event:
    """Publish ``hotbus.reload.requested`` for ``plugins`` together; returns the first."""
    return await publish_together(
        harness, [ReloadRequested(plugin=p, reason=ReloadReason.MANUAL) for p in plugins]
    )


def running(harness: Harness) -> Runtime:
    """The harness's runtime (started)."""
    assert harness.runtime is not None, "start the harness first"
    return harness.runtime


def versions(harness: Harness) -> dict[str, str | None]:
    """Every plugin's version, by name."""
    return {row.name: row.version for row in running(harness).status()}


def states(harness: Harness) -> dict[str, PluginState]:
    """Every plugin's state, by name."""
    return {row.name: row.state for row in running(harness).status()}


def describe(event: Event) -> str:
    """A one-line description of ``event``: its topic and what a cascade test checks of it."""
    if isinstance(event, PluginStateChanged):
        return f"state {event.plugin} {event.previous}->{event.state}"
    if isinstance(event, FileSettled):
        return f"settled {event.path.name} {event.outcome}"
    if isinstance(event, ReloadRequested):
        return f"requested {event.plugin} {event.action} ({event.reason})"
    if isinstance(event, ReloadPlanned):
        return (
            f"planned triggers={','.join(event.triggers)} members={','.join(event.members)} "
            f"joining={','.join(event.joining)}"
        )
    if isinstance(event, ReloadCommitted):
        return f"committed {','.join(change.plugin for change in event.changes)}"
    if isinstance(event, ReloadRejected):
        return f"rejected {event.plugin} at {event.phase} members={','.join(event.members)}"
    if isinstance(event, ReloadRolledBack):
        return f"rolled_back {event.plugin} at {event.phase} restored={','.join(event.members)}"
    if isinstance(event, PluginFailed):
        return f"failed {event.plugin} at {event.phase}"
    return event.topic


def since(recorder: Recorder, start: Event) -> list[Event]:
    """The events recorded from ``start`` (included) on."""
    return recorder.events[recorder.events.index(start) :]


def sequence(recorder: Recorder, start: Event, until: str = "hotbus.runtime.stopping") -> list[str]:
    """`describe` of every event recorded from ``start`` up to (excluding) topic ``until``.

    Saving the plugins' state (``hotbus.state.*``, after a commit) is no step of a reload and
    comes when the transaction is done, whenever that is: it is left out.
    """
    found: list[str] = []
    for event in since(recorder, start):
        if event.topic == until:
            break
        if not event.topic.startswith("hotbus.state."):
            found.append(describe(event))
    return found


def moved(recorder: Recorder, start: Event, previous: PluginState, state: PluginState) -> list[str]:
    """The plugins that went ``previous -> state`` since ``start``, in order."""
    return [
        event.plugin
        for event in since(recorder, start)
        if isinstance(event, PluginStateChanged)
        and (event.previous, event.state) == (previous, state)
    ]


def teardowns(recorder: Recorder, start: Event) -> list[str]:
    """The plugins taken down (active -> stopping) since ``start``, in order."""
    return moved(recorder, start, S.ACTIVE, S.STOPPING)


def setups(recorder: Recorder, start: Event) -> list[str]:
    """The plugins brought up (starting -> active) since ``start``, in order."""
    return moved(recorder, start, S.STARTING, S.ACTIVE)


def touched(recorder: Recorder, start: Event) -> list[str]:
    """The plugins with any state transition since ``start``, in order."""
    return [e.plugin for e in since(recorder, start) if isinstance(e, PluginStateChanged)]
