"""Runtime settings, as one validated model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotbus.schemas._topic import validate_pattern
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
)

__all__ = ["Settings"]


class Settings(BaseModel):
    """Everything the runtime can be told. Resolved from arguments, ``HOTBUS_*`` variables,
    ``hotbus.toml`` and these defaults, in that order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plugin_dirs: tuple[Path, ...] = Field(
        default=(), description="Directories holding plugin modules and packages."
    )
    config_file: Path | None = Field(default=None, description="The hotbus.toml in use.")
    watch: bool = Field(default=True, description="Reload plugins when their files change.")
    debounce_ms: PositiveFloat = Field(
        default=20.0, description="Write window: quiet time after a write before it settles."
    )
    modified_debounce_ms: PositiveFloat = Field(
        default=100.0,
        description="Write window where the platform reports no 'closed' events.",
    )
    delete_window_ms: PositiveFloat = Field(
        default=150.0, description="How long a delete stays tentative (a recreate is a change)."
    )
    max_wait_windows: PositiveInt = Field(
        default=10, description="Continuous writing settles after at most this many windows."
    )
    reload_loop_limit: NonNegativeInt = Field(
        default=5,
        description=(
            "A plugin whose files change this many times in a row while it starts (its own "
            "code writing them) has its next reload delayed, with backoff (0: never)."
        ),
    )
    reload_backoff_max_s: PositiveFloat = Field(
        default=30.0,
        description="The longest delay of a reload held back by reload_loop_limit.",
    )
    setup_timeout_s: PositiveFloat = Field(default=10.0, description="Limit for a plugin's setup.")
    teardown_timeout_s: PositiveFloat = Field(
        default=10.0, description="Limit for a plugin's teardown."
    )
    quiesce_timeout_s: PositiveFloat = Field(
        default=5.0, description="How long a reload waits for in-flight handlers."
    )
    import_timeout_s: PositiveFloat = Field(
        default=5.0,
        description="Limit for executing a plugin's module code; past it the import is stopped.",
    )
    stall_threshold_ms: PositiveFloat = Field(
        default=200.0,
        description="Plugin code holding the event loop this long is reported (loop.stalled).",
    )
    stall_limit_s: NonNegativeFloat = Field(
        default=2.0,
        description="Plugin code holding the event loop this long is interrupted (0: never).",
    )
    stop_timeout_s: PositiveFloat = Field(
        default=30.0,
        description="hotbus run exits at the latest this long after a stop was asked for.",
    )
    entry_points: bool = Field(
        default=True, description="Load plugins of installed distributions ('hotbus.plugins')."
    )
    hot_patch: bool = Field(
        default=True,
        description=(
            "Apply a save that changes only function bodies to the running version in place "
            "(no teardown, no setup); anything else takes the full transaction."
        ),
    )
    stage_ahead: bool = Field(
        default=True,
        description=(
            "Load a save while it settles (its module code runs then); its reload takes that "
            "load if the files it read are unchanged. Off: module code runs once it settled."
        ),
    )
    leak_check: bool = Field(
        default=True, description="Check that unloaded versions are collected."
    )
    persist_state: bool = Field(
        default=True,
        description="Keep each plugin's State in the state database across restarts.",
    )
    state_db: Path | None = Field(
        default=None,
        description=(
            "The state database (SQLite); default .hotbus/state.sqlite3 beside the config file, "
            "else in the first plugin directory."
        ),
    )
    state_save_interval_s: PositiveFloat = Field(
        default=5.0,
        description="How often changed state is written (a hard kill loses at most this).",
    )
    admins: tuple[str, ...] = Field(
        default=(),
        description=(
            "Who may use the !hotbus commands in the chat: nicks, or host masks with * and ? "
            "('nick!user@host', '*!*@trusted.example'). The console's user always may."
        ),
    )
    command_rate_per_min: PositiveInt = Field(
        default=6,
        description="How many !hotbus commands one user may give per minute; more are ignored.",
    )
    irc: str | None = Field(
        default=None,
        description=(
            "Serve the chat on IRC: irc://HOST:PORT/#channel[,#other] (ircs:// for TLS). "
            "The server password and SASL come from the environment only."
        ),
    )
    nick: str = Field(default="hotbus", min_length=1, description="The bot's nick on IRC.")
    fleet_topics: tuple[str, ...] = Field(
        default=(),
        description=(
            "Topic patterns, besides the runtime's own (hotbus.>), that a fleet bridge sends to "
            "the other hosts and brings in from them (e.g. 'chat.>')."
        ),
    )
    fleet_outbox: PositiveInt = Field(
        default=10_000,
        description=(
            "How many events a fleet bridge keeps while NATS is away; past it, new events are "
            "dropped, counted and reported (hotbus.fleet.dropped)."
        ),
    )

    @field_validator("fleet_topics")
    @classmethod
    def _valid_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_pattern(pattern, owner="fleet_topics") for pattern in value)

    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Each plugin's config section, by plugin name.",
        repr=False,  # sections may hold secrets; only the plugin's model knows which
    )
