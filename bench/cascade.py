"""Benchmark: a cascade reload of a chain and of a fan-out of 10, 100 and 500 plugins.

Generates the plugins into a temporary directory per shape and size:

* chain: ``p000 <- p001 <- ... <- p<N-1>``, each requiring the one before it;
* fan-out: the root ``p000`` and N-1 plugins requiring only the root.

Each starts a `Runtime` (no watching, no event logging, no entry points), then times
``await runtime.reload("p000")``: the whole cascade, every member re-staged from its source,
torn down in reverse order and set up in order, with the commit listing all N members. Before
each reload the root's source changes in place, so each reload is a new version. The median of
the rounds is reported, in milliseconds::

    python bench/cascade.py            # a table
    python bench/cascade.py --json     # one JSON object
    python bench/cascade.py --quick    # sizes 10, 20, 40 (under the keys 10, 100, 500)
    python bench/cascade.py --check    # exit status 1 if the target is missed (listed in misses)

``per_plugin_growth_500_vs_10`` is the per-plugin time at 500 divided by the per-plugin time at
10, the worse of chain and fan-out. Target: at most 1.5, i.e. the cascade grows linearly.

The runtime's leak check is off: it runs in a task after each commit (a garbage collection) and
would land in the next round's timing; every round starts after a collection of its own instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as ``python bench/cascade.py``, this file's directory leads sys.path and bench/bus.py
    # would shadow the ``bus`` package: drop that entry before importing the runtime.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
    sys.path.append(str(_HERE.parent))  # for bench.rounds, after every installed package

import argparse
import asyncio
import gc
import json
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from hotbus import Runtime
from hotbus.schemas import PluginState, ReloadCommitted

from bench.rounds import exit_status

#: ``per_plugin_growth_500_vs_10`` the cascade should stay under.
TARGET_GROWTH: Final = 1.5
#: The JSON keys of the sizes, and the sizes measured under them (full and --quick runs).
KEYS: Final = ("10", "100", "500")
SIZES: Final = (10, 100, 500)
QUICK_SIZES: Final = (10, 20, 40)
SHAPES: Final = ("chain", "fanout")
#: The plugin every cascade starts from.
ROOT: Final = "p000"

Shape = Literal["chain", "fanout"]


# -- generating plugins --------------------------------------------------------------------------


def plugin_name(index: int) -> str:
    """The name of the ``index``-th plugin (0-based): ``p000``, ``p001``, ..."""
    return f"p{index:03d}"


def requirement(shape: Shape, index: int) -> str | None:
    """What plugin ``index`` requires in ``shape``: the one before it, the root, or nothing."""
    if index == 0:
        return None
    return plugin_name(index - 1) if shape == "chain" else ROOT


def plugin_source(shape: Shape, index: int, revision: int = 0) -> str:
    """The source of plugin ``index``: a small plugin that looks its dependency up in setup."""
    name = plugin_name(index)
    dep = requirement(shape, index)
    lines = [
        f'"""Cascade benchmark plugin {name} ({shape})."""',
        "",
        "from __future__ import annotations",
        "",
        "from hotbus.runtime import Plugin, State, subscribe",
        "from hotbus.schemas import Event",
        "",
        f"REVISION = {revision}",
        "",
        "",
        f"class {name.capitalize()}State(State):",
        "    seen: int = 0",
        "",
        "",
        f"class Bench{name.capitalize()}(Plugin):",
        f'    name = "{name}"',
        '    version = "1.0.0"',
        f'    requires = ("{dep}",)' if dep else "    requires = ()",
        f"    state_model = {name.capitalize()}State",
        "",
        "    async def setup(self) -> None:",
        "        self.seen = 0",
        *([f'        self.dependency = self.ctx.get_plugin("{dep}")'] if dep else []),
        "",
        f"    async def export_state(self) -> {name.capitalize()}State:",
        f"        return {name.capitalize()}State(seen=self.seen)",
        "",
        f"    async def import_state(self, state: {name.capitalize()}State) -> None:",
        "        self.seen = state.seen",
        "",
        '    @subscribe("bench.cascade")',
        "    def on_event(self, event: Event) -> None:",
        "        self.seen += REVISION",
    ]
    return "\n".join(lines) + "\n"


def generate(directory: Path, shape: Shape, count: int) -> Path:
    """Write ``count`` plugins of ``shape`` into ``directory``; returns the root's path."""
    for index in range(count):
        path = directory / f"{plugin_name(index)}.py"
        path.write_text(plugin_source(shape, index), encoding="utf-8")
    return directory / f"{ROOT}.py"


# -- the measurement -----------------------------------------------------------------------------


