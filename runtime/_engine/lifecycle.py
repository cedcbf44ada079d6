"""The lifecycle state machine: which transitions are legal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from hotbus.schemas import LifecycleError, PluginState

__all__ = ["TRANSITIONS", "check_transition"]

S = PluginState

#: Every legal transition. Anything else is a bug in the runtime and raises `LifecycleError`.
TRANSITIONS: Final[Mapping[PluginState | None, frozenset[PluginState]]] = {
    None: frozenset({S.DISCOVERED}),
    S.DISCOVERED: frozenset({S.LOADING, S.UNLOADED}),
    S.LOADING: frozenset({S.LOADED, S.FAILED, S.UNLOADED}),
    S.LOADED: frozenset({S.STARTING, S.BLOCKED, S.LOADING, S.UNLOADED}),
    S.BLOCKED: frozenset({S.STARTING, S.LOADED, S.LOADING, S.UNLOADED}),
    S.STARTING: frozenset({S.ACTIVE, S.FAILED}),
    S.ACTIVE: frozenset({S.STOPPING}),
    S.STOPPING: frozenset({S.LOADED, S.BLOCKED, S.UNLOADED, S.FAILED}),
    S.FAILED: frozenset({S.LOADING, S.UNLOADED}),
    S.UNLOADED: frozenset({S.DISCOVERED, S.LOADING}),
}


def check_transition(plugin: str, current: PluginState | None, target: PluginState) -> None:
    """Raise `LifecycleError` unless ``current -> target`` is in `TRANSITIONS`."""
    if target not in TRANSITIONS[current]:
        raise LifecycleError(plugin, str(current) if current else "(new)", str(target))
