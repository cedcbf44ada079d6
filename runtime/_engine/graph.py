"""Dependency graphs: topological order, cycles, and dependents."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping

__all__ = [
    "cycles_by_member",
    "dependents_closure",
    "find_cycles",
    "reachable",
    "topological_order",
]


def topological_order(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Order ``graph``'s nodes so that each comes after the nodes it depends on.

    ``graph`` maps a node to its dependencies; dependencies outside the graph are ignored.
    Nodes on a cycle come after every node that is not, in name order. Ties break by name (of
    the nodes ready, the smallest name comes first), so the order is deterministic. It takes
    O(N log N + E) for N nodes and E dependencies.
    """
    dependents: dict[str, list[str]] = {node: [] for node in graph}
    missing: dict[str, int] = {}
    for node in graph:
        wanted = {d for d in graph[node] if d in dependents}
        missing[node] = len(wanted)
        for dep in wanted:
            dependents[dep].append(node)
    ready = [node for node, count in missing.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for dependent in dependents[node]:
            missing[dependent] -= 1
            if missing[dependent] == 0:
                heapq.heappush(ready, dependent)
    if len(order) < len(missing):
        placed = set(order)
        order.extend(sorted(node for node in missing if node not in placed))
    return order


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every dependency cycle of ``graph`` (strongly connected parts), each as a closed path.

    A cycle ``a -> b -> a`` is returned as ``["a", "b", "a"]``, starting at its smallest name.
    """
    deps = {node: sorted({d for d in graph[node] if d in graph}) for node in graph}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:
        nonlocal counter
        work: list[tuple[str, int]] = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, child = work[-1]
            if child < len(deps[node]):
                work[-1] = (node, child + 1)
                nxt = deps[node][child]
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in deps[node]:
                    components.append(component)

    for node in sorted(deps):
        if node not in index:
            visit(node)
    return [_as_path(component, deps) for component in sorted(components, key=min)]


def _as_path(component: list[str], deps: Mapping[str, list[str]]) -> list[str]:
    members = set(component)
    start = min(component)
    path = [start]
    node = start
    seen = {start}
    while True:
        following = [d for d in deps[node] if d in members]
        nxt = next((d for d in following if d not in seen), None)
        if nxt is None:
            back = start if start in following else following[0]
            path.append(back)
            return path
        path.append(nxt)
        seen.add(nxt)
        node = nxt


def dependents_closure(graph: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """Every node that depends on one of ``roots``, directly or transitively (roots excluded)."""
    dependents: dict[str, set[str]] = {}
    for node, wanted in graph.items():
        for dep in wanted:
            dependents.setdefault(dep, set()).add(node)
    roots = set(roots)
    found: set[str] = set()
    todo = list(roots)
    while todo:
        for dependent in dependents.get(todo.pop(), ()):
            if dependent not in found and dependent not in roots:
                found.add(dependent)
                todo.append(dependent)
    return found


def cycles_by_member(graph: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Each node on a dependency cycle of ``graph``, with its cycle (see `find_cycles`)."""
    return {node: cycle for cycle in find_cycles(graph) for node in cycle}


def reachable(
    requires: Callable[[str], Iterable[str] | None], roots: Iterable[str]
) -> dict[str, list[str]]:
    """The part of a graph reachable from ``roots``, following dependencies.

    ``requires`` gives a node's dependencies, or None for a node outside the graph (left out,
    like the dependencies `topological_order` ignores). The part found is closed under
    dependencies, so every cycle through one of its nodes lies within it: `find_cycles` of it
    finds exactly the cycles of the whole graph that pass through what ``roots`` reach, in time
    proportional to that part rather than to the whole graph.
    """
    found: dict[str, list[str]] = {}
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node in found:
            continue
        wanted = requires(node)
        if wanted is None:
            continue
        found[node] = list(wanted)
        todo.extend(found[node])
    return found
