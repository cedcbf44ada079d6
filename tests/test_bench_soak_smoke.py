"""Smoke test of the soak: a short run of the on-disk state machine prints a sane JSON object."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "soak.py"


def test_soak_short_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sync test: the machine runs its own event loop.
    spec = importlib.util.spec_from_file_location("_hotbus_bench_soak", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)

    code = module.main(["--json", "--steps", "6", "--run-steps", "3", "--no-shrink", "--seed", "1"])

    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    assert result["steps"] >= 6
    assert result["runs"] >= 1
    assert result["elapsed_s"] > 0
    for found in result["violations"]:
        assert set(found) == {"category", "seed", "message", "steps"}
