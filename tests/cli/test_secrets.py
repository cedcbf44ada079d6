"""Secrets never leave ``hotbus``: every way a config secret can reach an error (a secret type,
a custom secret type, a field only named like a secret, a nested model missing a sibling, a
mistyped secret key, a missing plain field, a plugin's own exception quoting its secret) goes
through the real ``hotbus run -v --events-jsonl FILE`` and ``hotbus check``, and no secret
appears on stdout, on stderr or in the events file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.console import DEADLINE, Result, command, environment

#: Each secret value, by the case that carries it.
SECRETS = {
    "secret_type": "MARK-SECRETSTR-71",
    "secret_subclass": "MARK-SUBCLASS-72",
    "named_password": "MARK-PASSWORD-73",
    "named_token": "MARK-TOKEN-74",
    "named_api_key": "MARK-APIKEY-75",
    "nested": "MARK-NESTED-76",
    "mistyped_key": "MARK-TYPO-77",
    "missing_plain": "MARK-MISSING-78",
    "raises_in_setup": "MARK-SETUP-79",
    "raises_in_handler": "MARK-HANDLER-80",
    "raises_in_teardown": "MARK-TEARDOWN-81",
    "rejected_secret": "MARK-REJECTED-82",
}

PLUGINS = {
    # A SecretStr field; a sibling field with a wrong value fails validation.
    "secret_type.py": """
from hotbus import Plugin
from pydantic import BaseModel, SecretStr

class Config(BaseModel):
    key: SecretStr
    count: int

class SecretType(Plugin):
    name = "secret_type"
    version = "1.0.0"
    config_model = Config
""",
    # A custom SecretStr subclass, given a value of the wrong type.
    "secret_subclass.py": '''
from hotbus import Plugin
from pydantic import BaseModel, SecretStr

class Sesame(SecretStr):
    """A secret of our own."""

class Config(BaseModel):
    sesame: Sesame
    count: int

class SecretSubclass(Plugin):
    name = "secret_subclass"
    version = "1.0.0"
    config_model = Config
''',
    # Fields named like secrets, with plain types; each given a value its type rejects.
    "named.py": """
from hotbus import Plugin
from pydantic import BaseModel

class Config(BaseModel):
    password: int
    token: list[int]
    api_key: dict[str, int]

class Named(Plugin):
    name = "named"
    version = "1.0.0"
    config_model = Config
""",
    # A nested model whose secret is given but whose sibling field is missing.
    "nested.py": """
from hotbus import Plugin
from pydantic import BaseModel, SecretStr

class Login(BaseModel):
    secret: SecretStr
    host: str

class Config(BaseModel):
    login: Login

class Nested(Plugin):
    name = "nested"
    version = "1.0.0"
    config_model = Config
""",
    # A secret key mistyped under extra="forbid".
    "mistyped.py": """
from hotbus import Plugin
from pydantic import BaseModel, ConfigDict, SecretStr

class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: SecretStr = SecretStr("default")

class Mistyped(Plugin):
    name = "mistyped"
    version = "1.0.0"
    config_model = Config
""",
    # A required plain field missing next to a secret.
    "missing_plain.py": """
from hotbus import Plugin
from pydantic import BaseModel, SecretStr

class Config(BaseModel):
    api_key: SecretStr
    user: str

class MissingPlain(Plugin):
    name = "missing_plain"
    version = "1.0.0"
    config_model = Config
""",
    # A secret rejected by a validator of its own (the input is the secret).
    "rejected.py": """
from hotbus import Plugin
from pydantic import BaseModel, SecretStr, field_validator

class Config(BaseModel):
    credential: SecretStr

    @field_validator("credential")
    @classmethod
    def long_enough(cls, value: SecretStr) -> SecretStr:
        raise ValueError(f"too short: {value.get_secret_value()}")

class Rejected(Plugin):
    name = "rejected"
    version = "1.0.0"
    config_model = Config
""",
    # Plugins that load, then raise exceptions quoting their own secret.
    "raises.py": """
from hotbus import ChatMessage, Plugin, subscribe
from pydantic import BaseModel, SecretStr

class Config(BaseModel):
    setup_secret: SecretStr
    handler_secret: SecretStr
    teardown_secret: SecretStr

class Raises(Plugin):
    name = "raises"
    version = "1.0.0"
    config_model = Config
    config: Config

    async def setup(self) -> None:
        self.ctx.logger.info("set up")

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        raise RuntimeError(f"login failed with {self.config.handler_secret.get_secret_value()}")

    async def teardown(self) -> None:
        raise RuntimeError(f"logout failed with {self.config.teardown_secret.get_secret_value()}")
