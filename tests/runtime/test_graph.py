"""Dependency graphs: topological order, cycles as closed paths, transitive dependents."""

from __future__ import annotations

from hotbus.runtime import dependents_closure, find_cycles, topological_order
from hypothesis import given, settings
from hypothesis import strategies as st

Graph = dict[str, list[str]]


def test_topological_order_puts_dependencies_first() -> None:
    assert topological_order({"a": ["b"], "b": ["c"], "c": []}) == ["c", "b", "a"]


def test_topological_order_breaks_ties_by_name() -> None:
    assert topological_order({"d": [], "b": [], "c": ["d"], "a": []}) == ["a", "b", "d", "c"]


def test_topological_order_is_independent_of_insertion_order() -> None:
    graph = {"dice": ["rng"], "coin": ["rng"], "rng": [], "craps": ["dice", "coin"]}
    reversed_graph = dict(reversed(list(graph.items())))
    assert topological_order(graph) == topological_order(reversed_graph)


def test_topological_order_ignores_unknown_dependencies() -> None:
    assert topological_order({"dice": ["rng", "missing"], "rng": []}) == ["rng", "dice"]


def test_topological_order_places_cycle_members_last_in_name_order() -> None:
    assert topological_order({"b": ["a"], "a": ["b"], "z": []}) == ["z", "a", "b"]


def test_find_cycles_returns_a_closed_path_from_the_smallest_name() -> None:
    assert find_cycles({"b": ["a"], "a": ["b"], "c": []}) == [["a", "b", "a"]]


def test_find_cycles_follows_the_dependency_direction() -> None:
    assert find_cycles({"a": ["c"], "b": ["a"], "c": ["b"]}) == [["a", "c", "b", "a"]]


def test_find_cycles_reports_a_self_loop() -> None:
    assert find_cycles({"a": ["a"], "b": []}) == [["a", "a"]]


def test_find_cycles_reports_each_cycle_once_ordered_by_smallest_member() -> None:
    graph = {"x": ["y"], "y": ["x"], "b": ["c"], "c": ["b"], "m": ["b", "x"]}
    assert find_cycles(graph) == [["b", "c", "b"], ["x", "y", "x"]]


def test_find_cycles_of_an_acyclic_graph_is_empty() -> None:
    assert find_cycles({"a": ["b"], "b": ["c"], "c": [], "d": ["missing"]}) == []


def test_dependents_closure_is_transitive() -> None:
    graph = {"rng": [], "dice": ["rng"], "craps": ["dice"], "coin": []}
    assert dependents_closure(graph, ["rng"]) == {"dice", "craps"}


def test_dependents_closure_excludes_the_roots() -> None:
    graph = {"a": ["b"], "b": ["a"]}
    assert dependents_closure(graph, ["a"]) == {"b"}


def test_dependents_closure_of_a_leaf_is_empty() -> None:
    assert dependents_closure({"rng": [], "dice": ["rng"]}, ["dice"]) == set()


@st.composite
def dags(draw: st.DrawFn) -> Graph:
    """A random acyclic graph: each node may depend only on nodes drawn before it."""
    names = draw(st.lists(st.from_regex(r"[a-z]{1,3}", fullmatch=True), unique=True, max_size=12))
    graph: Graph = {}
    for index, name in enumerate(names):
        earlier = names[:index]
        graph[name] = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
    shuffled = draw(st.permutations(list(graph)))
    return {name: graph[name] for name in shuffled}


@settings(deadline=None)
@given(dags())
def test_every_dependency_comes_before_its_dependent(graph: Graph) -> None:
    position = {name: index for index, name in enumerate(topological_order(graph))}
    assert all(position[dep] < position[node] for node, deps in graph.items() for dep in deps)


@settings(deadline=None)
@given(dags())
def test_topological_order_lists_every_node_once(graph: Graph) -> None:
    assert sorted(topological_order(graph)) == sorted(graph)


@settings(deadline=None)
@given(dags())
def test_an_acyclic_graph_has_no_cycles(graph: Graph) -> None:
    assert find_cycles(graph) == []
