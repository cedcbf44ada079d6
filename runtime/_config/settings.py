"""Resolving settings: explicit arguments, then ``HOTBUS_*`` variables, then hotbus.toml, then
defaults. And validating each plugin's config section against its model."""

from __future__ import annotations

import os
import re
import tomllib
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from hotbus.schemas import MASK, ConfigError, Settings, SettingsError
from pydantic import BaseModel, Secret, SecretBytes, SecretStr, ValidationError

__all__ = [
    "CONFIG_NAME",
    "ENV_PREFIX",
    "LIVE_SETTINGS",
    "find_config_file",
    "load_settings",
    "read_config_file",
    "replace_settings",
    "reread_settings",
    "secret_values",
    "validate_plugin_config",
]

#: Environment variables named ``HOTBUS_<SETTING>`` override the file.
ENV_PREFIX: Final = "HOTBUS_"
#: The config file's name, looked for in the first plugin directory, then the working directory.
CONFIG_NAME: Final = "hotbus.toml"
_FIELDS: Final = tuple(name for name in Settings.model_fields if name != "plugins")
#: The settings an edit of hotbus.toml changes while running (windows, limits, timeouts, the
#: admins); the others (plugin_dirs, watch, entry_points, leak_check, irc, nick) apply when the
#: runtime starts.
LIVE_SETTINGS: Final = frozenset(
    {
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
        "hot_patch",
        "stage_ahead",
        "state_save_interval_s",
        "admins",
        "command_rate_per_min",
    }
)


