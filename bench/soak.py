"""Soak: the "what runs is what is on disk" state machine, for many steps.

Runs the `OnDisk` state machine of ``tests/reload/stateful.py`` (a real `Runtime`, a real
watcher, real saves in every editor's style; its docstring states what it expects) for
``--steps`` steps in all, as runs of ``--run-steps`` steps each, every run on a fresh runtime
with its own seed. A violation is shrunk by hypothesis to a minimal sequence of steps, which is
printed with its seed; the soak then goes on, ignoring that category of violation, to find the
next kind::

    python bench/soak.py                    # 10,000 steps
    python bench/soak.py --steps 500        # fewer
    python bench/soak.py --seed 7 --json    # reproducible seeds, one JSON object
    python bench/soak.py --check            # exit status 1 if a violation was found

Reports the steps run, the violations found (category, seed, minimal steps) and the time taken.
Linux (inotify); a step takes some tens of milliseconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as ``python bench/soak.py``, this file's directory leads sys.path and bench/bus.py
    # would shadow the ``bus`` package: drop that entry; the machine lives in the tests.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
    if str(_HERE.parent) not in sys.path:
        sys.path.insert(0, str(_HERE.parent))

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.reload.stateful import CATEGORIES, KINDS, OnDisk, Violation, machine


@dataclass
class Found:
    """One violation: its category, the run's seed, the message and the minimal steps."""

    category: str
    seed: int
    message: str
    steps: list[str]


@dataclass
class Result:
    """What a soak found."""

    steps: int = 0
    runs: int = 0
    elapsed_s: float = 0.0
    violations: list[Found] = field(default_factory=list)


def _steps_of(error: BaseException) -> list[str]:
    """The minimal steps hypothesis attached to ``error`` (its notes), one line each."""
    notes = getattr(error, "__notes__", None) or []
    lines = [line for note in notes for line in str(note).splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith("state = ")), 0)
    return lines[start:]


def _violation_in(error: BaseException) -> Violation | None:
    """The `Violation` in ``error`` (hypothesis may wrap it, as in a `Flaky`)."""
    if isinstance(error, Violation):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _violation_in(inner)
            if found is not None:
                return found
    cause = error.__cause__ or error.__context__
    return _violation_in(cause) if cause is not None else None


def soak(
    steps: int,
    *,
    run_steps: int = 50,
    base_seed: int | None = None,
    ignore: Sequence[str] = (),
    kinds: Sequence[str] = KINDS,
    shrink: bool = True,
    report: bool = True,
) -> Result:
    """Run the machine for ``steps`` steps; every distinct kind of violation it finds."""
    result = Result()
    ignored = set(ignore)
    rng = random.Random(base_seed)
    phases = (Phase.generate, Phase.shrink) if shrink else (Phase.generate,)
    begin = time.perf_counter()
    while result.steps < steps:
        run_seed = rng.getrandbits(32)
        before = OnDisk.steps
        config = settings(
            # Each example is one run on a fresh runtime; hypothesis varies them (its first
            # example is the simplest one), so many examples go into one call.
            max_examples=max(1, math.ceil((steps - result.steps) / run_steps)),
            stateful_step_count=run_steps,
            deadline=None,
            database=None,
            phases=phases,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.normal,
            report_multiple_bugs=False,
        )
        try:
            run_state_machine_as_test(seed(run_seed)(machine(ignored, kinds)), settings=config)
        except Exception as error:
            violation = _violation_in(error)
            category = violation.category if violation is not None else type(error).__name__
            message = str(violation if violation is not None else error).splitlines()[0]
            found = Found(category, run_seed, message, _steps_of(error))
            result.violations.append(found)
            ignored.add(category)
            if report:
                print(f"violation [{category}] (seed {run_seed}): {message}", file=sys.stderr)
                for line in found.steps:
                    print(f"    {line}", file=sys.stderr)
        # Shrinking replays steps: those count too, they are steps run like any other.
        result.steps += max(1, OnDisk.steps - before)
        result.runs += 1
    result.elapsed_s = time.perf_counter() - begin
    return result


def table(result: Result) -> str:
    lines = [
        "hotbus soak: what runs is what is on disk",
        f"  steps run     {result.steps} in {result.runs} runs",
        f"  violations    {len(result.violations)}",
        f"  elapsed       {result.elapsed_s:.1f} s",
    ]
    for found in result.violations:
        lines.append(f"  [{found.category}] seed {found.seed}: {found.message}")
        lines.extend(f"      {line}" for line in found.steps)
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/soak.py",
        description="Run the 'what runs is what is on disk' state machine for many steps.",
    )
    parser.add_argument("--steps", type=int, default=10_000, help="steps in all (10,000)")
    parser.add_argument(
        "--run-steps", type=int, default=50, help="steps per run on a fresh runtime (50)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the runs' seeds")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        choices=sorted(CATEGORIES),
        help="a category of violation not to look for (repeatable)",
    )
    parser.add_argument(
        "--only",
        choices=sorted(CATEGORIES),
        default=None,
        help="look for this category of violation only",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="the kinds of version to save, comma-separated (others become good): "
        f"{', '.join(KINDS)}",
    )
    parser.add_argument(
        "--no-shrink", action="store_true", help="report violations as found, unshrunk"
    )
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a violation was found"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the runtime's log")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.run_steps < 1:
        parser.error("--steps and --run-steps must be at least 1")
    args.kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = sorted(set(args.kinds) - set(KINDS))
    if unknown or "good" not in args.kinds:
        parser.error(f"--kinds takes some of {', '.join(KINDS)}, 'good' among them")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the soak; returns 0, or with ``--check`` 1 if a violation was found."""
    args = parse_args(argv)
    log, silence = logging.getLogger("hotbus"), logging.NullHandler()
    propagate = log.propagate
    if not args.verbose:  # plugins fail on purpose all the time: their log lines are noise
        log.addHandler(silence)
        log.propagate = False
    try:
        result = soak(
            args.steps,
            run_steps=args.run_steps,
            base_seed=args.seed,
            ignore=[c for c in CATEGORIES if c != args.only] if args.only else args.ignore,
            kinds=args.kinds,
            shrink=not args.no_shrink,
        )
    finally:
        log.removeHandler(silence)
        log.propagate = propagate
    print(json.dumps(asdict(result), indent=2) if args.json else table(result))
    return 1 if args.check and result.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