""",
    "raises_in_setup.py": """
from hotbus import Plugin
from pydantic import BaseModel, SecretStr

class Config(BaseModel):
    secret: SecretStr

class RaisesInSetup(Plugin):
    name = "raises_in_setup"
    version = "1.0.0"
    config_model = Config
    config: Config

    async def setup(self) -> None:
        raise ConnectionError(f"cannot connect as {self.config.secret.get_secret_value()}")
""",
}

CONFIG = f"""
[plugins.secret_type]
key = "{SECRETS["secret_type"]}"
count = "many"

[plugins.secret_subclass]
sesame = ["{SECRETS["secret_subclass"]}"]
count = 1

[plugins.named]
password = "{SECRETS["named_password"]}"
token = "{SECRETS["named_token"]}"
api_key = "{SECRETS["named_api_key"]}"

[plugins.nested.login]
secret = "{SECRETS["nested"]}"

[plugins.mistyped]
pasword = "{SECRETS["mistyped_key"]}"

[plugins.missing_plain]
api_key = "{SECRETS["missing_plain"]}"

[plugins.rejected]
credential = "{SECRETS["rejected_secret"]}"

[plugins.raises]
setup_secret = "{SECRETS["raises_in_setup"]}-unused"
handler_secret = "{SECRETS["raises_in_handler"]}"
teardown_secret = "{SECRETS["raises_in_teardown"]}"

[plugins.raises_in_setup]
secret = "{SECRETS["raises_in_setup"]}"
"""


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin directory with every case, and its hotbus.toml."""
    directory = tmp_path_factory.mktemp("secrets")
    for name, source in PLUGINS.items():
        (directory / name).write_text(source.lstrip(), encoding="utf-8")
    (directory / "hotbus.toml").write_text(CONFIG, encoding="utf-8")
    return directory


def hotbus_process(*args: str, cwd: Path, input: str = "") -> Result:
    done = subprocess.run(
        command(args),
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=environment(),
        timeout=DEADLINE,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def ran(plugins: Path) -> tuple[Result, str]:
    """``hotbus run -v --events-jsonl FILE`` sent one message; what it wrote, and the file."""
    events = plugins.parent / "events.jsonl"
    result = hotbus_process(
        "run",
        str(plugins),
        "-v",
        "--no-watch",
        "--events-jsonl",
        str(events),
        cwd=plugins.parent,
        input="hello\n",
    )
    return result, events.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def checked(plugins: Path) -> Result:
    """``hotbus check`` on the same directory."""
    return hotbus_process("check", str(plugins), cwd=plugins.parent)


def leaks(text: str) -> list[str]:
    return [case for case, secret in SECRETS.items() if secret in text]


def test_the_run_exercised_every_case(ran: tuple[Result, str]) -> None:
    result, events = ran
    records = [json.loads(line) for line in events.splitlines()]
    failed = {r["plugin"] for r in records if r["topic"] == "hotbus.plugin.failed"}
    handler = [r for r in records if r["topic"] == "hotbus.handler.failed"]
    assert (failed, len(handler)) == (
        {
            "secret_type",
            "secret_subclass",
            "named",
            "nested",
            "mistyped",
            "missing_plain",
            "rejected",
            "raises",
            "raises_in_setup",
        },
        1,
    ), result.err


def test_run_writes_no_secret_to_stdout(ran: tuple[Result, str]) -> None:
    assert leaks(ran[0].out) == []


def test_run_writes_no_secret_to_stderr(ran: tuple[Result, str]) -> None:
    assert leaks(ran[0].err) == [], ran[0].err


def test_run_writes_no_secret_to_the_events_file(ran: tuple[Result, str]) -> None:
    assert leaks(ran[1]) == []


def test_check_reports_every_config_case(checked: Result) -> None:
    problems = {line.split(": ")[1] for line in checked.out_lines if ": " in line}
    expected = {"secret_type", "secret_subclass", "named", "nested", "mistyped"}
    assert expected | {"missing_plain", "rejected"} <= problems, checked.out


def test_check_writes_no_secret_to_stdout(checked: Result) -> None:
    assert leaks(checked.out) == [], checked.out


def test_check_writes_no_secret_to_stderr(checked: Result) -> None:
    assert leaks(checked.err) == [], checked.err
