"""Hot patch: a save that changes only function bodies, applied to the running version.

`plan` compares a running version with a staged one of the same plugin. When every file that
changed kept its shape (`hotbus.runtime._loading.shape`: only function bodies differ), the plan
pairs each function of the running version's modules with its new code object; otherwise it
says, in words, why the change needs a full reload. `apply` then replaces the code objects all
at once, on the loop, between two deliveries: a call already running finishes on the old code,
the next call runs the new code; the instance, its attributes, subscriptions and tasks are
untouched. If a replacement fails, every function already replaced is restored.

Functions whose code only moved (lines added or removed above them) are patched too, so that
tracebacks keep pointing at the right lines.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from hotbus.runtime._loading.loader import Loaded
from hotbus.runtime._loading.shape import Def, compare

__all__ = ["Patch", "Replacement", "apply", "plan"]

#: Flags that make a function another kind of callable: a patch must keep them.
_KIND_FLAGS: Final = (
    inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_ITERABLE_COROUTINE
    | inspect.CO_VARARGS
    | inspect.CO_VARKEYWORDS
)
#: How many wrappers (``__wrapped__``, ``staticmethod``...) are looked through at most.
_UNWRAP_LIMIT: Final = 16


@dataclass(frozen=True, slots=True)
class Replacement:
    """One function of the running version and the code it gets."""

    function: types.FunctionType
    code: types.CodeType
    doc: str | None
    #: The function's name for people: ``Class.method``, ``helper.function`` in a helper.
    label: str


@dataclass(slots=True)
class Patch:
    """What a body-only change replaces in the running version."""

    replacements: list[Replacement] = field(default_factory=list)
    #: The functions whose bodies changed, by label.
    functions: list[str] = field(default_factory=list)
    #: How many functions only moved to other lines.
    relocated: int = 0
    #: How long comparing the versions took (ms).
    planned_ms: float = 0.0


def plan(old: Loaded, new: Loaded) -> Patch | str:
    """The patch that turns the running ``old`` into ``new``, or why there is none."""
    if old.generation is None or new.generation is None:
        return "an installed distribution's code is not watched for patching"
    before, after = old.generation, new.generation
    if set(before.files) != set(after.files):
        added = sorted(set(after.files) - set(before.files))
        if added:
            return f"it now imports {added[0].name}"
        removed = sorted(set(before.files) - set(after.files))
        return f"it no longer imports {removed[0].name}"
    modules: tuple[dict[Path, types.ModuleType], dict[Path, types.ModuleType]] | None = None
    main = old.source.main_file
    patch = Patch()
    for path in sorted(before.files):
        old_source, new_source = before.sources.get(path), after.sources.get(path)
        if old_source is None or new_source is None:
            return f"the source {path.name} was read from is not known"
        if old_source == new_source:
            continue
        try:
            old_shape = before.shape(path)
            new_shape = after.shape(path, since=before)
        except (SyntaxError, ValueError) as error:  # both compiled: not expected
            return f"{path.name} could not be parsed: {error}"
        change = compare(old_shape, new_shape, path)
        if change is not None:
            return change.reason
        if modules is None:  # only for a change that kept the shape
            modules = old.modules(), new.modules()
        old_module, new_module = modules[0].get(path), modules[1].get(path)
        if old_module is None or new_module is None:
            return f"{path.name} is not loaded as a module"
        prefix = "" if path == main else f"{_relative(old_module, before.package)}."
        problem = _pair(
            patch,
            prefix,
            zip(old_shape.defs, new_shape.defs, strict=True),
            _Finder(old_module, path),
            _Finder(new_module, path),
        )
        if problem is not None:
            return problem
    return patch


def apply(patch: Patch) -> None:
    """Give every function of ``patch`` its new code, all at once.

    Raises:
        BaseException: what a replacement raised, after every function already replaced got
            its old code back.
    """
    done: list[tuple[types.FunctionType, types.CodeType, str | None]] = []
    try:
        for replacement in patch.replacements:
            function = replacement.function
            done.append((function, function.__code__, function.__doc__))
            function.__code__ = replacement.code
            function.__doc__ = replacement.doc
    except BaseException:
        for function, code, doc in reversed(done):
            function.__code__ = code
            function.__doc__ = doc
        raise


def _pair(
    patch: Patch,
    prefix: str,
    defs: Iterator[tuple[Def, Def]],
    old_functions: _Finder,
    new_functions: _Finder,
) -> str | None:
    """Add to ``patch`` each function of the pairs of ``defs`` that changed or moved.

    Returns why the change cannot be patched, if it cannot.
    """
    for before, after in defs:
        changed = not before.same_body(after)
        if not changed and before.first_line == after.first_line:
            continue
        label = f"{prefix}{before.qualname}"
        old = old_functions.find(before)
        new = new_functions.find(after)
        if old is None or new is None:
            if not changed:
                continue  # out of reach, and unchanged: only its line numbers are off
            return (
                f"{label} has no function to patch (a decorator replaced it: keep the "
                "function reachable with functools.wraps)"
            )
        problem = _incompatible(old.__code__, new.__code__, label)
        if problem is not None:
            if not changed:
                continue
            return problem
        patch.replacements.append(Replacement(old, new.__code__, new.__doc__, label))
        if changed:
            patch.functions.append(label)
        else:
            patch.relocated += 1
    return None


def _incompatible(old: types.CodeType, new: types.CodeType, label: str) -> str | None:
    """Why ``new`` cannot replace ``old`` in a running function, if it cannot."""
    if old.co_freevars != new.co_freevars:
        return (
            f"{label} now uses other variables of its enclosing scope "
            f"({', '.join(new.co_freevars) or 'none'} instead of "
            f"{', '.join(old.co_freevars) or 'none'}; super() uses __class__)"
        )
    if (old.co_flags ^ new.co_flags) & _KIND_FLAGS:
        return f"{label} changed kind (a yield or await added or removed)"
    return None


class _Finder:
    """Finds the functions of one module compiled from its definitions.

    First by the definition's qualified name (``Class.method``: the module's namespace, then
    the class's), then, for what is not there under its name, among every function reachable
    from the module (walked once).
    """

    __slots__ = ("_every", "_filename", "_module")

    def __init__(self, module: types.ModuleType, path: Path) -> None:
        self._module = module
        self._filename = str(path)
        self._every: dict[str, list[types.FunctionType]] | None = None

    def find(self, where: Def) -> types.FunctionType | None:
        """The function compiled from the definition ``where``: same qualified name, first
        line."""
        found = self._by_name(where)
        if found is not None:
            return found
        if self._every is None:
            self._every = _functions(self._module, Path(self._filename))
        return self._matching(self._every.get(where.qualname, ()), where)

    def _by_name(self, where: Def) -> types.FunctionType | None:
        value: object = self._module
        for part in where.qualname.split("."):
            if value is self._module:
                value = vars(self._module).get(part)
            elif issubclass(type(value), type):
                assert isinstance(value, type)
                value = vars(value).get(part)
            else:
                return None
        return self._matching(_unwrapped(value), where)

    def _matching(
        self, candidates: Iterable[types.FunctionType], where: Def
    ) -> types.FunctionType | None:
        for function in candidates:
            code = function.__code__
            if (
                code.co_filename == self._filename
                and code.co_qualname == where.qualname
                and code.co_firstlineno == where.first_line
            ):
                return function
        return None


def _relative(module: types.ModuleType, package: str) -> str:
    """``module``'s name inside its generation (``questions``, ``trivia.questions``)."""
    return module.__name__.removeprefix(package + ".")


