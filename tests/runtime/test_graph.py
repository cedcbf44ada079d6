"""Dependency graphs: topological order, cycles as closed paths, transitive dependents.

The topological order is checked against a plain reference (ready nodes sorted by name after
every step) on random graphs, cycles and unknown dependencies included; cycles found in the part
of a graph reachable from some nodes are those of the whole graph through that part.
"""

from __future__ import annotations

from hotbus.runtime import dependents_closure, find_cycles, topological_order
from hotbus.runtime._engine.graph import cycles_by_member, reachable
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


def _reference_order(graph: Graph) -> list[str]:
    """The order by its definition: of the nodes ready, the smallest name first, each step
    sorting the ready list again; nodes on a cycle last, in name order."""
    deps = {node: sorted({d for d in graph[node] if d in graph}) for node in graph}
    missing = {node: len(wanted) for node, wanted in deps.items()}
    ready = sorted(node for node, count in missing.items() if count == 0)
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for dependent in sorted(n for n, wanted in deps.items() if node in wanted):
            missing[dependent] -= 1
            if missing[dependent] == 0:
                ready.append(dependent)
        ready.sort()
    order.extend(sorted(node for node in deps if node not in order))
    return order


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """A random graph: any node may depend on any name, itself, or one outside the graph."""
    names = draw(st.lists(st.from_regex(r"[a-e]{1,2}", fullmatch=True), unique=True, max_size=14))
    targets = st.sampled_from([*names, "zz-missing"]) if names else st.just("zz-missing")
    return {name: draw(st.lists(targets, max_size=3)) for name in names}


@settings(deadline=None, max_examples=300)
@given(st.one_of(dags(), graphs()))
def test_topological_order_equals_the_reference_order(graph: Graph) -> None:
    assert topological_order(graph) == _reference_order(graph)


def test_topological_order_equals_the_reference_on_the_documented_graphs() -> None:
    for graph in (
        {"d": [], "b": [], "c": ["d"], "a": []},
        {"b": ["a"], "a": ["b"], "z": []},
        {"dice": ["rng", "missing"], "rng": []},
        {"dice": ["rng"], "coin": ["rng"], "rng": [], "craps": ["dice", "coin"]},
    ):
        assert topological_order(graph) == _reference_order(graph)


@settings(deadline=None, max_examples=300)
@given(graphs(), st.data())
def test_cycles_of_the_reachable_part_are_those_of_the_whole_graph(
    graph: Graph, data: st.DataObject
) -> None:
    roots = data.draw(st.lists(st.sampled_from([*graph, "zz-missing"]), max_size=3))
    part = reachable(graph.get, roots)
    everywhere = cycles_by_member(graph)
    assert set(part) >= {root for root in roots if root in graph}
    assert cycles_by_member(part) == {n: c for n, c in everywhere.items() if n in part}


def test_reachable_follows_dependencies_and_leaves_out_unknown_nodes() -> None:
    graph = {"a": ["b", "gone"], "b": ["c"], "c": [], "d": ["a"]}
    assert reachable(graph.get, ["a"]) == {"a": ["b", "gone"], "b": ["c"], "c": []}


def test_cycles_through_what_a_node_requires_are_found() -> None:
    graph = {"leaf": ["x"], "x": ["y"], "y": ["x"], "other": ["other"]}
    assert cycles_by_member(reachable(graph.get, ["leaf"])) == {
        "x": ["x", "y", "x"],
        "y": ["x", "y", "x"],
    }