class BenchError(Exception):
    """Raised when a cascade does not do what the benchmark times (so its time is meaningless)."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """The reloads of one shape at one size."""

    shape: Shape
    plugins: int
    reload_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.reload_ms)

    @property
    def per_plugin_ms(self) -> float:
        return self.median_ms / self.plugins


async def measure(shape: Shape, count: int, rounds: int) -> Measurement:
    """Start a runtime on ``count`` plugins of ``shape`` and time ``rounds`` root reloads.

    One untimed reload first warms the caches up.

    Raises:
        BenchError: when a plugin does not start, or a reload does not commit all of them.
    """
    timings: list[float] = []
    with tempfile.TemporaryDirectory(prefix=f"hotbus-bench-{shape}-") as tmp:
        root = generate(Path(tmp), shape, count)
        runtime = Runtime(
            [tmp], watch=False, log_events=False, entry_points=False, leak_check=False
        )
        await runtime.start()
        try:
            inactive = [r.name for r in runtime.status() if r.state is not PluginState.ACTIVE]
            if inactive:
                raise BenchError(f"{shape} of {count}: not active after start: {inactive[:5]}")
            for revision in range(1, rounds + 2):
                root.write_text(plugin_source(shape, 0, revision), encoding="utf-8")
                gc.collect()
                begin = time.perf_counter()
                outcome = await runtime.reload(ROOT)
                elapsed = time.perf_counter() - begin
                if not isinstance(outcome, ReloadCommitted) or len(outcome.changes) != count:
                    raise BenchError(
                        f"{shape} of {count}: the reload did not commit every member: {outcome!r}"
                    )
                if revision > 1:  # the first one warms up
                    timings.append(elapsed * 1000)
        finally:
            await runtime.stop()
    return Measurement(shape=shape, plugins=count, reload_ms=timings)


async def measure_all(sizes: Sequence[int], rounds: int) -> list[Measurement]:
    """Every shape at every size, smallest first."""
    return [await measure(shape, size, rounds) for shape in SHAPES for size in sizes]


def growth(results: list[Measurement], shape: str) -> float:
    """Per-plugin time at the largest size over per-plugin time at the smallest."""
    of_shape = sorted((m for m in results if m.shape == shape), key=lambda m: m.plugins)
    return of_shape[-1].per_plugin_ms / of_shape[0].per_plugin_ms


def summary(results: list[Measurement], *, quick: bool) -> dict[str, Any]:
    """The JSON object: median milliseconds per shape, keyed "10", "100", "500", and the growth."""
    found: dict[str, Any] = {}
    for shape in SHAPES:
        of_shape = sorted((m for m in results if m.shape == shape), key=lambda m: m.plugins)
        found[shape] = {key: m.median_ms for key, m in zip(KEYS, of_shape, strict=True)}
    found["per_plugin_growth_500_vs_10"] = max(growth(results, shape) for shape in SHAPES)
    if quick:
        found["quick"] = True
    found["misses"] = misses(found)
    return found


def misses(found: dict[str, Any]) -> list[str]:
    """The targets ``found`` misses, each as a short sentence."""
    r = found["per_plugin_growth_500_vs_10"]
    return [f"per_plugin_growth_500_vs_10 {r:.2f} > {TARGET_GROWTH}"] if r > TARGET_GROWTH else []


# -- reporting -----------------------------------------------------------------------------------


def table(results: list[Measurement], summary: dict[str, Any]) -> str:
    """The human-readable report."""
    r = summary["per_plugin_growth_500_vs_10"]
    verdict = "ok" if r <= TARGET_GROWTH else f"OVER target {TARGET_GROWTH}"
    lines = [
        f"hotbus cascade benchmark (Python {sys.version.split()[0]}"
        f"{', quick' if summary.get('quick') else ''}): median of "
        f"{len(results[0].reload_ms)} reloads of {ROOT}",
        f"  {'shape':<7} {'plugins':>7} {'reload':>11} {'per plugin':>12} {'min':>10} {'max':>10}",
    ]
    for m in results:
        lines.append(
            f"  {m.shape:<7} {m.plugins:>7} {m.median_ms:>8.2f} ms {m.per_plugin_ms:>9.4f} ms "
            f"{min(m.reload_ms):>7.2f} ms {max(m.reload_ms):>7.2f} ms"
        )
    for shape in SHAPES:
        lines.append(f"  per-plugin growth, {shape}: {growth(results, shape):.2f}x")
    lines.append(f"  per_plugin_growth_500_vs_10 (worst): {r:.2f}x  {verdict}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/cascade.py",
        description="Time a cascade reload of a chain and a fan-out of 10, 100 and 500 plugins.",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="timed reloads per size (default 5; 3 --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="sizes 10, 20, 40 (reported under 10, 100, 500)"
    )
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a target is missed"
    )
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 if a cascade misbehaved, a timing is not finite, or
    (with ``--check``) a target is missed."""
    args = parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    try:
        results = asyncio.run(measure_all(sizes, args.rounds))
    except BenchError as error:
        print(f"bench/cascade.py: {error}", file=sys.stderr)
        return 1
    found = summary(results, quick=args.quick)
    figures = [v for shape in SHAPES for v in found[shape].values()]
    figures.append(found["per_plugin_growth_500_vs_10"])
    if not all(math.isfinite(v) and v > 0 for v in figures):
        print("a timing is not finite and positive: the clock misbehaved", file=sys.stderr)
        return 1
    print(json.dumps(found, indent=2) if args.json else table(results, found))
    return exit_status(found["misses"], check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