def read_config_file(path: Path) -> dict[str, Any]:
    """Read hotbus.toml: runtime settings at the top, one ``[plugins.<name>]`` per plugin.

    Relative ``plugin_dirs`` and ``state_db`` are taken relative to the file's directory.
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
    state_db = data.get("state_db")
    if isinstance(state_db, str) and state_db and not Path(state_db).is_absolute():
        data["state_db"] = str(path.parent / state_db)
    return data


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        if name == "plugin_dirs":
            values[name] = [p for p in raw.split(os.pathsep) if p]
        elif name == "admins":
            values[name] = [a.strip() for a in raw.split(",") if a.strip()]
        elif name == "fleet_topics":
            values[name] = [t.strip() for t in raw.split(",") if t.strip()]
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


def reread_settings(
    settings: Settings,
    data: Mapping[str, Any],
    *,
    fixed: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> tuple[Settings, list[str]]:
    """``settings`` as an edited config file (``data``, from `read_config_file`) makes them,
    and the names of the settings that changed.

    The file's values win only where it is the source: a setting given as an argument
    (``fixed``) or by a ``HOTBUS_*`` variable keeps its value; one the file no longer sets goes
    back to its default. Plugin sections are left as they are.

    Raises:
        SettingsError: naming the file and the setting whose new value is invalid.
    """
    env = os.environ if env is None else env
    kept = {*fixed, *_from_env(env), "config_file"}
    values = settings.model_dump()
    origin: dict[str, str] = {}
    for name in _FIELDS:
        if name in kept:
            continue
        if name in data:
            values[name] = data[name]
            origin[name] = str(settings.config_file)
        else:
            values[name] = Settings.model_fields[name].get_default(call_default_factory=True)
    new = _validated(values, origin)
    return new, [name for name in _FIELDS if getattr(new, name) != getattr(settings, name)]


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


#: Field names that hold secrets when the model does not say so with a secret type.
_SECRET_NAME: Final = re.compile(
    r"pass(word|phrase|wd)?|secret|token|api_?key|private_?key|credential|auth", re.IGNORECASE
)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (``Model | None``, ``list[Model]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _secret_type(annotation: Any) -> bool:
    """Whether an annotation holds a secret type (``SecretStr``, ``SecretBytes``, subclasses)."""
    if isinstance(annotation, type) and issubclass(annotation, SecretStr | SecretBytes | Secret):
        return True
    return any(_secret_type(arg) for arg in typing.get_args(annotation))


def _secret_field(name: str, annotation: Any) -> bool:
    """Whether the field ``name`` holds a secret: by its type, or else by its name."""
    return _secret_type(annotation) or bool(_SECRET_NAME.search(name))


def _is_secret(model: type[BaseModel], loc: tuple[int | str, ...]) -> bool:
    """Whether the value at ``loc`` is, or is inside, a secret (declared or secret-looking)."""
    current: list[Any] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        if _SECRET_NAME.search(part):
            return True
        fields = [
            m.model_fields[part] for a in current for m in _models_in(a) if part in m.model_fields
        ]
        if any(_secret_type(f.annotation) for f in fields):
            return True
        current = [f.annotation for f in fields]
    return False


def _shown(model: type[BaseModel], loc: tuple[int | str, ...], value: Any) -> str:
    """How a rejected value is shown: a scalar as it is, a secret masked, a table not at all."""
    if _is_secret(model, loc):
        return MASK
    if isinstance(value, dict | list | tuple | set) or value is None:
        return ""  # a whole table may hold secrets the model does not declare: name the field only
    return repr(value)


def _keys(model: type[BaseModel]) -> list[str]:
    return sorted(
        set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
    )


def secret_values(config: BaseModel | None) -> list[str]:
    """Every secret value of a validated plugin config, at any depth (for scrubbing messages)."""
    found: list[str] = []

    def walk(value: Any, name: str = "", annotation: Any = None) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, SecretBytes):
            found.append(value.get_secret_value().decode(errors="replace"))
        elif isinstance(value, BaseModel):
            for field, info in type(value).model_fields.items():
                walk(getattr(value, field), field, info.annotation)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif isinstance(value, list | tuple | set):
            for item in value:
                walk(item, name, annotation)
        elif isinstance(value, str | int) and name and _secret_field(name, annotation):
            found.append(str(value))

    walk(config)
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _section_secrets(model: type[BaseModel], section: Mapping[str, Any]) -> list[str]:
    """Every value of a raw config section that is, or is inside, a secret of ``model``."""
    found: list[str] = []

    def leaves(value: Any) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                leaves(item)
        elif isinstance(value, list | tuple):
            for item in value:
                leaves(item)
        elif value is not None and not isinstance(value, bool):
            found.append(str(value))

    def walk(value: Any, loc: tuple[int | str, ...]) -> None:
        if loc and _is_secret(model, loc):
            leaves(value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, (*loc, str(key)))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, (*loc, index))

    walk(section, ())
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _scrubbed(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def validate_plugin_config(
    plugin: str,
    model: type[BaseModel] | None,
    section: Mapping[str, Any] | None,
    *,
    path: Path | None = None,
) -> BaseModel | None:
    """Validate ``section`` with ``model``.

    Errors name the field and the problem; they show a rejected value only when it is a plain
    value that is not a secret (a secret type, or a field named like ``password`` or
    ``api_key``), never a whole table. Keys the model does not know are errors too (unless the
    model allows extra keys), so that a typo is not silently ignored.
    """
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
        config = model.model_validate(dict(section or {}))
    except ValidationError as error:
        secrets = _section_secrets(model, section or {})
        problems = []
        for item in error.errors():
            loc = tuple(item["loc"])
            field = ".".join(str(p) for p in loc) or "(section)"
            if item["type"] == "extra_forbidden":
                problems.append(f"{field}: unknown key: remove it, or correct its name")
                continue
            shown = _shown(model, loc, item.get("input"))
            message = _scrubbed(item["msg"], secrets)  # a validator may quote what it rejects
            problems.append(f"{field}: {message}" + (f" (got {shown})" if shown else ""))
        raise ConfigError(
            plugin,
            f"invalid [plugins.{plugin}] config: {'; '.join(problems)}",
            path=path,
        ) from None
    if model.model_config.get("extra") != "allow":
        unknown = sorted(set(section or {}) - set(_keys(model)))
        if unknown:
            raise ConfigError(
                plugin,
                f"invalid [plugins.{plugin}] config: unknown key{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(unknown)}: remove, or correct the name (the keys of "
                f"{model.__name__} are {', '.join(_keys(model)) or 'none'})",
                path=path,
            )
    return config