def _functions(module: types.ModuleType, path: Path) -> dict[str, list[types.FunctionType]]:
    """Every function compiled from ``path`` reachable from ``module``'s namespace and the
    classes defined there, by qualified name.

    Only exact types are looked at (never ``isinstance``, never an attribute of a plugin
    object): finding functions runs no plugin code.
    """
    filename = str(path)
    found: dict[str, list[types.FunctionType]] = {}
    seen: set[int] = set()
    classes: list[type] = []
    todo = list(vars(module).values())
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if issubclass(type(value), type):
            assert isinstance(value, type)
            if vars(value).get("__module__") == module.__name__:
                classes.append(value)
                todo.extend(vars(value).values())
            continue
        for function in _unwrapped(value):
            code = function.__code__
            if code.co_filename == filename:
                found.setdefault(code.co_qualname, []).append(function)
    return found


def _unwrapped(value: object) -> Iterator[types.FunctionType]:
    """The plain functions ``value`` is or wraps (methods, properties, functools wrappers)."""
    todo = [value]
    for _ in range(_UNWRAP_LIMIT):
        if not todo:
            return
        item = todo.pop()
        kind = type(item)
        if kind is types.FunctionType:
            assert isinstance(item, types.FunctionType)
            yield item
            wrapped = item.__dict__.get("__wrapped__")
            if wrapped is not None:
                todo.append(wrapped)
        elif kind is staticmethod or kind is classmethod or kind is types.MethodType:
            todo.append(item.__func__)  # type: ignore[attr-defined]
        elif kind is property:
            assert isinstance(item, property)
            todo.extend(f for f in (item.fget, item.fset, item.fdel) if f is not None)
        elif kind is functools.cached_property:
            todo.append(item.func)  # type: ignore[attr-defined]
