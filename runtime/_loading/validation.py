"""Validating a plugin class: its declaration, hooks, models and handlers."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from hotbus.runtime._loading.loader import PluginSource, source_line
from hotbus.runtime._plugins.plugin import MARKER, Plugin, State
from hotbus.schemas import ManifestError, PluginManifest
from pydantic import BaseModel, ValidationError

__all__ = ["validate_plugin_class"]

_HOOKS = ("setup", "teardown", "export_state", "import_state")


def validate_plugin_class(
    cls: type[Plugin],
    source: PluginSource,
    taken_by: Callable[[str], PluginSource | None] = lambda name: None,
) -> PluginManifest:
    """The manifest of ``cls``, or a `ManifestError` naming what is wrong and where.

    ``taken_by(name)`` tells which other source already provides a plugin of that name.
    """
    where = f"class {cls.__qualname__}"

    def problem(message: str) -> ManifestError:
        return ManifestError(
            source.name, f"{where}: {message}", path=source.main_file, line=source_line(cls)
        )

    for attr in ("name", "version"):
        if not isinstance(getattr(cls, attr, None), str):
            raise problem(
                f"declares no {attr}: add a class attribute such as "
                f"{attr} = {'dice' if attr == 'name' else '1.0.0'!r}"
            )
    try:
        manifest = PluginManifest(name=cls.name, version=cls.version, requires=cls.requires)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
            for e in error.errors()
        )
        raise problem(
            f"invalid declaration: {details}. A name is a lowercase identifier, a version "
            "is MAJOR.MINOR.PATCH, requires lists names or 'name>=1.2.0'"
        ) from None
    if manifest.name in {r.name for r in manifest.requires}:
        raise problem(f"requires itself ({manifest.name!r}): remove it from requires")
    other = taken_by(manifest.name)
    if other is not None:
        raise problem(
            f"plugin name {manifest.name!r} is already taken by {other.describe()}: "
            "rename one of them"
        )
    for hook in _HOOKS:
        if not inspect.iscoroutinefunction(getattr(cls, hook)):
            raise problem(f"{hook} must be a coroutine function: write 'async def {hook}'")
    if cls.config_model is not None and not (
        isinstance(cls.config_model, type) and issubclass(cls.config_model, BaseModel)
    ):
        raise problem("config_model must be a pydantic BaseModel subclass (or None)")
    if cls.state_model is not None and not (
        isinstance(cls.state_model, type) and issubclass(cls.state_model, State)
    ):
        raise problem("state_model must be a subclass of runtime.State (or None)")
    for klass in cls.__mro__:
        if klass is Plugin or klass is object:
            continue  # they define no handlers
        for attr, value in vars(klass).items():
            if getattr(value, MARKER, None) and not callable(value):
                raise problem(f"@subscribe is on {attr!r}, which is not a method")
    return manifest
