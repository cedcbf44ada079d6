"""``hotbus fleet status`` and ``hotbus fleet reload``: a fleet on NATS, seen from outside."""

from __future__ import annotations

import argparse
import asyncio
from typing import IO

from hotbus.runtime._console.exits import UsageError
from hotbus.runtime._fleet.control import HostOutcome, read_fleet, reload_fleet
from hotbus.runtime._fleet.names import NatsTarget
from hotbus.schemas import HotbusError

__all__ = ["command"]


def command(options: argparse.Namespace, out: IO[str]) -> int:
    """Run ``hotbus fleet status|reload``; the exit status."""
    try:
        target = NatsTarget.parse(options.nats)
        if options.fleet_command == "status":
            return asyncio.run(_status(target, options.fleet, out))
        return asyncio.run(_reload(target, options, out))
    except (HotbusError, OSError) as error:
        raise UsageError(str(error)) from None


async def _status(target: NatsTarget, fleet: str, out: IO[str]) -> int:
    rows = await read_fleet(target, fleet)
    if not rows:
        print(f"no host of fleet {fleet!r} has reported its plugins to {target.shown}", file=out)
        return 1
    table = [("host", "plugin", "state", "version", "since")]
    table += [(r.host, r.plugin, r.state, r.version or "-", r.since) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for cells in table:
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip(), file=out)
    return 0


def _line(outcome: HostOutcome) -> str:
    return f"{outcome.host}: {outcome.outcome}" + (
        f": {outcome.message}" if outcome.message else ""
    )


async def _reload(target: NatsTarget, options: argparse.Namespace, out: IO[str]) -> int:
    def answered(outcome: HostOutcome) -> None:
        print(_line(outcome), file=out, flush=True)

    try:
        outcomes = await reload_fleet(
            target,
            options.fleet,
            options.plugin,
            host=options.host,
            rolling=options.rolling,
            timeout=options.timeout,
            answered=answered,
        )
    except LookupError as error:
        print(f"{error}: nothing reloaded", file=out)
        return 1
    failed = [o for o in outcomes if not o.ok]
    if options.rolling and failed:
        print(f"stopped at {failed[0].host}: the hosts after it were left untouched", file=out)
    return 1 if failed else 0
