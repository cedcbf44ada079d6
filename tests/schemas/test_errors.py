"""Errors: one root, "Raised when" docstrings, and the culprit carried and named."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest
from hotbus import schemas
from hotbus.schemas import (
    BusError,
    ConfigError,
    DependencyError,
    HandlerTimeoutError,
    HotbusError,
    LifecycleError,
    ManifestError,
    PluginError,
    PluginLoadError,
    PublishDepthError,
    SettingsError,
    TopicConflictError,
    TopicError,
    UnknownPluginError,
    UnknownTopicError,
    _errors,
)

ERROR_CLASSES = [
    value
    for value in vars(_errors).values()
    if isinstance(value, type) and issubclass(value, BaseException)
]
PLUGIN_FILE = Path("/srv/bot/plugins/dice.py")


def _by_name(cls: type[BaseException]) -> str:
    return cls.__name__


# -- every class -------------------------------------------------------------------------------


def test_errors_module_defines_the_errors() -> None:
    assert sorted(cls.__name__ for cls in ERROR_CLASSES) == sorted(_errors.__all__)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=_by_name)
def test_error_derives_from_hotbus_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, HotbusError)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=_by_name)
def test_error_docstring_starts_with_raised(cls: type[BaseException]) -> None:
    assert (cls.__doc__ or "").startswith("Raised"), f"{cls.__name__}: {cls.__doc__!r}"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=_by_name)
def test_error_does_not_shadow_a_builtin(cls: type[BaseException]) -> None:
    assert not hasattr(builtins, cls.__name__)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=_by_name)
def test_error_is_exported_by_schemas(cls: type[BaseException]) -> None:
    assert getattr(schemas, cls.__name__, None) is cls


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=_by_name)
def test_error_reports_its_public_module(cls: type[BaseException]) -> None:
    assert cls.__module__ == "hotbus.schemas"


# -- topics ------------------------------------------------------------------------------------


def test_topic_error_carries_topic_and_owner() -> None:
    error = TopicError("chat.*", "no wildcards here", owner="plugins.chat.Message")
    assert (error.topic, error.owner) == ("chat.*", "plugins.chat.Message")


def test_topic_error_message_names_owner_topic_and_reason() -> None:
    error = TopicError("chat.*", "no wildcards here", owner="plugins.chat.Message")
    assert str(error).startswith("plugins.chat.Message: invalid topic 'chat.*': no wildcards here.")


def test_topic_conflict_error_carries_topic_and_both_classes() -> None:
    error = TopicConflictError("chat.message", "plugins.chat.Message", "plugins.chat.Msg")
    assert (error.topic, error.existing, error.duplicate) == (
        "chat.message",
        "plugins.chat.Message",
        "plugins.chat.Msg",
    )


def test_topic_conflict_error_message_names_topic_and_both_classes() -> None:
    error = TopicConflictError("chat.message", "plugins.chat.Message", "plugins.chat.Msg")
    assert str(error).startswith(
        "topic 'chat.message' is defined twice in one module, by plugins.chat.Message and "
        "plugins.chat.Msg: "
    )


def test_unknown_topic_error_carries_the_topic() -> None:
    assert UnknownTopicError("chat.nope").topic == "chat.nope"


def test_unknown_topic_error_lists_up_to_five_known_topics_with_the_same_prefix() -> None:
    known = [f"chat.topic{n}" for n in range(8)] + ["other.topic"]
    hint = "(known topics with that prefix: chat.topic0, chat.topic1, chat.topic2, chat.topic3, "
    hint += "chat.topic4)"
    assert hint in str(UnknownTopicError("chat.nope", known))


def test_unknown_topic_error_is_a_lookup_error() -> None:
    assert issubclass(UnknownTopicError, LookupError)


# -- bus ---------------------------------------------------------------------------------------


def test_publish_depth_error_carries_topic_chain_and_limit() -> None:
    error = PublishDepthError("a", ["a", "b", "a", "b"], 4)
    assert (error.topic, error.chain, error.limit) == ("a", ("a", "b", "a", "b"), 4)


def test_publish_depth_error_message_names_topic_depth_and_limit() -> None:
    error = PublishDepthError("ping", ["ping", "pong"] * 4, 8)
    assert "publishing 'ping' would nest 9 publishes deep (limit 8)" in str(error)


def test_publish_depth_error_shortens_a_long_chain() -> None:
    error = PublishDepthError("t9", [f"t{n}" for n in range(9)], 9)
    assert "chain: t0 -> t1 -> t2 -> ... -> t6 -> t7 -> t8." in str(error)


def test_publish_depth_error_shows_a_short_chain_once() -> None:
    error = PublishDepthError("c", ["a", "b"], 2)
    assert "chain: a -> b." in str(error)


def test_publish_depth_error_is_a_bus_error() -> None:
    assert issubclass(PublishDepthError, BusError)


def test_handler_timeout_error_carries_handler_topic_and_timeout() -> None:
    error = HandlerTimeoutError("dice.on_roll", "chat.message", 0.5)
    assert (error.handler, error.topic, error.timeout) == ("dice.on_roll", "chat.message", 0.5)


def test_handler_timeout_error_message_names_handler_topic_and_timeout() -> None:
    error = HandlerTimeoutError("dice.on_roll", "chat.message", 0.5)
    assert str(error).startswith(
        "handler dice.on_roll took longer than 0.5 s for 'chat.message' and was cancelled"
    )


def test_handler_timeout_error_is_a_timeout_error() -> None:
    assert issubclass(HandlerTimeoutError, TimeoutError)


def test_bus_error_is_a_runtime_error() -> None:
    assert issubclass(BusError, RuntimeError)


# -- settings and plugins ----------------------------------------------------------------------


def test_settings_error_carries_the_path() -> None:
    assert SettingsError("bad", path=Path("hotbus.toml")).path == Path("hotbus.toml")


def test_settings_error_message_starts_with_the_path() -> None:
    error = SettingsError("debounce_ms must be positive", path=Path("hotbus.toml"))
    assert str(error) == "hotbus.toml: debounce_ms must be positive"


def test_settings_error_without_path_is_the_message() -> None:
    assert str(SettingsError("debounce_ms must be positive")) == "debounce_ms must be positive"


def test_plugin_error_carries_plugin_path_line_and_detail() -> None:
    error = PluginError("dice", "setup failed", path=PLUGIN_FILE, line=12)
    assert (error.plugin, error.path, error.line, error.detail) == (
        "dice",
        PLUGIN_FILE,
        12,
        "setup failed",
    )


def test_plugin_error_message_names_path_line_and_plugin() -> None:
    error = PluginError("dice", "setup failed", path=PLUGIN_FILE, line=12)
    assert str(error) == f"{PLUGIN_FILE}:12: plugin 'dice': setup failed"


def test_plugin_error_without_line_names_the_path() -> None:
    error = PluginError("dice", "setup failed", path=PLUGIN_FILE)
    assert str(error) == f"{PLUGIN_FILE}: plugin 'dice': setup failed"


def test_plugin_error_without_path_names_the_plugin() -> None:
    assert str(PluginError("dice", "setup failed")) == "plugin 'dice': setup failed"


def test_plugin_error_takes_the_path_as_a_string() -> None:
    assert PluginError("dice", "setup failed", path=str(PLUGIN_FILE)).path == PLUGIN_FILE


@pytest.mark.parametrize("cls", [PluginLoadError, ManifestError, ConfigError])
def test_plugin_error_subclass_names_the_plugin(cls: type[PluginError]) -> None:
    error = cls("dice", "it broke", path=PLUGIN_FILE, line=3)
    assert (error.plugin, str(error)) == ("dice", f"{PLUGIN_FILE}:3: plugin 'dice': it broke")


def test_dependency_error_carries_missing_and_cycle() -> None:
    error = DependencyError("dice", "cycle", missing=["stats"], cycle=["dice", "roller", "dice"])
    assert (error.plugin, error.missing, error.cycle) == (
        "dice",
        ("stats",),
        ("dice", "roller", "dice"),
    )


def test_lifecycle_error_carries_current_and_target() -> None:
    error = LifecycleError("dice", "unloaded", "active")
    assert (error.plugin, error.current, error.target) == ("dice", "unloaded", "active")


def test_lifecycle_error_message_names_the_transition() -> None:
    error = LifecycleError("dice", "unloaded", "active")
    assert "plugin 'dice': illegal lifecycle transition unloaded -> active" in str(error)


def test_unknown_plugin_error_lists_the_known_plugins_sorted() -> None:
    error = UnknownPluginError("dise", ["roller", "dice"])
    assert str(error) == "plugin 'dise': no such plugin is loaded (known plugins: dice, roller)"


def test_unknown_plugin_error_says_none_are_known() -> None:
    assert str(UnknownPluginError("dice")).endswith("(known plugins: none)")


def test_unknown_plugin_error_is_a_lookup_error() -> None:
    assert issubclass(UnknownPluginError, LookupError)


def test_except_hotbus_error_catches_every_error() -> None:
    with pytest.raises(HotbusError, match="plugin 'dice'") as caught:
        raise UnknownPluginError("dice")
    assert isinstance(caught.value, UnknownPluginError)
