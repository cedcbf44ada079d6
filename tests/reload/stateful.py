"""A state machine that edits a real plugin directory and checks that what runs is what is on disk.

`OnDisk` drives a real `Runtime` with a real watchdog observer over a temporary plugin
directory, saving files with every style of `hotbus.testing.SAVE_STYLES`. Its rules save valid
and broken versions of plugins and of a helper module, body-only edits of a plugin (which a
serving version takes as a hot patch), save several files back to back (a
save-all, a ``git checkout``; some of them unchanged, as an editor saves an unchanged buffer),
save one file several times in quick succession, save a file that reloads others and a few
ms later one of those others (while that reload may be staging), delete and re-create
plugin files, touch them, and ping the plugins. After every step it waits until the
files are quiet and the runtime is idle (a marker file's raw event shows every earlier raw
event has reached the loop; then `Runtime.idle`), and checks the invariant against a model.

The universe: a helper module ``helper.py`` (``TOKEN = "h<n>"``) and four plugins::

    alpha   imports the helper
    beta    requires alpha
    gamma   requires beta
    delta   imports the helper

Every version of a file carries a serial number ``n`` unique in the run: a plugin's version
declares ``1.<n>.0`` and answers a `Ping` with a `fuzz.pong` carrying its token (``"alpha7"``,
or ``"alpha7/h3"`` for the helper's importers) and the count of pings it handled, a declared
`State` (schema 1 or 2) handed from version to version.

A version of a plugin is of one kind: ``good``; ``export_error`` or ``teardown_error`` (it runs
fine, but its ``export_state`` or ``teardown`` raises when it is replaced); or broken:
``syntax`` (a syntax error), ``import_error`` (raises at import), ``no_class`` (no Plugin
subclass), ``setup_error`` (``setup`` raises), ``ghost`` (requires a plugin that does not
exist). A helper version is ``good`` or broken (``syntax``, ``import_error``).

What the model expects, once the files are quiet and the runtime idle, plugin by plugin in
dependency order (alpha, beta, gamma, delta):

- **Startable**: the file exists, its version is good, export_error or teardown_error, the
  helper is good if it imports the helper, and every plugin it requires serves (whatever
  version). It is active, serves exactly the source on disk (its token, and the version hash
  of the bytes on disk, its own and the helper's), and its status has no error. A failing
  member of a transaction, and an old version whose export or teardown raises, do not hold
  it back.
- **Broken**: the file exists but is not startable while what it requires serves. If it
  served before the step (and what it requires still serves), it keeps serving that version
  (or a valid version of it saved during the step, when several saves came in quick
  succession: which of them the runtime saw is timing), its status is active with that
  version, and the status carries an error. If it did not serve, it serves nothing (failed,
  blocked, or unknown when the file defines no plugin class), unless it served before it was
  blocked: started again once what it requires serves, its last good version may serve on.
- **Blocked**: a plugin it requires serves nothing: it serves nothing either (blocked, or
  failed if its own source is broken).
- **Deleted**: the file is gone: the plugin is unknown to the runtime.

Further, after every step:

- each serving plugin answers one ping exactly once (no handler subscribed twice), and a
  plugin that serves nothing does not answer;
- `Runtime.status` agrees with the last ``hotbus.plugin.state`` event of each plugin;
- the ping count survives every reload: it goes on from where it was, unless the plugin
  started fresh (it served nothing before), its state schema changed (no ``migrate_state``),
  or the version it replaced could not export its state (``export_error``).

Each check belongs to a category (`CATEGORIES`); a `Violation` names it. The soak
(``bench/soak.py``) ignores the categories it has found already, to find the next one.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

from hotbus import Event, Runtime
from hotbus.schemas import FileChanged, PluginState, PluginStateChanged
from hotbus.testing import SAVE_STYLES, Harness, PluginDir, SaveStyle
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
)

__all__ = [
    "CATEGORIES",
    "HELPER_KINDS",
    "KINDS",
    "PLUGINS",
    "SETTINGS",
    "OnDisk",
    "Ping",
    "Violation",
    "machine",
]

Kind = Literal[
    "good",
    "export_error",
    "teardown_error",
    "syntax",
    "import_error",
    "no_class",
    "setup_error",
    "ghost",
]
#: Every kind of plugin version; the first ones are what hypothesis shrinks towards.
KINDS: Final[tuple[Kind, ...]] = (
    "good",
    "export_error",
    "teardown_error",
    "syntax",
    "import_error",
    "no_class",
    "setup_error",
    "ghost",
)
#: Kinds that run: a version of these kinds starts and serves.
RUNS: Final = frozenset({"good", "export_error", "teardown_error"})
HelperKind = Literal["good", "syntax", "import_error"]
HELPER_KINDS: Final[tuple[HelperKind, ...]] = ("good", "syntax", "import_error")


@dataclass(frozen=True)
class Spec:
    """A plugin of the universe: what it requires and whether it imports the helper."""

    requires: tuple[str, ...]
    helper: bool


#: The plugins, in dependency order.
PLUGINS: Final[dict[str, Spec]] = {
    "alpha": Spec(requires=(), helper=True),
    "beta": Spec(requires=("alpha",), helper=False),
    "gamma": Spec(requires=("beta",), helper=False),
    "delta": Spec(requires=(), helper=True),
}
HELPER: Final = "helper"

#: Runtime settings of the machine: short windows, so that a step takes little time. The
#: delete window stays above the 50 ms of a truncating save.
SETTINGS: Final[dict[str, Any]] = {
    "debounce_ms": 10.0,
    "delete_window_ms": 100.0,
    "setup_timeout_s": 5.0,
    "teardown_timeout_s": 5.0,
    "quiesce_timeout_s": 2.0,
    "leak_check": False,
}
#: How long one step may take to settle before it counts as a hang.
SETTLE_TIMEOUT_S: Final = 20.0

#: What each check checks; a `Violation` names one.
CATEGORIES: Final[dict[str, str]] = {
    "not-on-disk": "a plugin whose source on disk is valid does not run exactly that source",
    "lost-last-good": "a plugin whose source is broken stopped serving its last good version",
    "silent-broken": "a broken plugin serves its last good version, but its status has no error",
    "stale-error": "a plugin that runs its valid source still reports an error in its status",
    "serves-nothing-expected": "a plugin that should serve nothing answers a ping or is active",
    "not-explained": "a plugin that serves nothing is neither failed nor blocked, or says no why",
    "status-version": "the status reports another version than the one answering",
    "double-delivery": "a plugin answered one ping more than once",
    "status-vs-events": "status() disagrees with the last hotbus.plugin.state event",
    "state-lost": "the declared State's count was reset or went wrong across a reload",
    "deleted-still-known": "a plugin whose file is gone is still known to the runtime",
    "hang": "the runtime did not settle in time",
}


class Violation(AssertionError):
    """Raised when the runtime breaks the invariant; ``category`` is a key of `CATEGORIES`."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(f"[{category}] {message}")
        self.category = category


