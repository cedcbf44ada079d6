"""hotbus's own vocabulary: the topics of the design, string enums, and `ErrorInfo`."""

from __future__ import annotations

import inspect
import json
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hotbus import schemas
from hotbus.schemas import (
    ErrorInfo,
    FileChangeKind,
    Phase,
    PluginLoadError,
    PluginState,
    PluginStateChanged,
    ReloadAction,
    ReloadReason,
    SettleOutcome,
    SourceKind,
    registry,
)

#: The table of topics in DESIGN.md ("Events"), topic -> class name. Topics are public contract.
DESIGN_TOPICS = {
    "hotbus.runtime.started": "RuntimeStarted",
    "hotbus.runtime.stopping": "RuntimeStopping",
    "hotbus.runtime.stopped": "RuntimeStopped",
    "hotbus.file.changed": "FileChanged",
    "hotbus.file.settled": "FileSettled",
    "hotbus.plugin.discovered": "PluginDiscovered",
    "hotbus.plugin.state": "PluginStateChanged",
    "hotbus.plugin.failed": "PluginFailed",
    "hotbus.reload.requested": "ReloadRequested",
    "hotbus.reload.planned": "ReloadPlanned",
    "hotbus.reload.rejected": "ReloadRejected",
    "hotbus.reload.committed": "ReloadCommitted",
    "hotbus.reload.rolled_back": "ReloadRolledBack",
    "hotbus.handler.failed": "HandlerFailed",
    "hotbus.plugin.leaked": "PluginLeaked",
    "hotbus.config.changed": "ConfigChanged",
}

ENUMS: list[type[Enum]] = [
    FileChangeKind,
    Phase,
    PluginState,
    ReloadAction,
    ReloadReason,
    SettleOutcome,
    SourceKind,
]

PLUGIN_FILE = Path("/srv/bot/plugins/dice.py")
PLUGIN_SOURCE = "def roll(fail):\n    fail('no dice')\n"


def _fail(message: str) -> None:
    raise ValueError(message)


FAIL_LINE = inspect.getsourcelines(_fail)[1] + 1


def _caught(call: Any, *args: Any) -> BaseException:
    """The exception ``call(*args)`` raises, with its traceback."""
    try:
        call(*args)
    except Exception as error:
        return error
    raise AssertionError(f"{call!r} did not raise")


# -- topics ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("topic", "name"), DESIGN_TOPICS.items())
def test_design_topic_is_defined_by_its_class(topic: str, name: str) -> None:
    assert registry.get(topic) is getattr(schemas, name)


@pytest.mark.parametrize(("topic", "name"), DESIGN_TOPICS.items())
def test_design_event_class_carries_its_topic(topic: str, name: str) -> None:
    assert getattr(schemas, name).topic == topic


# -- enums -------------------------------------------------------------------------------------


@pytest.mark.parametrize("enum", ENUMS, ids=lambda enum: enum.__name__)
def test_enum_values_are_strings(enum: type[Enum]) -> None:
    assert [type(member.value) for member in enum] == [str] * len(enum)


@pytest.mark.parametrize("enum", ENUMS, ids=lambda enum: enum.__name__)
def test_enum_members_are_strings(enum: type[Enum]) -> None:
    assert all(isinstance(member, str) for member in enum)


def test_enum_fields_serialise_as_their_string_value() -> None:
    event = PluginStateChanged(
        plugin="dice", previous=PluginState.STARTING, state=PluginState.ACTIVE
    )
    dumped = json.loads(event.model_dump_json())
    assert (dumped["previous"], dumped["state"]) == ("starting", "active")


# -- ErrorInfo ---------------------------------------------------------------------------------


def test_error_info_names_a_builtin_exception_type_plainly() -> None:
    info = ErrorInfo.from_exception(_caught(_fail, "boom"))
    assert info.type == "ValueError"


def test_error_info_qualifies_other_exception_types_with_their_module() -> None:
    info = ErrorInfo.from_exception(PluginLoadError("dice", "it broke"))
    assert info.type == "hotbus.schemas.PluginLoadError"


def test_error_info_keeps_the_message() -> None:
    info = ErrorInfo.from_exception(_caught(_fail, "sides must be positive"))
    assert info.message == "sides must be positive"


def test_error_info_locates_the_innermost_frame() -> None:
    info = ErrorInfo.from_exception(_caught(_fail, "boom"))
    assert (info.file, info.line) == (Path(__file__), FAIL_LINE)


def test_error_info_keeps_the_formatted_traceback() -> None:
    info = ErrorInfo.from_exception(_caught(_fail, "boom"))
    assert info.traceback.endswith("ValueError: boom")


def test_error_info_of_a_syntax_error_uses_its_own_file_and_line() -> None:
    error = _caught(compile, "x = 1\ny = (\n", "/srv/bot/plugins/broken.py", "exec")
    info = ErrorInfo.from_exception(error)
    assert (info.type, info.file, info.line) == (
        "SyntaxError",
        Path("/srv/bot/plugins/broken.py"),
        2,
    )


def test_error_info_of_a_syntax_error_keeps_only_its_message() -> None:
    error = _caught(compile, "y = (\n", "/srv/bot/plugins/broken.py", "exec")
    assert isinstance(error, SyntaxError)
    assert ErrorInfo.from_exception(error).message == error.msg


def test_error_info_picks_the_frame_in_the_given_file() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(PLUGIN_SOURCE, str(PLUGIN_FILE), "exec"), namespace)
    error = _caught(namespace["roll"], _fail)
    info = ErrorInfo.from_exception(error, file=PLUGIN_FILE)
    assert (info.file, info.line) == (PLUGIN_FILE, 2)


def test_error_info_falls_back_to_the_innermost_frame_without_the_given_file() -> None:
    info = ErrorInfo.from_exception(_caught(_fail, "boom"), file=PLUGIN_FILE)
    assert (info.file, info.line) == (Path(__file__), FAIL_LINE)


def test_error_info_of_a_plugin_error_uses_its_path_and_line() -> None:
    error = PluginLoadError("dice", "cannot import", path=PLUGIN_FILE, line=7)
    info = ErrorInfo.from_exception(error)
    assert (info.file, info.line) == (PLUGIN_FILE, 7)


def test_error_info_of_an_exception_never_raised_has_no_location() -> None:
    info = ErrorInfo.from_exception(RuntimeError("never raised"))
    assert (info.file, info.line, info.location()) == (None, None, "")


def test_error_info_location_is_file_name_and_line() -> None:
    info = ErrorInfo(type="ValueError", message="boom", file=PLUGIN_FILE, line=12)
    assert info.location() == "dice.py:12"


def test_error_info_location_without_line_is_the_file_name() -> None:
    info = ErrorInfo(type="ValueError", message="boom", file=PLUGIN_FILE)
    assert info.location() == "dice.py"
