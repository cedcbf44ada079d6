"""State hand-off between two versions of a plugin: packing, and unpacking with migration.

What happens to the state across a reload depends on the two versions' ``schema_version``:

- the same: the data is validated against the new `State` model. Keys the model does not
  declare (a field renamed or removed without a new schema version) are not silently dropped:
  `unpack` names them, and the fields that fell back to their defaults, in a `StateMismatch`
  that the runtime publishes; the new version runs with what did validate. Data that fails
  validation (a value of the wrong type, extras a model forbids) raises, naming the fields.
- older: the new version's ``migrate_state`` turns the data into its model, or starts fresh.
- newer, or no ``state_model``: the new version starts fresh (`Unpacked.reason` says why).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hotbus.runtime._plugins.plugin import Plugin, State
from hotbus.schemas import PluginError, StateMismatch
from pydantic import BaseModel, ValidationError

__all__ = ["MISMATCH_HINT", "Handoff", "Unpacked", "pack", "unpack"]

#: How to keep a value whose field changed, said wherever a hand-off lost one.
MISMATCH_HINT: Final = "bump schema_version and define migrate_state, or keep the field name"

Loc = tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class Handoff:
    """State exported by one plugin version for the next: JSON data plus its schema version."""

    schema_version: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unpacked:
    """What `unpack` made of a `Handoff` for the new version."""

    #: The state to import; None when the new version starts fresh.
    state: State | None
    #: Why the new version starts fresh ("" when it has a state).
    reason: str = ""
    #: Set when data of the same schema version did not fit the new model exactly.
    mismatch: StateMismatch | None = None


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


def unpack(instance: Plugin, handoff: Handoff, path: Path | None = None) -> Unpacked:
    """The state for ``instance`` (validated, or migrated from an older schema).

    Data of the same schema version is validated against the new model; keys the model does
    not declare are reported in `Unpacked.mismatch` (with the fields that fell back to their
    defaults), not silently dropped.

    Raises:
        PluginError: data of the same schema version fails validation (naming the fields);
            whatever the model's validators or ``migrate_state`` raise propagates as it is.
    """
    model = type(instance).state_model
    if model is None:
        return Unpacked(None, "this version declares no state_model")
    if handoff.schema_version == model.schema_version:
        return _validate(instance.name, model, handoff, path)
    if handoff.schema_version < model.schema_version:
        state = instance.migrate_state(dict(handoff.data), handoff.schema_version)
        if state is None:
            return Unpacked(
                None,
                f"no migration from state schema {handoff.schema_version} to "
                f"{model.schema_version}: define migrate_state to keep the state",
            )
        return Unpacked(state)
    return Unpacked(
        None,
        f"the state has schema {handoff.schema_version}, newer than this version's "
        f"{model.schema_version}",
    )


def _validate(plugin: str, model: type[State], handoff: Handoff, path: Path | None) -> Unpacked:
    """Validate data of the model's own schema version, noticing what does not fit exactly.

    The data is first validated forbidding extra keys at every level (pydantic's own notion of
    a key the model does not take, after its validators ran): when that passes, it fit exactly.
    Otherwise it is validated as the model says, and the extra keys it ignored are reported.
    """
    try:
        return Unpacked(model.model_validate(handoff.data, extra="forbid"))
    except ValidationError as strict:
        extras = [_loc(e["loc"]) for e in strict.errors() if e["type"] == "extra_forbidden"]
    try:
        state = model.model_validate(handoff.data)
    except ValidationError as error:
        raise PluginError(
            plugin,
            f"the state handed over (schema {handoff.schema_version}) does not validate "
            f"against {model.__name__}, of the same schema version: "
            f"{_describe(error.errors())}; bump schema_version and define migrate_state, "
            "or keep the field names and types",
            path=path,
        ) from error
    dropped = _unique(_dotted(loc) for loc in extras if not _kept(state, loc))
    if not dropped:
        return Unpacked(state)
    mismatch = StateMismatch(
        plugin=plugin,
        schema_version=handoff.schema_version,
        model=model.__name__,
        dropped=dropped,
        defaulted=_unique(_defaulted(state, "")),
        hint=MISMATCH_HINT,
    )
    return Unpacked(state, mismatch=mismatch)


def _loc(loc: Iterable[int | str]) -> Loc:
    return tuple(loc)


def _dotted(loc: Loc) -> str:
    """``("items", 0, "name")`` -> ``"items[].name"``: one name for every element of a list."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += "[]"
        else:
            text += f".{part}" if text else part
    return text


def _describe(errors: Iterable[Any]) -> str:
    """``"count: Extra inputs are not permitted; total: Input should be ..."``."""
    return "; ".join(f"{_dotted(_loc(e['loc'])) or '(the state)'}: {e['msg']}" for e in errors)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _kept(state: BaseModel, loc: Loc) -> bool:
    """Whether the extra key at ``loc`` was kept, by a model that allows extras."""
    node: object = state
    for part in loc[:-1]:
        node = _child(node, part)
        if node is None:
            return False
    extra = node.model_extra if isinstance(node, BaseModel) else None
    return extra is not None and loc[-1] in extra


def _child(node: object, part: int | str) -> object:
    """The value under ``part`` (a field name or alias, an index, a key) of ``node``, or None."""
    if isinstance(node, BaseModel) and isinstance(part, str):
        for name, field in type(node).model_fields.items():
            if part in (name, field.alias, field.validation_alias):
                return getattr(node, name)
        return None
    if isinstance(node, (list, tuple)) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    if isinstance(node, dict):
        return node.get(part)
    return None


def _defaulted(node: object, prefix: str) -> Iterator[str]:
    """The fields under ``node`` that the data did not set: they hold their defaults."""
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            where = f"{prefix}.{name}" if prefix else name
            if name in node.model_fields_set:
                yield from _defaulted(getattr(node, name), where)
            else:
                yield where
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _defaulted(item, f"{prefix}[]")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _defaulted(value, f"{prefix}.{key}" if prefix else str(key))