class Ping(Event):
    """Asks every plugin for its token and count; each answers with a ``fuzz.pong``."""

    topic = "fuzz.ping"

    n: int


# -- sources ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One version of a plugin file: its serial, kind and state schema."""

    name: str
    serial: int
    kind: Kind
    schema: int
    #: Body edits: the serial of the last edit of ``token()``'s body alone (0: none).
    body: int = 0

    @property
    def runs(self) -> bool:
        """Whether this version starts and serves (its dependencies permitting)."""
        return self.kind in RUNS

    def text(self) -> str:
        """The source of this version."""
        spec = PLUGINS[self.name]
        requires = (*spec.requires, "ghost") if self.kind == "ghost" else spec.requires
        token = "self.TOKEN" + (f" + '.b{self.body}'" if self.body else "")
        if spec.helper:
            token += " + '/' + helper.TOKEN"
        base = "Plugin" if self.kind != "no_class" else "object"
        lines = [
            f"# {self.name} version {self.serial}, {self.kind}",
            "from hotbus import Event, Plugin, State, subscribe",
        ]
        if spec.helper:
            lines.append("from . import helper")
        lines += [
            "",
            "",
            "class Pong(Event):",
            "    topic = 'fuzz.pong'",
            "    plugin: str",
            "    token: str",
            "    count: int",
            "    n: int",
            "",
            "",
            "class Counter(State):",
            f"    schema_version = {self.schema}",
            "    count: int = 0",
            "",
            "",
            f"class {self.name.title()}({base}):",
            f"    name = {self.name!r}",
            f"    version = '1.{self.serial}.0'",
            f"    requires = {requires!r}",
            "    state_model = Counter",
            f"    TOKEN = '{self.name}{self.serial}'",
            "",
            "    async def setup(self) -> None:",
            "        self.count = 0",
        ]
        if self.kind == "setup_error":
            lines.append("        raise RuntimeError('setup fails on purpose')")
        lines += [
            "",
            "    def token(self) -> str:",
            f"        return {token}",
            "",
            "    @subscribe('fuzz.ping')",
            "    async def on_ping(self, event: Event) -> None:",
            "        self.count += 1",
            "        pong = Pong(",
            "            plugin=self.name, token=self.token(), count=self.count, n=event.n",
            "        )",
            "        await self.ctx.publish(pong)",
            "",
            "    async def export_state(self) -> Counter:",
        ]
        if self.kind == "export_error":
            lines.append("        raise RuntimeError('export_state fails on purpose')")
        lines += [
            "        return Counter(count=self.count)",
            "",
            "    async def import_state(self, state: State) -> None:",
            "        self.count = getattr(state, 'count', 0)",
            "",
            "    async def teardown(self) -> None:",
        ]
        if self.kind == "teardown_error":
            lines.append("        raise RuntimeError('teardown fails on purpose')")
        else:
            lines.append("        pass")
        if self.kind == "syntax":
            lines += ["", "", "def broken(:"]
        elif self.kind == "import_error":
            lines += ["", "", "raise RuntimeError('fails at import on purpose')"]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class HelperVersion:
    """One version of the helper module."""

    serial: int
    kind: HelperKind

    @property
    def runs(self) -> bool:
        """Whether importing it works."""
        return self.kind == "good"

    def text(self) -> str:
        """The source of this version (it never mentions the plugin base class)."""
        lines = [f"# helper version {self.serial}, {self.kind}", f"TOKEN = 'h{self.serial}'"]
        if self.kind == "syntax":
            lines.append("def broken(:")
        elif self.kind == "import_error":
            lines.append("raise RuntimeError('helper fails at import on purpose')")
        return "\n".join(lines) + "\n"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Running:
    """A version that serves: the plugin's version and, for importers, the helper's."""

    version: Version
    helper: HelperVersion | None

    @property
    def token(self) -> str:
        """What its ``token()`` returns."""
        own = f"{self.version.name}{self.version.serial}"
        if self.version.body:
            own += f".b{self.version.body}"
        return own if self.helper is None else f"{own}/h{self.helper.serial}"

    def expected_version(self, plugin_dir: Path) -> str:
        """The runtime's version string: declared version plus the hash of the files run."""
        files = {plugin_dir / f"{self.version.name}.py": _digest(self.version.text())}
        if self.helper is not None:
            files[plugin_dir / f"{HELPER}.py"] = _digest(self.helper.text())
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(files[path].encode())
        return f"1.{self.version.serial}.0+{digest.hexdigest()[:6]}"


