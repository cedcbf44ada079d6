"""`PluginInterrupted`: what the runtime raises into plugin code that it stops.

Not under `HotbusError`, which hotbus raises to its callers: this one is raised inside plugin
code, and derives from `BaseException` so that plugin code does not catch it by accident.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PluginInterrupted"]


class PluginInterrupted(BaseException):
    """Raised inside plugin code that the runtime stopped: module code running past
    ``import_timeout_s``, or code holding the event loop past ``stall_limit_s``.

    A `BaseException`, as `KeyboardInterrupt` is, so that ``except Exception`` in plugin code
    does not swallow it. The runtime raises it into the thread running that code, which
    instantiates it without arguments: each interruption makes a subclass of its own with
    `bound`, carrying the culprit. It is reported as that plugin's failure.

    Attributes:
        plugin: the plugin interrupted.
        path: the file it was running when interrupted, when known.
        line: the line it was running, when known.
        detail: what happened and what to do.
    """

    __module__ = "hotbus.schemas"

    plugin: str = ""
    path: Path | None = None
    line: int | None = None
    detail: str = "interrupted by the runtime"

    def __init__(self, *args: object) -> None:
        if not args:
            where = ""
            if self.path is not None:
                where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
            args = (f"{where}plugin {self.plugin!r}: {self.detail}",)
        super().__init__(*args)

    @classmethod
    def bound(
        cls, plugin: str, detail: str, *, path: Path | None = None, line: int | None = None
    ) -> type[PluginInterrupted]:
        """A subclass whose instances (made without arguments) name ``plugin`` and the place."""
        attributes = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "plugin": plugin,
            "path": path,
            "line": line,
            "detail": detail,
        }
        return type(cls.__name__, (cls,), attributes)
