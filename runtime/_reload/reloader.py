"""The reloader: the subscriber of ``hotbus.file.settled`` that asks for reloads.

It maps a settled path to the plugins that own it (their module or package, a helper module
they imported, or, while they are failed, a file named in their traceback) and publishes
``hotbus.reload.requested``. A new plugin file is loaded and a deleted one unloaded. A change to
the config file re-validates the plugin sections and reloads only the plugins whose section
changed.

A reload that a plugin's own start-up keeps causing (its setup writing its own source) is held
back by the `Throttle`, with a growing delay, instead of running forever.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import final

from hotbus.runtime._config.settings import read_config_file, replace_settings
from hotbus.runtime._engine.engine import Engine
from hotbus.runtime._listener import Listener
from hotbus.runtime._loading.loader import source_for
from hotbus.runtime._reload.throttle import Throttle
from hotbus.schemas import (
    ConfigChanged,
    FileSettled,
    HotbusError,
    ReloadAction,
    ReloadReason,
    ReloadRequested,
    SettleOutcome,
)

__all__ = ["Reloader"]

logger = logging.getLogger("hotbus.reload")


@final
class Reloader:
    """Maps settled files to plugins and publishes reload requests."""

    __slots__ = ("_engine", "_listener", "_throttle")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._listener = Listener(engine.bus, FileSettled, self.on_settled)
        self._throttle = Throttle(engine.bus, lambda: engine.settings, self._files_of)

    def attach(self) -> None:
        """Subscribe to ``hotbus.file.settled`` (idempotent)."""
        self._listener.attach()
        self._throttle.attach()

    def detach(self) -> None:
        """Unsubscribe, and drop the reloads held back."""
        self._listener.detach()
        self._throttle.detach()

    @property
    def waiting(self) -> int:
        """How many plugins have a reload held back (see `Throttle`)."""
        return self._throttle.waiting

    async def idle(self) -> None:
        """Wait until no reload is held back: each is asked for when its delay ends."""
        await self._throttle.idle()

    async def on_settled(self, event: FileSettled) -> None:
        """Publish what the settled path asks for (the bus calls this)."""
        engine = self._engine
        path = event.path
        if engine.settings.config_file is not None and path == engine.settings.config_file:
            await self._config_changed(path)
            return
        requests: list[ReloadRequested] = []
        owners = engine.records.owners(path)
        for name in owners:
            rec = engine.records.get(name)
            main = rec.source.main_file
            gone = event.outcome is SettleOutcome.DELETED and (
                path == main or (rec.source.path is not None and not rec.source.path.exists())
            )
            action = ReloadAction.UNLOAD if gone else ReloadAction.RELOAD
            requests.append(
                ReloadRequested(plugin=name, action=action, reason=ReloadReason.FILE, paths=[path])
            )
        if not owners and event.outcome is not SettleOutcome.DELETED:
            candidate = self._source_path(path)
            if candidate is not None:
                # By the path in the plugin directory, a symlink's own (as discovery does):
                # the watcher reports edits to a symlinked plugin's target by that path.
                source = source_for(candidate, resolved=True)
                if source is not None:
                    requests.append(
                        ReloadRequested(
                            plugin=source.name,
                            action=ReloadAction.LOAD,
                            reason=ReloadReason.FILE,
                            paths=[candidate],
                        )
                    )
        for request in requests:
            if request.action is ReloadAction.RELOAD:
                await self._throttle.request(request)
            else:
                await engine.bus.publish(request)

    def _files_of(self, name: str) -> list[Path]:
        """The files plugin ``name`` was loaded from (none if it is gone)."""
        rec = self._engine.records.find(name)
        if rec is None:
            return []
        files = set(rec.loaded.files) if rec.loaded is not None else set()
        if rec.source.main_file is not None:
            files.add(rec.source.main_file)
        return sorted(files)

    def _source_path(self, path: Path) -> Path | None:
        """The plugin source a new file may be: a top-level module or a package's __init__."""
        for directory in self._engine.settings.plugin_dirs:
            root = Path(directory).resolve()
            if path.parent == root:
                return path
            if path.name == "__init__.py" and path.parent.parent == root:
                return path.parent
        return None

    async def _config_changed(self, path: Path) -> None:
        engine = self._engine
        try:
            data = read_config_file(path)
        except HotbusError as error:
            logger.error("%s; the plugins keep their current config", error)
            return
        sections = data.get("plugins", {})
        old = engine.settings.plugins
        changed = sorted(
            name for name in set(old) | set(sections) if old.get(name) != sections.get(name)
        )
        try:
            engine.settings = replace_settings(engine.settings, plugins=sections)
        except HotbusError as error:
            logger.error("%s; the plugins keep their current config", error)
            return
        for name in changed:
            before, after = old.get(name, {}), sections.get(name, {})
            fields = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            await engine.bus.publish(ConfigChanged(plugin=name, path=path, fields=fields))
            if name in engine.records:
                await engine.bus.publish(
                    ReloadRequested(
                        plugin=name,
                        action=ReloadAction.RELOAD,
                        reason=ReloadReason.CONFIG,
                        paths=[path],
                    )
                )
