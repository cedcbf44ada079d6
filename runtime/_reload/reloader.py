"""The reloader: the subscriber of ``hotbus.file.settled`` that asks for reloads.

It maps a settled path to the plugins that own it (their module or package, a helper module
they imported, or, while they are failed, a file named in their traceback) and publishes
``hotbus.reload.requested``. A new plugin file is loaded and a deleted one unloaded. A change to
the config file re-validates the plugin sections and reloads only the plugins whose section
changed; runtime settings it changes apply at once where they can (windows, limits, timeouts,
`LIVE_SETTINGS`), and the others are named in a warning: they need a restart.

A reload that a plugin's own start-up keeps causing (its setup writing its own source) is held
back by the `Throttle`, with a growing delay, instead of running forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, final

from hotbus.runtime._config.settings import (
    LIVE_SETTINGS,
    read_config_file,
    replace_settings,
    reread_settings,
)
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

    __slots__ = ("_configure", "_engine", "_fixed", "_listener", "_throttle")

    def __init__(
        self,
        engine: Engine,
        *,
        fixed: Collection[str] = (),
        configure: Callable[[], None] = lambda: None,
    ) -> None:
        """``fixed``: the settings given as arguments, which the file does not change;
        ``configure``: applies the settings in force to the parts that copied them."""
        self._engine = engine
        self._fixed = fixed
        self._configure = configure
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
            candidate = self.source_path(path)
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

    def source_path(self, path: Path) -> Path | None:
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
        self._settings_changed(path, data)
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

    def _settings_changed(self, path: Path, data: dict[str, Any]) -> None:
        """Apply the runtime settings the file changed that can change live; name the others."""
        engine = self._engine
        try:
            new, changed = reread_settings(engine.settings, data, fixed=self._fixed)
        except HotbusError as error:
            logger.error("%s; the runtime keeps its current settings", error)
            return
        live = [name for name in changed if name in LIVE_SETTINGS]
        later = [name for name in changed if name not in LIVE_SETTINGS]
        if live:
            values = {name: getattr(new, name) for name in live}
            engine.settings = replace_settings(engine.settings, **values)
            self._configure()
            logger.info(
                "%s: settings applied: %s",
                path.name,
                ", ".join(f"{name} = {value}" for name, value in values.items()),
            )
        if later:
            logger.warning(
                "%s: %s changed, which takes effect only when hotbus starts: restart it to "
                "apply (it keeps %s)",
                path.name,
                ", ".join(later),
                ", ".join(f"{name} = {getattr(engine.settings, name)}" for name in later),
            )
