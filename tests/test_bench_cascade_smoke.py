"""Smoke test of the cascade benchmark: a quick run prints a sane JSON object."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "cascade.py"


def test_cascade_benchmark_quick_json_has_every_figure_finite_and_positive(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("_hotbus_bench_cascade", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)

    code = module.main(["--json", "--quick"])

    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    assert set(result) == {"chain", "fanout", "per_plugin_growth_500_vs_10", "quick", "misses"}
    assert isinstance(result["misses"], list)
    assert result["quick"] is True
    figures = {
        f"{shape}.{size}": result[shape][size]
        for shape in ("chain", "fanout")
        for size in ("10", "100", "500")
    }
    assert set(result["chain"]) == set(result["fanout"]) == {"10", "100", "500"}
    figures["per_plugin_growth_500_vs_10"] = result["per_plugin_growth_500_vs_10"]
    for key, value in figures.items():
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
