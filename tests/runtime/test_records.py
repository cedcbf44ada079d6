"""The record table's indexes agree with the records after any sequence of changes.

The table keeps who depends on whom, the plugins waiting to start, the files' owners, the
dependency order and each status row as records change; after random additions, renames,
requirement, manifest, state and file changes and removals, every query answers what a walk
of all the records answers.
"""

from __future__ import annotations

from pathlib import Path

from hotbus.runtime import dependents_closure, topological_order
from hotbus.runtime._engine.graph import cycles_by_member
from hotbus.runtime._engine.records import Record, Records
from hotbus.runtime._loading.loader import PluginSource
from hotbus.schemas import PluginManifest, PluginState, PluginStatus, SourceKind
from hypothesis import given, settings
from hypothesis import strategies as st

NAMES = ["a", "b", "c", "d", "e", "f"]
ROOT = Path("/plugins")
MANIFEST = PluginManifest(name="a", version="1.0.0")


def _source(name: str, package: bool) -> PluginSource:
    if package:
        return PluginSource(name=name, kind=SourceKind.PACKAGE, path=ROOT / name)
    return PluginSource(name=name, kind=SourceKind.MODULE, path=ROOT / f"{name}.py")


def _owners(records: Records, path: Path) -> list[str]:
    """Who owns ``path``, by walking every record."""
    found = list(records.files().get(path, ()))
    for rec in records:
        src = rec.source
        if (
            src.kind is SourceKind.PACKAGE
            and src.path is not None
            and path.is_relative_to(src.path)
        ) and rec.name not in found:
            found.append(rec.name)
    return found


def _fresh_row(rec: Record) -> PluginStatus:
    assert rec.state is not None
    return PluginStatus(
        name=rec.name,
        state=rec.state,
        version=rec.version,
        source=rec.source.describe(),
        kind=rec.source.kind,
        enabled=rec.enabled,
        reason=rec.reason,
        error=rec.error,
        requires=list(rec.requires),
        files=[],
    )


def _check(records: Records) -> None:
    graph = records.graph()
    names = records.names()
    assert records.order() == topological_order(graph)
    loaded = topological_order(records.graph(loaded_only=True))
    waiting = {
        n for n in names if records.get(n).state in (PluginState.LOADED, PluginState.BLOCKED)
    }
    assert records.waiting() == waiting
    assert records.order_of(waiting, loaded_only=True) == [n for n in loaded if n in waiting]
    assert records.order_of(set(names[::2])) == [
        n for n in topological_order(graph) if n in names[::2]
    ]
    everywhere = cycles_by_member(graph)
    for name in names:
        assert records.dependents({name}) == dependents_closure(graph, {name})
        cycles = records.cycles([name])
        assert {n: c for n, c in cycles.items() if n == name} == (
            {name: everywhere[name]} if name in everywhere else {}
        )
    paths = set(records.files()) | {ROOT / n / "x.py" for n in NAMES}
    for path in paths:
        assert records.owners(path) == _owners(records, path)
    for rec in records:
        if rec.state is not None:
            assert rec.status() == _fresh_row(rec)
            assert rec.status() is rec.status()


@settings(deadline=None, max_examples=200)
@given(st.data())
def test_every_index_agrees_with_the_records(data: st.DataObject) -> None:
    records = Records()
    for _ in range(data.draw(st.integers(1, 30))):
        recs = list(records)
        op = data.draw(
            st.sampled_from(
                ["add", "rename", "requires", "manifest", "state", "files", "remove", "status"]
            )
        )
        if op == "add" or not recs:
            name = data.draw(st.sampled_from(NAMES))
            rec = records.add(_source(name, data.draw(st.booleans())))
            rec.state = PluginState.DISCOVERED
        else:
            rec = data.draw(st.sampled_from(recs))
            if op == "rename":
                name = data.draw(st.sampled_from(NAMES))
                if records.find(name) is None:
                    records.rename(rec, name)
            elif op == "requires":
                rec.requires = data.draw(st.lists(st.sampled_from([*NAMES, "gone"]), max_size=3))
            elif op == "manifest":
                rec.manifest = MANIFEST if rec.manifest is None else None
            elif op == "state":
                rec.state = data.draw(st.sampled_from(list(PluginState)))
                rec.reason = data.draw(st.sampled_from(["", "why"]))
            elif op == "files":
                rec.extra_files = set(
                    data.draw(st.lists(st.sampled_from([ROOT / "x.py", ROOT / "a" / "x.py"])))
                )
            elif op == "remove":
                records.remove(rec)
            else:
                rec.enabled = not rec.enabled
        _check(records)


def test_a_removed_record_is_in_no_index() -> None:
    records = Records()
    a = records.add(_source("a", False))
    b = records.add(_source("b", True))
    a.state = b.state = PluginState.BLOCKED
    b.requires = ["a"]
    assert records.dependents({"a"}) == {"b"}
    records.remove(b)
    b.requires = ["a", "c"]  # no longer the table's business
    assert records.dependents({"a"}) == set()
    assert records.waiting() == {"a"}
    assert records.owners(ROOT / "b" / "x.py") == []
    assert records.order() == ["a"]
