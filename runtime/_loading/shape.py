"""The shape of a module's source: everything but the bodies of its functions.

Two versions of a module with the same shape differ only inside function bodies: the same
module-level names and statements, the same classes with the same bases, decorators and class
attributes, the same functions with the same decorators and signatures. Such a change can be
applied to running code by replacing code objects (see ``hotbus.runtime._reload.patch``);
any other change needs the module executed anew.

Only functions defined at the top of the module or of a class body (nested classes included)
are told apart: a function defined inside another function is part of that function's body,
and one defined inside an ``if``, ``try`` or ``with`` at module level is part of that statement.

`reshape` gives the shape of an edited source from the shape of the source before the edit:
only the module-level statements the edit touched are parsed again.
"""

from __future__ import annotations

import ast
import bisect
import difflib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

__all__ = ["Def", "Shape", "ShapeChange", "compare", "reshape", "shape_of"]

#: An encoding declaration (PEP 263): a source with one is decoded by its own rules.
_CODING: Final = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.M)

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

    def moved(self, lines: int) -> Def:
        """This definition ``lines`` lines further down (its node keeps its positions)."""
        if not lines:
            return self
        return Def(self.qualname, self.first_line + lines, self.line + lines, self.text, self.node)


@dataclass(frozen=True, slots=True)
class _Item:
    """One statement of the outline: what it is, by which name, and its text without bodies."""

    kind: str  # "def", "class", "end" (of a class) or "statement"
    name: str
    line: int
    text: bytes
    node: ast.AST | None = field(repr=False, compare=False)

    def moved(self, lines: int) -> _Item:
        """This item ``lines`` lines further down (its node keeps its positions)."""
        if not lines:
            return self
        return _Item(self.kind, self.name, self.line + lines, self.text, self.node)

    def dump(self) -> str:
        """Its code without positions (and without the body of a function or class)."""
        if self.node is None:
            return ""
        if isinstance(self.node, _Function | ast.ClassDef):
            return _dump_without(self.node, "body")
        return ast.dump(self.node)


@dataclass(frozen=True, slots=True)
class _Span:
    """Where one module-level statement is: its lines, and its first item and function."""

    #: Its first line (its first decorator's, for a decorated definition) and its last line.
    first: int
    last: int
    #: The index of its first item in `Shape.items`, and of its first function in `Shape.defs`.
    item: int
    definition: int

    def moved(self, lines: int, items: int, defs: int) -> _Span:
        if not (lines or items or defs):
            return self
        return _Span(
            self.first + lines, self.last + lines, self.item + items, self.definition + defs
        )


@dataclass(frozen=True, slots=True)
class Shape:
    """A module's outline (statements with function bodies left out) and its functions."""

    items: tuple[_Item, ...]
    defs: tuple[Def, ...]
    #: Each module-level statement, in order.
    spans: tuple[_Span, ...] = ()


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
    items: list[_Item] = []
    defs: list[Def] = []
    spans: list[_Span] = []
    _module(tree.body, _Text.of(source), items, defs, spans)
    return Shape(tuple(items), tuple(defs), tuple(spans))


def reshape(old: Shape, old_source: bytes, new_source: bytes, path: Path) -> Shape:
    """The shape of ``new_source``, an edit of ``old_source`` (whose shape is ``old``): what
    `shape_of` gives, for a parse of the statements the edit touched only.

    The lines before and after the edit are the same in both sources. The module-level
    statements the edited lines overlap are parsed again, from the new source, from the first
    line of the first of them (or the first edited line) to the last line of the last of them
    (or the last edited line); the others keep their items, moved by the lines the edit added
    or removed. The new text starts where a statement could start before the edit, and the
    text after it starts with a statement or ends the file, so it parses as whole statements
    when the edit kept statements apart, and fails to parse alone when it did not (an
    ``else:`` or an indented line added after a statement, a bracket or a string left open, a
    line continued): then the whole source is parsed.

    Raises:
        SyntaxError: the new source does not parse.
    """
    old_lines = old_source.splitlines(keepends=True)
    new_lines = new_source.splitlines(keepends=True)
    spans = old.spans
    if _CODING.search(b"".join(old_lines[:2] + new_lines[:2])):
        return shape_of(new_source, path)
    common = min(len(old_lines), len(new_lines))
    head = 0
    while head < common and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while tail < common - head and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    if head == len(old_lines) == len(new_lines):
        return old
    # The edited lines of the old source are start .. end (1-based; none for an insertion).
    start, end = head + 1, len(old_lines) - tail
    firsts = [span.first for span in spans]
    first = bisect.bisect_right(firsts, start) - 1  # the statement holding the start, if any
    if first < 0 or spans[first].last < start:
        first += 1  # the start is between statements
    while 0 < first < len(spans) and spans[first - 1].last >= spans[first].first:
        first -= 1  # statements sharing a line (``a = 1; b = 2``) go together
    if first < len(spans):
        start = min(start, spans[first].first)
    last = bisect.bisect_right(firsts, end) - 1  # the statement holding the end, if any
    while 0 <= last < len(spans) - 1 and spans[last + 1].first <= spans[last].last:
        last += 1
    if last >= 0:
        end = max(end, spans[last].last)
    moved = len(new_lines) - len(old_lines)
    try:
        # Parsed below as many empty lines as precede it, so that its nodes get their lines.
        region = b"\n" * (start - 1) + b"".join(new_lines[start - 1 : end + moved])
        tree = ast.parse(region, filename=str(path))
    except (SyntaxError, ValueError):
        return shape_of(new_source, path)
    kept = spans[first] if first < len(spans) else None
    items = list(old.items[: len(old.items) if kept is None else kept.item])
    defs = list(old.defs[: len(old.defs) if kept is None else kept.definition])
    new_spans = list(spans[:first])
    _module(tree.body, _Text.of(new_source, new_lines), items, defs, new_spans)
    if last + 1 < len(spans):
        after = spans[last + 1]
        shift_items, shift_defs = len(items) - after.item, len(defs) - after.definition
        items.extend(item.moved(moved) for item in old.items[after.item :])
        defs.extend(definition.moved(moved) for definition in old.defs[after.definition :])
        new_spans.extend(span.moved(moved, shift_items, shift_defs) for span in spans[last + 1 :])
    return Shape(tuple(items), tuple(defs), tuple(new_spans))


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

    @classmethod
    def of(cls, source: bytes, lines: list[bytes] | None = None) -> _Text:
        """The text of ``source``, whose lines (``splitlines(keepends=True)``) may be given."""
        lengths = map(len, source.splitlines(keepends=True) if lines is None else lines)
        return cls(source, list(itertools.accumulate(lengths, initial=0)))

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column

    def between(self, start: tuple[int, int], end: tuple[int, int]) -> bytes:
        return self.source[self.offset(*start) : self.offset(*end)]


def _module(
    body: list[ast.stmt], text: _Text, items: list[_Item], defs: list[Def], spans: list[_Span]
) -> None:
    """Append the items, functions and spans of the module-level statements ``body``."""
    for node in body:
        first = node.lineno
        if isinstance(node, _Function | ast.ClassDef):
            first = min([first, *(d.lineno for d in node.decorator_list)])
        spans.append(_Span(first, node.end_lineno or node.lineno, len(items), len(defs)))
        _outline([node], "", text, items, defs)


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
