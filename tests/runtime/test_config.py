"""Plugin config: ``[plugins.<name>]`` sections of hotbus.toml, validated per plugin; secrets
never shown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hotbus.runtime._config.settings import secret_values, validate_plugin_config
from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import (
    MASK,
    ConfigError,
    ErrorInfo,
    HandlerFailed,
    Phase,
    PluginFailed,
    PluginState,
)
from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from tests.runtime.events import Ping
from tests.runtime.helpers import MakeRuntime, failures, plugin_source

SECRET = "s3cr3t-d1ce-t0ken"

DICE_WITH_CONFIG = plugin_source(
    "dice",
    header="""
        from pydantic import BaseModel, SecretStr

        class DiceConfig(BaseModel):
            max_dice: int = 10
            token: SecretStr | None = None
    """,
    body="config_model = DiceConfig",
)
DICE_WITH_SECTION_CHECK = plugin_source(
    "dice",
    header="""
        from pydantic import BaseModel, SecretStr, model_validator

        class DiceConfig(BaseModel):
            max_dice: int = 10
            token: SecretStr

            @model_validator(mode="after")
            def _check(self) -> "DiceConfig":
                raise ValueError("max_dice does not fit this token")
    """,
    body="config_model = DiceConfig",
)

DICE_WITH_OPTIONAL_DATABASE = plugin_source(
    "dice",
    header="""
        from pydantic import BaseModel, SecretStr, model_validator

        class Database(BaseModel):
            password: SecretStr
            port: int = 5432

            @model_validator(mode="after")
            def _check(self) -> "Database":
                raise ValueError("cannot reach the database")

        class DiceConfig(BaseModel):
            database: Database | None = None
    """,
    body="config_model = DiceConfig",
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """Where the tests write their hotbus.toml."""
    return tmp_path / "hotbus.toml"


def _write(config_file: Path, text: str) -> Path:
    config_file.write_text(text, encoding="utf-8")
    return config_file


async def test_a_config_section_reaches_the_plugin_validated(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, "[plugins.dice]\nmax_dice = 3\n")
    runtime = make_runtime(config_file=config_file)
    await runtime.start()
    config = runtime.plugin("dice").config
    assert (type(config).__name__, config.max_dice) == ("DiceConfig", 3)


async def test_a_plugin_without_a_section_gets_its_models_defaults(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, "setup_timeout_s = 5\n")
    runtime = make_runtime(config_file=config_file)
    await runtime.start()
    assert runtime.plugin("dice").config.max_dice == 10


async def test_a_plugin_without_a_config_model_gets_none(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    runtime = make_runtime()
    await runtime.start()
    assert runtime.plugin("dice").config is None


async def test_an_invalid_section_fails_the_plugin_at_config_naming_field_and_value(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, '[plugins.dice]\nmax_dice = "many"\n')
    runtime = make_runtime(config_file=config_file)
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.CONFIG
    assert "max_dice: Input should be a valid integer" in failure.error.message
    assert "(got 'many')" in failure.error.message


async def test_an_invalid_section_fails_only_that_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("coin.py", plugin_source("coin"))
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, '[plugins.dice]\nmax_dice = "many"\n')
    runtime = make_runtime(config_file=config_file)
    await runtime.start()
    assert {r.name: r.state for r in runtime.status()} == {
        "coin": PluginState.ACTIVE,
        "dice": PluginState.FAILED,
    }


async def test_a_section_for_a_plugin_without_a_config_model_fails_it_at_config(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("dice.py", plugin_source("dice"))
    _write(config_file, "[plugins.dice]\nmax_dice = 3\n")
    runtime = make_runtime(config_file=config_file)
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.CONFIG
    assert "has a [plugins.dice] section (max_dice) but declares no config_model" in (
        failure.error.message
    )


async def test_a_config_failure_points_at_the_config_file(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, '[plugins.dice]\nmax_dice = "many"\n')
    runtime = make_runtime(config_file=config_file)
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.error.file == config_file.resolve()


# -- secrets ---------------------------------------------------------------------------------------


async def test_a_valid_secret_reaches_the_plugin(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, f'[plugins.dice]\ntoken = "{SECRET}"\n')
    runtime = make_runtime(config_file=config_file)
    await runtime.start()
    assert runtime.plugin("dice").config.token.get_secret_value() == SECRET


async def test_a_valid_secret_never_appears_in_an_event_or_a_log_line(
    plugin_dir: PluginDir,
    make_runtime: MakeRuntime,
    config_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, f'[plugins.dice]\ntoken = "{SECRET}"\n')
    runtime = make_runtime(config_file=config_file)
    with runtime.bus.record() as recorded:
        await runtime.start()
        await runtime.reload("dice")
        await runtime.stop()
    assert len(recorded.events) > 10
    assert [e.topic for e in recorded.events if SECRET in e.model_dump_json()] == []
    assert SECRET not in caplog.text


async def test_a_valid_secret_never_appears_in_a_repr(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, f'[plugins.dice]\ntoken = "{SECRET}"\n')
    runtime = make_runtime(config_file=config_file)
    await runtime.start()
    dice = runtime.plugin("dice")
    shown = [repr(dice), repr(dice.config), repr(dice.ctx), repr(runtime), repr(runtime.status())]
    assert [text for text in shown if SECRET in text] == []


async def test_a_secret_never_appears_in_the_repr_of_the_settings(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, config_file: Path
) -> None:
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, f'[plugins.dice]\ntoken = "{SECRET}"\n')
    runtime = make_runtime(config_file=config_file)
    assert SECRET not in repr(runtime.settings)


async def test_a_secret_of_the_wrong_type_never_appears_in_events_logs_or_status(
    plugin_dir: PluginDir,
    make_runtime: MakeRuntime,
    config_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plugin_dir.write("dice.py", DICE_WITH_CONFIG)
    _write(config_file, '[plugins.dice]\ntoken = 918273645\nmax_dice = "many"\n')
    runtime = make_runtime(config_file=config_file)
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert "token: Input should be a valid string" in failure.error.message
    assert [e.topic for e in recorded.events if "918273645" in e.model_dump_json()] == []
    assert "918273645" not in caplog.text + repr(runtime.status())


async def test_a_secret_never_appears_when_the_whole_section_is_rejected(
    plugin_dir: PluginDir,
    make_runtime: MakeRuntime,
    config_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plugin_dir.write("dice.py", DICE_WITH_SECTION_CHECK)
    _write(config_file, f'[plugins.dice]\ntoken = "{SECRET}"\nmax_dice = 3\n')
    runtime = make_runtime(config_file=config_file)
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.CONFIG
    assert [e.topic for e in recorded.events if SECRET in e.model_dump_json()] == []
    assert SECRET not in caplog.text


async def test_a_secret_never_appears_when_an_optional_nested_section_is_rejected(
    plugin_dir: PluginDir,
    make_runtime: MakeRuntime,
    config_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plugin_dir.write("dice.py", DICE_WITH_OPTIONAL_DATABASE)
    _write(config_file, f'[plugins.dice.database]\npassword = "{SECRET}"\n')
    runtime = make_runtime(config_file=config_file)
    with runtime.bus.record() as recorded:
        await runtime.start()
    (failure,) = failures(recorded, "dice")
    assert failure.phase is Phase.CONFIG
    assert [e.topic for e in recorded.events if SECRET in e.model_dump_json()] == []
    assert SECRET not in caplog.text


class _Database(BaseModel):
    password: SecretStr

    @model_validator(mode="after")
    def _check(self) -> _Database:
        raise ValueError("cannot reach the database")


class _OptionalDatabase(BaseModel):
    database: _Database | None = None


class _Databases(BaseModel):
    databases: list[_Database] = []


@pytest.mark.parametrize(
    ("model", "section"),
    [
        (_OptionalDatabase, {"database": {"password": SECRET}}),
        (_Databases, {"databases": [{"password": SECRET}]}),
    ],
    ids=["optional-model", "list-of-models"],
)
def test_a_rejected_nested_section_is_shown_with_its_secrets_masked(
    model: type[BaseModel], section: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError, match="cannot reach the database") as caught:
        validate_plugin_config("dice", model, section)
    assert SECRET not in str(caught.value)


# -- secrets in config errors: never echoed, whatever the mistake ---------------------------------


class _Server(BaseModel):
    host: str
    password: SecretStr


class _Servers(BaseModel):
    servers: list[_Server]


class _Required(BaseModel):
    channel: str
    token: SecretStr


class _Pin(SecretStr):
    """A plugin's own secret type."""


