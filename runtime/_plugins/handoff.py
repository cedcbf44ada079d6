"""State hand-off between two versions of a plugin: packing, and unpacking with migration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotbus.runtime._plugins.plugin import Plugin, State
from hotbus.schemas import PluginError

__all__ = ["Handoff", "pack", "unpack"]


@dataclass(frozen=True, slots=True)
class Handoff:
    """State exported by one plugin version for the next: JSON data plus its schema version."""

    schema_version: int
    data: dict[str, Any]


def pack(plugin: str, state: object, path: Path | None = None) -> Handoff | None:
    """Turn what ``export_state`` returned into a `Handoff` (None: nothing to hand over).

    The state travels as JSON data, so that nothing of the old version's classes (its
    models, its enums) survives into the new one and keeps the old version alive.
    """
    if state is None:
        return None
    if not isinstance(state, State):
        raise PluginError(
            plugin,
            f"export_state returned {type(state).__name__}: return an instance of the "
            "plugin's state_model (a runtime.State subclass), or None",
            path=path,
        )
    return Handoff(type(state).schema_version, state.model_dump(mode="json"))


def unpack(instance: Plugin, handoff: Handoff) -> tuple[State | None, str]:
    """The state for ``instance`` (validated, or migrated from an older schema).

    Returns ``(state, "")``, or ``(None, reason)`` when the plugin must start fresh. A state
    that does not validate against a model of the same schema version raises.
    """
    model = type(instance).state_model
    if model is None:
        return None, "this version declares no state_model"
    if handoff.schema_version == model.schema_version:
        return model.model_validate(handoff.data), ""
    if handoff.schema_version < model.schema_version:
        state = instance.migrate_state(dict(handoff.data), handoff.schema_version)
        if state is None:
            return None, (
                f"no migration from state schema {handoff.schema_version} to "
                f"{model.schema_version}: define migrate_state to keep the state"
            )
        return state, ""
    return None, (
        f"the state has schema {handoff.schema_version}, newer than this version's "
        f"{model.schema_version}"
    )
