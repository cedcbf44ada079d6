"""`PatternIndex`: the wildcard patterns a bus has subscriptions on, by token."""

from __future__ import annotations

__all__ = ["PatternIndex"]


class _Node:
    """One token of a path: the tokens that may follow, and the pattern ending here."""

    __slots__ = ("children", "pattern")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.pattern: str | None = None


class PatternIndex:
    """Finds the patterns that match a topic by walking its tokens, not by trying each pattern.

    Patterns follow NATS: ``*`` matches one token, ``>`` (last) one or more. A topic of ``n``
    tokens visits at most the nodes reachable through its own tokens and ``*``, so planning a
    publish costs as much with a thousand patterns on other topics as with none (as NATS's
    subject tree does).

    >>> index = PatternIndex()
    >>> index.add("chat.*"); index.add("chat.>"); index.add("hotbus.>")
    >>> sorted(index.matching("chat.message"))
    ['chat.*', 'chat.>']
    """

    __slots__ = ("_count", "_root")

    def __init__(self) -> None:
        self._root = _Node()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, pattern: str) -> None:
        """Index ``pattern`` (a valid pattern; adding it again changes nothing)."""
        node = self._root
        for token in pattern.split("."):
            child = node.children.get(token)
            if child is None:
                child = node.children[token] = _Node()
            node = child
        if node.pattern is None:
            node.pattern = pattern
            self._count += 1

    def discard(self, pattern: str) -> None:
        """Forget ``pattern`` if it is indexed, and the nodes only it used."""
        path = [self._root]
        tokens = pattern.split(".")
        for token in tokens:
            child = path[-1].children.get(token)
            if child is None:
                return
            path.append(child)
        if path[-1].pattern is None:
            return
        path[-1].pattern = None
        self._count -= 1
        for depth in range(len(tokens), 0, -1):
            node = path[depth]
            if node.children or node.pattern is not None:
                break
            del path[depth - 1].children[tokens[depth - 1]]

    def matching(self, topic: str) -> list[str]:
        """Every indexed pattern that matches ``topic`` (a concrete topic), in no set order."""
        found: list[str] = []
        nodes = [self._root]
        for token in topic.split("."):
            following: list[_Node] = []
            for node in nodes:
                children = node.children
                rest = children.get(">")
                if rest is not None and rest.pattern is not None:
                    found.append(rest.pattern)  # at least this token is left for it
                child = children.get(token)
                if child is not None:
                    following.append(child)
                child = children.get("*")
                if child is not None:
                    following.append(child)
            if not following:
                return found
            nodes = following
        found += [node.pattern for node in nodes if node.pattern is not None]
        return found
