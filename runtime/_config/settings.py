"""Resolving settings: explicit arguments, then ``HOTBUS_*`` variables, then hotbus.toml, then
defaults. And validating each plugin's config section against its model."""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from hotbus.schemas import ConfigError, Settings, SettingsError
from pydantic import BaseModel, ValidationError

__all__ = [
    "CONFIG_NAME",
    "ENV_PREFIX",
    "find_config_file",
    "load_settings",
    "read_config_file",
    "replace_settings",
    "validate_plugin_config",
]

#: Environment variables named ``HOTBUS_<SETTING>`` override the file.
ENV_PREFIX: Final = "HOTBUS_"
#: The config file's name, looked for in the first plugin directory, then the working directory.
CONFIG_NAME: Final = "hotbus.toml"
_FIELDS: Final = tuple(name for name in Settings.model_fields if name != "plugins")


def read_config_file(path: Path) -> dict[str, Any]:
    """Read hotbus.toml: runtime settings at the top, one ``[plugins.<name>]`` per plugin.

    Relative ``plugin_dirs`` are taken relative to the file's directory.
    """
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(
            "config file not found: create it, or pass an existing file", path=path
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"not valid TOML: {error}", path=path) from None
    unknown = sorted(set(data) - set(_FIELDS) - {"plugins"})
    if unknown:
        raise SettingsError(
            f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            f"the settings are {', '.join(_FIELDS)}, and [plugins.<name>] sections",
            path=path,
        )
    plugins = data.get("plugins", {})
    if not isinstance(plugins, dict) or not all(isinstance(v, dict) for v in plugins.values()):
        raise SettingsError("plugin config goes in tables named [plugins.<plugin name>]", path=path)
    if "plugin_dirs" in data:
        dirs = data["plugin_dirs"]
        if isinstance(dirs, str):
            dirs = [dirs]
        if isinstance(dirs, list):
            data["plugin_dirs"] = [
                str(p) if Path(str(p)).is_absolute() else str(path.parent / str(p)) for p in dirs
            ]
    return data


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        if name == "plugin_dirs":
            values[name] = [p for p in raw.split(os.pathsep) if p]
        else:
            values[name] = raw
    return values


def find_config_file(plugin_dirs: Sequence[Path | str]) -> Path | None:
    """The ``hotbus.toml`` of the first plugin directory, else of the working directory."""
    candidates = [Path(plugin_dirs[0]) / CONFIG_NAME] if plugin_dirs else []
    for candidate in (*candidates, Path(CONFIG_NAME)):
        if candidate.is_file():
            return candidate
    return None


def _check_known(names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(
            f"unknown setting {', '.join(unknown)}: the settings are {', '.join(_FIELDS)}"
        )


def load_settings(
    config_file: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **explicit: Any,
) -> Settings:
    """Resolve the settings: ``explicit`` (None means unset), then ``HOTBUS_*``, then the file.

    The file is ``config_file``, else ``HOTBUS_CONFIG_FILE``, else the ``hotbus.toml`` found
    by `find_config_file` in the plugin directories given (explicitly or by the environment).

    Raises:
        SettingsError: naming the variable, file or argument whose value is invalid.
    """
    env = os.environ if env is None else env
    if config_file is None and env.get(ENV_PREFIX + "CONFIG_FILE"):
        config_file = env[ENV_PREFIX + "CONFIG_FILE"]
    explicit = {k: v for k, v in explicit.items() if v is not None}
    _check_known(explicit)
    from_env = _from_env(env)
    if config_file is None:
        config_file = find_config_file(
            explicit.get("plugin_dirs") or from_env.get("plugin_dirs") or ()
        )
    layers: list[tuple[str, dict[str, Any]]] = []
    path = Path(config_file).resolve() if config_file is not None else None
    if path is not None:
        layers.append((str(path), read_config_file(path)))
    layers.append(("environment", from_env))
    layers.append(("arguments", explicit))
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for where, values in layers:
        for key, value in values.items():
            merged[key] = value
            origin[key] = where
    if path is not None:
        merged["config_file"] = path
    return _validated(merged, origin)


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with ``changes``, validated like any other settings.

    Raises:
        SettingsError: naming an unknown setting, or the setting whose new value is invalid.
    """
    _check_known(changes)
    return _validated({**settings.model_dump(), **changes}, dict.fromkeys(changes, "arguments"))


def _validated(values: dict[str, Any], origin: Mapping[str, str]) -> Settings:
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = str(item["loc"][0]) if item["loc"] else "?"
            where = origin.get(key, "defaults")
            if where == "environment":
                where = f"environment variable {ENV_PREFIX}{key.upper()}"
            problems.append(f"{key} (from {where}): {item['msg']}, got {item.get('input')!r}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


_MASK: Final = "**********"


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[Any]:
    """The annotations of the value at ``loc`` (the model itself for the whole section)."""
    current: list[Any] = [model]
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: its models are found inside the list's annotation
        found = [m.model_fields.get(part) for a in current for m in _models_in(a)]
        fields = [f for f in found if f is not None]
        if not fields:
            return []
        current = [f.annotation for f in fields]
    return current


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (``Model | None``, ``list[Model]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _masked(annotations: list[Any], value: Any) -> Any:
    """``value`` with every field typed as a secret replaced by a mask, at any depth."""
    if isinstance(value, list | tuple):
        return [_masked(annotations, item) for item in value]
    if not isinstance(value, dict):
        return value
    models = [m for a in annotations for m in _models_in(a)]
    shown: dict[Any, Any] = {}
    for key, item in value.items():
        fields = [m.model_fields[key] for m in models if key in m.model_fields]
        if any("Secret" in repr(f.annotation) for f in fields):
            shown[key] = _MASK
        else:
            shown[key] = _masked([f.annotation for f in fields], item)
    return shown


def _is_secret(model: type[BaseModel], loc: tuple[int | str, ...]) -> bool:
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not isinstance(part, str) or fields is None or part not in fields:
            return False
        annotation = fields[part].annotation
        if "Secret" in repr(annotation):
            return True
        current = annotation
    return False


def validate_plugin_config(
    plugin: str,
    model: type[BaseModel] | None,
    section: Mapping[str, Any] | None,
    *,
    path: Path | None = None,
) -> BaseModel | None:
    """Validate ``section`` with ``model``; errors name the field and value (never a secret)."""
    if model is None:
        if section:
            raise ConfigError(
                plugin,
                f"has a [plugins.{plugin}] section ({', '.join(sorted(section))}) but declares "
                "no config_model: remove the section, or give the plugin a config_model",
                path=path,
            )
        return None
    try:
        return model.model_validate(dict(section or {}))
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = tuple(item["loc"])
            field = ".".join(str(p) for p in loc) or "(section)"
            if _is_secret(model, loc):
                shown = _MASK
            else:
                shown = repr(_masked(_model_at(model, loc), item.get("input")))
            problems.append(f"{field}: {item['msg']} (got {shown})")
        raise ConfigError(
            plugin,
            f"invalid [plugins.{plugin}] config: {'; '.join(problems)}",
            path=path,
        ) from None