# -- the model -------------------------------------------------------------------------------------


@dataclass
class Model:
    """What is on disk, what serves, and the counts the plugins should report."""

    disk: dict[str, Version | None] = field(default_factory=dict)
    helper: HelperVersion | None = None
    serving: dict[str, Running | None] = field(default_factory=dict)
    #: The last version that served, per plugin whose file exists (across blocked spells).
    last_served: dict[str, Running] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    #: Per plugin that stopped serving (deleted, blocked), its count then and the version that
    #: served: the runtime keeps that state for when it serves again.
    kept: dict[str, tuple[int, Running]] = field(default_factory=dict)
    #: Per plugin, what this step saved (a save-all or a quick succession sees them all).
    saved: dict[str, list[Version]] = field(default_factory=dict)
    saved_helpers: list[HelperVersion] = field(default_factory=list)
    #: Every version written so far, by serial.
    versions: dict[int, Version] = field(default_factory=dict)
    helpers: dict[int, HelperVersion] = field(default_factory=dict)

    def startable(self, version: Version, serving: dict[str, Running | None]) -> bool:
        """Whether ``version`` starts now, given what serves."""
        if not version.runs:
            return False
        spec = PLUGINS[version.name]
        if spec.helper and (self.helper is None or not self.helper.runs):
            return False
        return all(serving.get(r) is not None for r in spec.requires)

    def own_broken(self, version: Version) -> bool:
        """Whether ``version`` fails on its own (its source, the helper, a ghost requirement)."""
        if not version.runs:
            return True
        return PLUGINS[version.name].helper and (self.helper is None or not self.helper.runs)

    def running(self, version: Version) -> Running:
        """``version`` running with the helper on disk (if it imports it)."""
        return Running(version, self.helper if PLUGINS[version.name].helper else None)


# -- the machine -----------------------------------------------------------------------------------

