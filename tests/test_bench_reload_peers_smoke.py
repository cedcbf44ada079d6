"""Smoke test of ``bench/reload.py --peers``: a tiny run prints the side-by-side JSON object,
hotbus and every installed peer measured in each kind of save, a peer not installed named
under ``peers_skipped``."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "reload.py"


def _bench(monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.spec_from_file_location("_hotbus_bench_reload_peers", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


def test_reload_benchmark_peers_quick_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _bench(monkeypatch)
    peers = {**module.PEERS, "nopeer": "hotbus_no_such_peer"}
    monkeypatch.setattr(module, "PEERS", peers)
    present = [name for name, mod in peers.items() if importlib.util.find_spec(mod) is not None]

    code = module.main(["--peers", "--json", "--quick", "--saves", "1", "--peer-timeout", "1"])

    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert list(result["peers"]) == present
    assert result["peers_skipped"] == [
        f"{name} (not installed; pip install -e '.[bench]')"
        for name in peers
        if name not in present
    ]
    contenders = ["hotbus", *present]
    assert list(result["peer_answer_latency_ms"]) == contenders
    assert list(result["peer_saves_missed"]) == contenders
    for name in contenders:
        for style in ("in_place", "atomic"):
            figures = result["peer_answer_latency_ms"][name][style]
            assert set(figures) == {"p50", "p95", "max"}, (name, style)
            missed = result["peer_saves_missed"][name][style]
            assert missed in (0, 1), (name, style, missed)
            for value in figures.values():  # None: the save was missed
                assert (value is None) == (missed == 1), (name, style, figures)
                assert value is None or (math.isfinite(value) and value > 0), (name, style)
    for name in present:
        for style in ("in_place", "atomic"):
            spread = result["peer_ratio_spread"][name][style]
            ratio = result["peer_ratio"][name][style]
            assert spread is None or set(spread) == {"median", "low", "high", "rounds"}
            assert (ratio is None) == (spread is None), (name, style)
    assert set(result["peer_settings"]) == set(contenders)
    assert result["saves_per_kind"] == 1
    assert isinstance(result["misses"], list)


@pytest.mark.parametrize(("check", "code"), [([], 0), (["--check"], 1)])
def test_reload_benchmark_peers_check_fails_on_a_missed_target(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    check: list[str],
    code: int,
) -> None:
    module = _bench(monkeypatch)
    monkeypatch.setattr(module, "PEERS", {})  # hotbus alone: the quickest run
    missed = ["peer_saves_missed[hotbus][atomic]=1 > 0"]
    monkeypatch.setattr(module, "peers_misses", lambda result: missed)

    returned = module.main(["--peers", "--json", "--quick", "--saves", "1", *check])

    assert (returned, json.loads(capsys.readouterr().out)["misses"]) == (code, missed)
