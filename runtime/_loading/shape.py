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
from dataclasses import dataclass, field
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
    #: The source text of its body.
    text: bytes
    node: _Function = field(repr=False, compare=False)

    def same_body(self, other: Def) -> bool:
        """Whether ``other``'s body is this one's, comments and layout aside."""
        return self.text == other.text or _dump_body(self.node) == _dump_body(other.node)


@dataclass(frozen=True, slots=True)
class _Item:
    """One statement of the outline: what it is, by which name, and its text without bodies."""

    kind: str  # "def", "class", "end" (of a class) or "statement"
    name: str
    line: int
    text: bytes
    node: ast.AST | None = field(repr=False, compare=False)

    def dump(self) -> str:
        """Its code without positions (and without the body of a function or class)."""
        if self.node is None:
            return ""
        if isinstance(self.node, _Function | ast.ClassDef):
            return _dump_without(self.node, "body")
        return ast.dump(self.node)


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


def shape_of(source: bytes, path: Path) -> Shape:
    """The shape of ``source`` (the contents of ``path``).

    Raises:
        SyntaxError: the source does not parse.
    """
    tree = ast.parse(source, filename=str(path))
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    items: list[_Item] = []
    defs: list[Def] = []
    _outline(tree.body, "", _Text(source, starts), items, defs)
    return Shape(tuple(items), tuple(defs))


def compare(old: Shape, new: Shape, path: Path) -> ShapeChange | None:
    """None when ``new`` has the shape of ``old``, else the first difference, in words.

    Items whose text is the same are the same; only those whose text differs are compared as
    code (so that a comment or a line break outside function bodies changes nothing).
    """
    where = path.name
    if [(a.kind, a.name) for a in old.items] == [(b.kind, b.name) for b in new.items]:
        for before, after in zip(old.items, new.items, strict=True):
            if before.text != after.text and before.dump() != after.dump():
                return ShapeChange(_header_change(after, where), after.line)
        return None
    before_keys = [_key(item) for item in old.items]
    after_keys = [_key(item) for item in new.items]
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
    return ShapeChange(f"the outline of {where} changed", None)


def _key(item: _Item) -> tuple[str, str, str]:
    """What pairs items of two outlines: a statement by its code, others by kind and name."""
    return item.kind, item.name, item.dump() if item.kind == "statement" else ""


def _what(item: _Item) -> str:
    if item.kind == "def":
        return f"function {item.name}"
    if item.kind in ("class", "end"):
        return f"class {item.name}"
    return f"a statement of class {item.name}" if item.name else "a module-level statement"


def _header_change(item: _Item, where: str) -> str:
    if item.kind == "def":
        return f"the signature or decorators of {item.name} changed ({where}:{item.line})"
    if item.kind == "class":
        return f"the bases or decorators of class {item.name} changed ({where}:{item.line})"
    scope = f" of class {item.name}" if item.name else ""
    return f"code outside function bodies{scope} changed ({where}:{item.line})"


@dataclass(frozen=True, slots=True)
class _Text:
    """A source and where each of its lines starts (AST positions are line, UTF-8 byte)."""

    source: bytes
    starts: list[int]

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column

    def between(self, start: tuple[int, int], end: tuple[int, int]) -> bytes:
        return self.source[self.offset(*start) : self.offset(*end)]


def _outline(
    body: list[ast.stmt], scope: str, text: _Text, items: list[_Item], defs: list[Def]
) -> None:
    """Append the items and functions of ``body`` (a module's or a class's) to the lists."""
    for node in body:
        end = (node.end_lineno or node.lineno, node.end_col_offset or 0)
        if isinstance(node, _Function | ast.ClassDef):
            qualname = f"{scope}{node.name}"
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            head = (first, min([node.col_offset, *(d.col_offset - 1 for d in node.decorator_list)]))
            inner = node.body[0]
            opening = (inner.lineno, inner.col_offset)
            header = text.between(head, opening)
            if isinstance(node, ast.ClassDef):
                items.append(_Item("class", qualname, node.lineno, header, node))
                _outline(node.body, f"{qualname}.", text, items, defs)
                items.append(_Item("end", qualname, node.lineno, b"", None))
                continue
            items.append(_Item("def", qualname, node.lineno, header, node))
            defs.append(Def(qualname, first, node.lineno, text.between(opening, end), node))
        else:
            start = (node.lineno, node.col_offset)
            items.append(
                _Item("statement", scope.rstrip("."), node.lineno, text.between(start, end), node)
            )


def _dump_body(node: _Function) -> str:
    return "\n".join(ast.dump(statement) for statement in node.body)


def _dump_without(node: ast.AST, field: str) -> str:
    """A dump of ``node`` with its ``field`` left out."""
    parts = []
    for name, value in ast.iter_fields(node):
        if name == field:
            continue
        if isinstance(value, list):
            parts.append(f"{name}=[{', '.join(_dump(v) for v in value)}]")
        else:
            parts.append(f"{name}={_dump(value)}")
    return f"{type(node).__name__}({', '.join(parts)})"


def _dump(value: object) -> str:
    return ast.dump(value) if isinstance(value, ast.AST) else repr(value)