styles = st.sampled_from(SAVE_STYLES)
names = st.sampled_from(tuple(PLUGINS))
kinds = st.sampled_from(KINDS)
helper_kinds = st.sampled_from(HELPER_KINDS)
#: Pauses between saves in quick succession (ms): around the write window of `SETTINGS`.
gaps = st.sampled_from((0, 5, 10, 15, 25, 40))
#: Pauses between a save and a save while its reload stages (ms): just past the write window.
fine_gaps = st.sampled_from((0, 5, 9, 10, 11, 12, 13, 14, 15, 20, 30))
#: What a save of each file reloads with it (helper importers, dependents).
RELOADS: Final[dict[str, tuple[str, ...]]] = {
    HELPER: ("alpha", "delta", "beta", "gamma"),
    "alpha": ("beta", "gamma"),
    "beta": ("gamma",),
}


class OnDisk(RuleBasedStateMachine):
    """Edits a plugin directory under a running `Runtime`; checks what runs after each step."""

    #: Categories of `Violation` not raised (the soak sets them for what it found already).
    ignored: ClassVar[frozenset[str]] = frozenset()
    #: The kinds of version saved; another kind drawn is saved as "good" instead.
    allowed: ClassVar[frozenset[str]] = frozenset(KINDS)
    #: Steps run by every machine of this class, for the soak's count.
    steps: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory(prefix="hotbus-on-disk-")
        self.plugins = PluginDir(Path(self.tmp.name) / "plugins")
        self.path = self.plugins.path.resolve()
        self.harness = Harness(self.plugins)
        self.runtime: Runtime | None = None
        self.model = Model()
        self.serials = itertools.count(1)
        self.marks = itertools.count(1)
        self.pings = itertools.count(1)
        self.last_mark: Path | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @initialize(helper_kind=helper_kinds, initial=st.lists(kinds, min_size=4, max_size=4))
    def start(self, helper_kind: HelperKind, initial: list[Kind]) -> None:
        """Write the helper and every plugin (of the given kinds) and start the runtime."""
        model = self.model
        model.helper = self._new_helper(helper_kind)
        self.plugins.write(f"{HELPER}.py", model.helper.text())
        for name, kind in zip(PLUGINS, initial, strict=True):
            version = self._new_version(name, kind, bump=False)
            self.plugins.write(f"{name}.py", version.text())
            model.disk[name] = version
            model.serving[name] = None
            model.counts[name] = 0
        self.runtime = self._run(self.harness.start(**SETTINGS))
        self._expect()

    def teardown(self) -> None:
        """Stop the runtime, close the loop, remove the directory."""
        try:
            if self.runtime is not None:
                self._run(self.harness.stop())
            self.harness.close()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()
            self.tmp.cleanup()

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    # -- rules ---------------------------------------------------------------------------------

    def _new_version(self, name: str, kind: Kind, bump: bool) -> Version:
        current = self.model.disk.get(name)
        schema = current.schema if current is not None else 1
        if bump:
            schema = 3 - schema  # 1 <-> 2: a state schema change, with no migration
        if kind not in self.allowed:
            kind = "good"
        version = Version(name, next(self.serials), kind, schema)
        self.model.versions[version.serial] = version
        return version

    def _new_helper(self, kind: HelperKind) -> HelperVersion:
        if kind not in self.allowed:
            kind = "good"
        helper = HelperVersion(next(self.serials), kind)
        self.model.helpers[helper.serial] = helper
        return helper

    def _exists(self, name: str) -> bool:
        return self.model.disk.get(name) is not None

    def _begin(self) -> None:
        OnDisk.steps += 1
        self.model.saved = {}
        self.model.saved_helpers = []

    async def _save(self, version: Version, style: SaveStyle) -> None:
        self.model.disk[version.name] = version
        self.model.saved.setdefault(version.name, []).append(version)
        await self.plugins.save(f"{version.name}.py", version.text(), style)

    async def _save_helper(self, version: HelperVersion, style: SaveStyle) -> None:
        self.model.helper = version
        self.model.saved_helpers.append(version)
        await self.plugins.save(f"{HELPER}.py", version.text(), style)

    @precondition(lambda self: self.runtime is not None and self._present())
    @rule(data=st.data(), kind=kinds, style=styles, bump=st.booleans())
    def save_plugin(self, data: st.DataObject, kind: Kind, style: SaveStyle, bump: bool) -> None:
        """Save a new version of a plugin."""
        self._begin()
        name = data.draw(st.sampled_from(self._present()), label="name")
        self._run(self._save(self._new_version(name, kind, bump), style))
        self._expect()

    @precondition(lambda self: self.runtime is not None and self._present())
    @rule(data=st.data(), style=styles)
    def edit_body(self, data: st.DataObject, style: SaveStyle) -> None:
        """Save a plugin's version with only the body of its ``token()`` changed: a version
        that serves is patched in place (its count goes on, whatever its kind)."""
        self._begin()
        name = data.draw(st.sampled_from(self._present()), label="name")
        current = self.model.disk[name]
        assert current is not None
        self._run(self._save(replace(current, body=next(self.serials)), style))
        self._expect()

    @precondition(lambda self: self.runtime is not None)
    @rule(kind=helper_kinds, style=styles)
    def save_helper(self, kind: HelperKind, style: SaveStyle) -> None:
        """Save a new version of the helper module."""
        self._begin()
        self._run(self._save_helper(self._new_helper(kind), style))
        self._expect()

    async def _resave(self, name: str, style: SaveStyle) -> None:
        """Save file ``name`` with the content it has (an editor saving an unchanged file)."""
        current = self.model.helper if name == HELPER else self.model.disk[name]
        assert current is not None
        await self.plugins.save(f"{name}.py", current.text(), style)

    @precondition(lambda self: self.runtime is not None)
    @rule(
        changes=st.lists(
            st.tuples(
                st.sampled_from((*PLUGINS, HELPER)), kinds, styles, st.booleans(), st.booleans()
            ),
            min_size=2,
            max_size=5,
            unique_by=lambda change: change[0],
        )
    )
    def save_all(self, changes: list[tuple[str, Kind, SaveStyle, bool, bool]]) -> None:
        """Save several files back to back (an editor's save-all, a ``git checkout``); those
        marked unchanged are saved with the content they have."""
        self._begin()

        async def save() -> None:
            for name, kind, style, bump, unchanged in changes:
                if unchanged and (name == HELPER or self._exists(name)):
                    await self._resave(name, style)
                elif name == HELPER:
                    helper = self._new_helper(_helper_kind(kind))
                    await self._save_helper(helper, style)
                else:
                    exists = self._exists(name)
                    await self._save(
                        self._new_version(name, kind, bump), style if exists else "in_place"
                    )

        self._run(save())
        self._expect()

    def _reloading_pairs(self) -> list[tuple[str, str]]:
        """(a file, a plugin that a save of that file reloads with it), both present."""
        return [
            (trigger, member)
            for trigger, members in RELOADS.items()
            if trigger == HELPER or self._exists(trigger)
            for member in members
            if self._exists(member)
        ]

    @precondition(lambda self: self.runtime is not None and self._reloading_pairs())
    @rule(data=st.data(), style=styles, gap=fine_gaps, flip=st.booleans())
    def save_while_a_reload_stages(
        self, data: st.DataObject, style: SaveStyle, gap: int, flip: bool
    ) -> None:
        """Save a file that reloads others, and ``gap`` ms later, while that reload may be
        staging, save one of the others: with ``flip``, a new version and at once its
        current content back; else its current content, in ``style``."""
        self._begin()
        trigger, member = data.draw(st.sampled_from(self._reloading_pairs()), label="files")

        async def save() -> None:
            if trigger == HELPER:
                await self._save_helper(self._new_helper("good"), "in_place")
            else:
                await self._save(self._new_version(trigger, "good", False), "in_place")
            await asyncio.sleep(gap / 1000)
            current = self.model.disk[member]
            assert current is not None
            if flip:
                await self._save(self._new_version(member, "good", False), "in_place")
                await self._save(current, "in_place")
            else:
                await self._resave(member, style)

        self._run(save())
        self._expect()

    def _present(self) -> list[str]:
        return [name for name in PLUGINS if self._exists(name)]

    def _absent(self) -> list[str]:
        return [name for name in PLUGINS if not self._exists(name)]

    @precondition(lambda self: self.runtime is not None and self._present())
    @rule(
        data=st.data(),
        saves=st.lists(st.tuples(kinds, styles, gaps, st.booleans()), min_size=2, max_size=4),
        back=st.booleans(),
    )
    def save_in_quick_succession(
        self, data: st.DataObject, saves: list[tuple[Kind, SaveStyle, int, bool]], back: bool
    ) -> None:
        """Save one plugin several times a few ms apart; with ``back``, end on the content it
        had before (the file changes and changes back while the first save settles)."""
        self._begin()
        name = data.draw(st.sampled_from(self._present()), label="name")
        before = self.model.disk[name]
        assert before is not None

        async def save() -> None:
            for kind, style, gap, bump in saves:
                await self._save(self._new_version(name, kind, bump), style)
                await asyncio.sleep(gap / 1000)
            if back:
                await self._save(before, saves[-1][1])

        self._run(save())
        self._expect()

    @precondition(lambda self: self.runtime is not None and self._present())
    @rule(data=st.data())
    def delete_plugin(self, data: st.DataObject) -> None:
        """Delete a plugin's file."""
        self._begin()
        name = data.draw(st.sampled_from(self._present()), label="name")
        self.plugins.delete(f"{name}.py")
        self.model.disk[name] = None
        self._expect()

    @precondition(lambda self: self.runtime is not None and self._absent())
    @rule(data=st.data(), kind=kinds, bump=st.booleans(), moved=st.booleans())
    def create_plugin(self, data: st.DataObject, kind: Kind, bump: bool, moved: bool) -> None:
        """Create a deleted plugin's file again (written in place, or moved in)."""
        self._begin()
        name = data.draw(st.sampled_from(self._absent()), label="name")
        version = self._new_version(name, kind, bump)
        self.model.disk[name] = version
        self.model.saved.setdefault(name, []).append(version)
        if moved:
            outside = Path(self.tmp.name) / f"{name}.py"
            outside.write_text(version.text(), encoding="utf-8")
            self.plugins.move_in(outside, f"{name}.py")
        else:
            self.plugins.write(f"{name}.py", version.text())
        self._expect()

    @precondition(lambda self: self.runtime is not None)
    @rule(data=st.data())
    def touch(self, data: st.DataObject) -> None:
        """Touch a file: its modification time changes, its content does not."""
        self._begin()
        name = data.draw(st.sampled_from((*self._present(), HELPER)), label="name")
        self.plugins.touch(f"{name}.py")
        self._expect()

    @precondition(lambda self: self.runtime is not None)
    @rule(times=st.integers(min_value=1, max_value=3))
    def ping(self, times: int) -> None:
        """Ping the plugins a few times: their counts go up."""
        self._begin()
        for _ in range(times):
            self._run(self._check())

    # -- waiting -------------------------------------------------------------------------------

    async def _settle(self) -> None:
        """Wait until every raw event of the step reached the loop, then until all is idle.

        A marker file written last: watchdog reports the events of one directory in order,
        so once the marker's own event is recorded, every earlier one has reached the loop.
        """
        runtime = self.runtime
        assert runtime is not None
        mark = self.plugins.write(f"mark-{next(self.marks)}.txt", "mark\n").resolve()
        if self.last_mark is not None:
            self.last_mark.unlink()
        self.last_mark = mark
        try:
            async with asyncio.timeout(SETTLE_TIMEOUT_S):
                await self.harness.wait_for(
                    FileChanged, lambda e: e.path == mark, timeout=SETTLE_TIMEOUT_S
                )
                await runtime.idle()
        except TimeoutError as error:
            self._violate("hang", f"the runtime did not settle in {SETTLE_TIMEOUT_S} s: {error}")

    def _violate(self, category: str, message: str) -> None:
        if category not in self.ignored:
            raise Violation(category, message)

    # -- the model's expectation ---------------------------------------------------------------

    def _expect(self) -> None:
        """Settle, then check every plugin against the model; update the model."""
        self._run(self._settle())
        self._run(self._check())

    async def _check(self) -> None:
        runtime = self.runtime
        assert runtime is not None
        model = self.model
        rows = {row.name: row for row in runtime.status()}
        pongs = await self._ping()
        serving: dict[str, Running | None] = {}
        for name in PLUGINS:  # dependency order
            serving[name] = self._check_plugin(name, rows, pongs, serving)
            now = serving[name]
            if model.disk[name] is None:
                model.last_served.pop(name, None)
            elif now is not None:
                model.last_served[name] = now
        self._check_events(rows)
        model.serving = serving

    def _check_plugin(
        self,
        name: str,
        rows: dict[str, Any],
        pongs: dict[str, list[Any]],
        serving: dict[str, Running | None],
    ) -> Running | None:
        """Check plugin ``name``; returns what serves (as the model now knows it)."""
        model = self.model
        version = model.disk[name]
        row = rows.get(name)
        answers = pongs.get(name, [])
        if len(answers) > 1:
            self._violate("double-delivery", f"{name} answered one ping {len(answers)} times")
        answer = answers[0] if answers else None
        previous = model.serving.get(name)
        if version is None:
            if row is not None:
                self._violate(
                    "deleted-still-known",
                    f"{name}.py is deleted, yet the runtime lists it as {row.state}",
                )
            if answer is not None:
                self._violate(
                    "serves-nothing-expected", f"{name}.py is deleted, yet {answer.token} answers"
                )
            return self._counted(name, None, previous, answer)

        requirements_serve = all(serving.get(r) is not None for r in PLUGINS[name].requires)
        if model.startable(version, serving):
            expected = model.running(version)
            if answer is None or answer.token != expected.token:
                got = answer.token if answer is not None else "nothing"
                state = row.state if row is not None else "unknown"
                error = row.error.message if row is not None and row.error else ""
                self._violate(
                    "not-on-disk",
                    f"{name}.py on disk is {version.kind} version {expected.token}, which "
                    f"should run; {got} answers (status: {state} {error})",
                )
                return self._observed(name, answer, previous)
            self._check_row(name, row, expected, stale_error=True)
            return self._counted(name, expected, previous, answer)

        if requirements_serve and model.own_broken(version):
            # Broken: the last good version serves on, if one served.
            candidates = self._last_good(name, previous)
            if answer is not None:
                found = next((c for c in candidates if c.token == answer.token), None)
                if found is None:
                    self._violate(
                        "serves-nothing-expected" if not candidates else "lost-last-good",
                        f"{name}.py on disk is broken ({version.kind}, helper "
                        f"{model.helper.kind if model.helper else 'gone'}); {answer.token} "
                        f"answers, expected one of {[c.token for c in candidates] or 'none'}",
                    )
                    return self._observed(name, answer, previous)
                self._check_row(name, row, found, stale_error=False)
                if row is not None and row.error is None:
                    self._violate(
                        "silent-broken",
                        f"{name}.py on disk is broken ({version.kind}); {found.token} serves "
                        f"on, but its status says nothing: state {row.state}, reason "
                        f"{row.reason!r}",
                    )
                return self._counted(name, found, previous, answer)
            if previous is not None and requirements_serve:
                self._violate(
                    "lost-last-good",
                    f"{name}.py on disk is broken ({version.kind}); its last good version "
                    f"{previous.token} no longer serves (status: "
                    f"{row.state if row else 'unknown'})",
                )
            self._check_explained(name, row)
            return self._counted(name, None, previous, None)

        # Blocked: a requirement serves nothing.
        if answer is not None:
            self._violate(
                "serves-nothing-expected",
                f"{name} requires {PLUGINS[name].requires}, of which one serves nothing; yet "
                f"{answer.token} answers",
            )
            return self._observed(name, answer, previous)
        self._check_explained(name, row)
        return self._counted(name, None, previous, None)

    def _last_good(self, name: str, previous: Running | None) -> list[Running]:
        """What may serve for broken plugin ``name``: its previous version, or a valid one saved
        during this step (one of several quick saves that the runtime may have seen)."""
        candidates = [previous] if previous is not None else []
        if previous is None and name in self.model.last_served:
            # it served, then was blocked: started again, it is its last good version again
            candidates.append(self.model.last_served[name])
        for version in self.model.saved.get(name, []):
            if version.runs:
                helpers = [self.model.helper, *self.model.saved_helpers]
                for helper in helpers if PLUGINS[name].helper else [None]:
                    if helper is None and PLUGINS[name].helper:
                        continue
                    if helper is not None and not helper.runs:
                        continue
                    candidates.append(Running(version, helper))
        if previous is not None and PLUGINS[name].helper:
            for helper in self.model.saved_helpers:
                if helper.runs:
                    candidates.append(Running(previous.version, helper))
        return candidates

    def _check_row(self, name: str, row: Any, running: Running, *, stale_error: bool) -> None:
        expected = running.expected_version(self.path)
        if row is None or row.state is not PluginState.ACTIVE:
            self._violate(
                "status-version",
                f"{running.token} answers for {name}, but its status is "
                f"{row.state if row else 'unknown'}",
            )
            return
        if row.version != expected:
            self._violate(
                "status-version",
                f"{running.token} answers for {name}, whose bytes make version {expected}; "
                f"status says {row.version}",
            )
        if stale_error and row.error is not None:
            self._violate(
                "stale-error",
                f"{name} runs its valid source {running.token}, yet its status has the error "
                f"{row.error.type}: {row.error.message}",
            )

    def _check_explained(self, name: str, row: Any) -> None:
        if row is None:
            return
        if row.state not in (PluginState.FAILED, PluginState.BLOCKED):
            self._violate(
                "not-explained",
                f"{name} should serve nothing; its status is {row.state} ({row.reason!r})",
            )
        elif row.error is None and not row.reason:
            self._violate("not-explained", f"{name} is {row.state} and says neither error nor why")

    def _observed(self, name: str, answer: Any, previous: Running | None) -> Running | None:
        """After an ignored violation: carry on with what the runtime actually serves."""
        if answer is None:
            self.model.counts[name] = 0
            return None
        own, _, helper = answer.token.partition("/h")
        serial, _, body = own[len(name) :].partition(".b")
        self.model.counts[name] = answer.count
        return Running(
            replace(self.model.versions[int(serial)], body=int(body or 0)),
            self.model.helpers[int(helper)] if helper else None,
        )

    def _counted(
        self, name: str, running: Running | None, previous: Running | None, answer: Any
    ) -> Running | None:
        """Check the ping count of ``name`` (serving ``running`` now, ``previous`` before)."""
        counts = self.model.counts
        if running is None or answer is None:
            if previous is not None and counts.get(name):
                self.model.kept[name] = (counts[name], previous)
            counts[name] = 0
            return running
        expected = counts.get(name, 0) + 1
        kept = self.model.kept.pop(name, None) if previous is None else None
        if kept is not None and kept[1].version.schema == running.version.schema:
            # It stopped serving and serves again: the state it gave as it stopped comes back
            # (or none, if that version could not export it).
            expected, previous = kept[0] + 1, kept[1]
            lost = previous.version.kind == "export_error"
        else:
            lost = False
        # Fresh when it served nothing before; discarded when the schema changed (there is
        # no migration); perhaps lost when the replaced version could not export it, when one
        # of several quick saves changed the schema and the next changed it back, or when one
        # of them (which may have run in between) could not export it.
        must_reset = previous is None or previous.version.schema != running.version.schema
        may_reset = must_reset or lost
        if previous is not None:
            saved = self.model.saved.get(name, [])
            schemas = {v.schema for v in saved}
            if schemas - {previous.version.schema}:
                may_reset = True
            if any(v.kind == "export_error" for v in saved[:-1]):
                # an intermediate version of quick saves may have run, and failed to export
                may_reset = True
            if previous.version.kind == "export_error" and (
                self.model.saved or self.model.saved_helpers
            ):
                may_reset = True
        ok = (
            answer.count == 1
            if must_reset
            else (answer.count == expected or (may_reset and answer.count == 1))
        )
        if not ok:
            self._violate(
                "state-lost",
                f"{name} ({answer.token}, before {previous.token if previous else 'nothing'}) "
                f"counted {answer.count}, expected {1 if must_reset else expected}",
            )
        counts[name] = answer.count
        return running

    def _check_events(self, rows: dict[str, Any]) -> None:
        last: dict[str, PluginState] = {}
        for event in self.harness.events.of(PluginStateChanged):
            last[event.plugin] = event.state
        for name, row in rows.items():
            if last.get(name) != row.state:
                self._violate(
                    "status-vs-events",
                    f"status says {name} is {row.state}; its last state event says "
                    f"{last.get(name)}",
                )
        for name, state in last.items():
            if name not in rows and state is not PluginState.UNLOADED:
                self._violate(
                    "status-vs-events",
                    f"{name} is not in status; its last state event says {state}",
                )

    # -- pinging -------------------------------------------------------------------------------

    async def _ping(self) -> dict[str, list[Any]]:
        """Ping once; every answer, by plugin."""
        runtime = self.runtime
        assert runtime is not None
        n = next(self.pings)
        with runtime.bus.record("fuzz.pong") as pongs:
            await runtime.bus.publish(Ping(n=n))
            await runtime.bus.join()
        found: dict[str, list[Any]] = {}
        for pong in pongs:
            data = pong.model_dump()
            if data["n"] == n:
                found.setdefault(data["plugin"], []).append(_Answer(data["token"], data["count"]))
        return found


@dataclass(frozen=True)
class _Answer:
    token: str
    count: int


def _helper_kind(kind: Kind) -> HelperKind:
    """The helper's counterpart of plugin kind ``kind``: broken the same way, or good."""
    if kind == "syntax":
        return "syntax"
    if kind == "import_error":
        return "import_error"
    return "good"


def machine(ignored: Iterable[str] = (), kinds: Iterable[str] = KINDS) -> type[OnDisk]:
    """`OnDisk`, raising no `Violation` of the ``ignored`` categories, saving versions of
    ``kinds`` only (to look for a hazard that others would hide)."""
    return type("OnDisk", (OnDisk,), {"ignored": frozenset(ignored), "allowed": frozenset(kinds)})
