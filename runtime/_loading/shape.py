"""The shape of a module's source: everything but the bodies of its functions.

Two versions of a module with the same shape differ only inside function bodies: the same
module-level names and statements, the same classes with the same bases, decorators and class
attributes, the same functions with the same decorators and signatures. Such a change can be
applied to running code by replacing code objects (see ``hotbus.runtime._reload.patch``);
any other change needs the module executed anew.

Only functions defined at the top of the module or of a class body (nested classes included)
are told apart: a function defined inside another function is part of that function's body,
and one defined inside an ``if``, ``try`` or ``with`` at module level is part of that statement.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Def", "Shape", "ShapeChange", "compare", "shape_of"]

_Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class Def:
    """A function defined at the top of the module or of a class, as the source has it."""

    qualname: str
    #: The first line of its definition: its first decorator's, else the ``def``'s.
    first_line: int
    #: The line of the ``def`` itself.
    line: int
    #: A dump of its body (no positions): equal dumps, equal bodies.
    body: str


@dataclass(frozen=True, slots=True)
class _Item:
    """One statement of the outline: what it is, by which name, and its dump without bodies."""

    kind: str  # "def", "class" or "statement"
    name: str
    line: int
    header: str


@dataclass(frozen=True, slots=True)
class Shape:
    """A module's outline (statements with function bodies left out) and its functions."""

    items: tuple[_Item, ...]
    defs: tuple[Def, ...]


@dataclass(frozen=True, slots=True)
class ShapeChange:
    """Why two versions of a module differ in more than function bodies."""

    reason: str
    line: int | None


def shape_of(source: bytes | str, path: Path) -> Shape:
    """The shape of ``source`` (the contents of ``path``).

    Raises:
        SyntaxError: the source does not parse.
    """
    tree = ast.parse(source, filename=str(path))
    items: list[_Item] = []
    defs: list[Def] = []
    _outline(tree.body, "", items, defs)
    return Shape(tuple(items), tuple(defs))


def compare(old: Shape, new: Shape, path: Path) -> ShapeChange | None:
    """None when ``new`` has the shape of ``old``, else the first difference, in words."""
    where = path.name
    before_keys = [_key(item) for item in old.items]
    after_keys = [_key(item) for item in new.items]
    if before_keys != after_keys:
        matcher = difflib.SequenceMatcher(None, before_keys, after_keys, autojunk=False)
        for tag, i1, _, j1, _ in matcher.get_opcodes():
            if tag == "insert":
                added = new.items[j1]
                return ShapeChange(f"{_what(added)} was added ({where}:{added.line})", added.line)
            if tag == "delete":
                gone = old.items[i1]
                return ShapeChange(f"{_what(gone)} was removed (from {where})", None)
            if tag == "replace":
                before, after = old.items[i1], new.items[j1]
                if before.kind == after.kind == "statement":
                    return ShapeChange(_header_change(after, where), after.line)
                return ShapeChange(
                    f"{_what(before)} became {_what(after)} ({where}:{after.line})", after.line
                )
    for before, after in zip(old.items, new.items, strict=True):
        if before.header != after.header:
            return ShapeChange(_header_change(after, where), after.line)
    return None


def _key(item: _Item) -> tuple[str, str, str]:
    """What pairs items of two outlines: a statement by its code, others by kind and name."""
    return item.kind, item.name, item.header if item.kind == "statement" else ""


def _what(item: _Item) -> str:
    if item.kind == "def":
        return f"function {item.name}"
    if item.kind == "class":
        return f"class {item.name}"
    return f"a statement of class {item.name}" if item.name else "a module-level statement"


def _header_change(item: _Item, where: str) -> str:
    if item.kind == "def":
        return f"the signature or decorators of {item.name} changed ({where}:{item.line})"
    if item.kind == "class":
        return f"the bases or decorators of class {item.name} changed ({where}:{item.line})"
    scope = f" of class {item.name}" if item.name else ""
    return f"code outside function bodies{scope} changed ({where}:{item.line})"


def _outline(body: list[ast.stmt], scope: str, items: list[_Item], defs: list[Def]) -> None:
    """Append the items and functions of ``body`` (a module's or a class's) to the lists."""
    for node in body:
        if isinstance(node, _Function):
            qualname = f"{scope}{node.name}"
            header = _dump_without(node, "body")
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            items.append(_Item("def", qualname, node.lineno, header))
            defs.append(Def(qualname, first, node.lineno, _dump_body(node.body)))
        elif isinstance(node, ast.ClassDef):
            qualname = f"{scope}{node.name}"
            items.append(_Item("class", qualname, node.lineno, _dump_without(node, "body")))
            _outline(node.body, f"{qualname}.", items, defs)
            items.append(_Item("class", qualname, node.lineno, "end"))
        else:
            items.append(_Item("statement", scope.rstrip("."), node.lineno, ast.dump(node)))


def _dump_body(body: list[ast.stmt]) -> str:
    return "\n".join(ast.dump(statement) for statement in body)


def _dump_without(node: ast.AST, field: str) -> str:
    """A dump of ``node`` with its ``field`` left out."""
    parts = [type(node).__name__]
    for name, value in ast.iter_fields(node):
        if name == field:
            continue
        if isinstance(value, list):
            parts.append(f"{name}=[{', '.join(_dump(v) for v in value)}]")
        else:
            parts.append(f"{name}={_dump(value)}")
    return "(".join(parts[:1]) + "(" + ", ".join(parts[1:]) + ")"


def _dump(value: object) -> str:
    return ast.dump(value) if isinstance(value, ast.AST) else repr(value)