class _Pinned(BaseModel):
    pin: _Pin


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: SecretStr


class _Plain(BaseModel):
    api_key: str
    retries: int = 3


@pytest.mark.parametrize(
    ("model", "section"),
    [
        (_Required, {"token": SECRET}),  # a required non-secret field missing
        (_Servers, {"servers": [{"password": SECRET}]}),  # a nested field missing, beside one
        (_Pinned, {"pin": [SECRET]}),  # a plugin's own SecretStr subclass, wrong type
        (_Strict, {"pasword": SECRET}),  # a mistyped secret key under extra="forbid"
        (_Plain, {"api_key": [SECRET]}),  # a str field named like a secret, wrong type
        (_Plain, {"api_key": "k" * 8, "apikey": SECRET}),  # a typo key, ignored by the model
    ],
    ids=["missing-field", "missing-nested", "own-secret-type", "forbid-typo", "named", "typo"],
)
def test_a_config_error_never_shows_a_secret(
    model: type[BaseModel], section: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_plugin_config("dice", model, section)
    assert SECRET not in str(caught.value)


def test_a_missing_field_is_named_without_echoing_the_section() -> None:
    with pytest.raises(ConfigError, match=r"channel: Field required;?") as caught:
        validate_plugin_config("dice", _Required, {"token": SECRET})
    assert "got" not in str(caught.value)


def test_a_typo_key_is_reported_with_the_keys_there_are() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown key retires: remove, or correct the name \(the keys of _Plain are "
        r"api_key, retries\)",
    ):
        validate_plugin_config("dice", _Plain, {"api_key": "k", "retires": 5})


def test_a_plain_wrong_value_is_still_shown() -> None:
    with pytest.raises(ConfigError, match=r"retries: Input should be a valid integer.*\(got 'x'\)"):
        validate_plugin_config("dice", _Plain, {"api_key": "k", "retries": "x"})


def test_the_secret_values_of_a_config_are_found_at_any_depth() -> None:
    config = _Servers(servers=[_Server(host="a", password=SecretStr(SECRET))])
    plain = _Plain(api_key="another-key")
    assert (secret_values(config), secret_values(plain)) == ([SECRET], ["another-key"])


def test_masking_an_error_hides_every_known_secret_in_message_and_traceback() -> None:
    try:
        raise PermissionError(f"login as bob:{SECRET} failed")
    except PermissionError as error:
        info = ErrorInfo.from_exception(error).masked([SECRET])
    assert (SECRET in info.message, SECRET in info.traceback) == (False, False)
    assert info.message == f"login as bob:{MASK} failed"


LEAKY_DICE = plugin_source(
    "dice",
    header="""
        from pydantic import BaseModel, SecretStr
        from tests.runtime.events import Ping

        class DiceConfig(BaseModel):
            token: SecretStr
            fail_setup: bool = False
    """,
    body="""
        config_model = DiceConfig

        async def setup(self) -> None:
            if self.config.fail_setup:
                raise ConnectionError(f"login {self.config.token.get_secret_value()} refused")

        @subscribe(Ping)
        async def on_ping(self, event) -> None:
            raise PermissionError(f"token {self.config.token.get_secret_value()} expired")
    """,
)


@pytest.mark.parametrize("fail_setup", [False, True], ids=["in-a-handler", "in-setup"])
async def test_a_plugin_error_quoting_its_secret_never_shows_it(
    plugin_dir: PluginDir,
    make_runtime: MakeRuntime,
    config_file: Path,
    caplog: pytest.LogCaptureFixture,
    fail_setup: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    plugin_dir.write("dice.py", LEAKY_DICE)
    flag = "true" if fail_setup else "false"
    _write(config_file, f'[plugins.dice]\ntoken = "{SECRET}"\nfail_setup = {flag}\n')
    runtime = make_runtime(config_file=config_file)
    with runtime.bus.record() as recorded:
        await runtime.start()
        await runtime.bus.publish(Ping(n=1))
        await runtime.bus.join()
        await runtime.stop()
    failed = [e for e in recorded.events if e.topic in {HandlerFailed.topic, PluginFailed.topic}]
    assert [e.error.message for e in failed] == [  # type: ignore[attr-defined]
        f"login {MASK} refused" if fail_setup else f"token {MASK} expired"
    ]
    assert [e.topic for e in recorded.events if SECRET in e.model_dump_json()] == []
    assert SECRET not in caplog.text
