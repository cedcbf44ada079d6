"""Asking the fleet from outside: its plugins (`read_fleet`) and a fleet reload (`reload_fleet`).

Both connect to NATS for the call only; `hotbus fleet status` and `hotbus fleet reload` are
built on them, and a dashboard or a script can call them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, final

from hotbus.runtime._fleet.bridge import FleetPlugin, decode_row
from hotbus.runtime._fleet.names import (
    NatsTarget,
    bucket_name,
    check_name,
    import_nats,
    reload_subject,
)

__all__ = ["HostOutcome", "read_fleet", "reload_fleet"]

#: Outcomes of a host's reload that count as success.
SUCCEEDED = frozenset({"committed", "patched"})


@final
@dataclass(frozen=True, slots=True)
class HostOutcome:
    """One host's answer to a fleet reload (``no answer`` when it gave none in time)."""

    host: str
    outcome: str
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the host committed (or patched) the reload."""
        return self.outcome in SUCCEEDED


@contextlib.asynccontextmanager
async def _connected(target: NatsTarget, timeout: float) -> AsyncIterator[Any]:
    nats = import_nats()
    try:
        nc = await nats.connect(
            **target.connect_options(),
            connect_timeout=max(1, int(timeout)),
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
    except Exception as error:
        raise OSError(
            f"cannot connect to NATS at {target.shown}: {target.mask(str(error)) or 'refused'}"
        ) from None
    try:
        yield nc
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


async def _rows(nc: Any, fleet: str) -> list[FleetPlugin]:
    """Every row of the fleet's bucket.

    The keys come from the server's list of the bucket stream's subjects, one snapshot (a
    listing of the keys by a consumer misses a key rewritten while it runs: a host whose plugin
    is reloading).
    """
    errors = import_nats().js.errors
    js = nc.jetstream()
    bucket = bucket_name(fleet)
    try:
        kv = await js.key_value(bucket)
        info = await js.stream_info(f"KV_{bucket}", subjects_filter=f"$KV.{bucket}.>")
    except errors.NotFoundError:
        return []
    prefix = f"$KV.{bucket}."
    keys = [subject.removeprefix(prefix) for subject in info.state.subjects or {}]
    rows: list[FleetPlugin] = []
    for key in keys:
        with contextlib.suppress(errors.KeyNotFoundError):  # deleted: a host that stopped
            entry = await kv.get(key)
            row = decode_row(entry.value or b"")
            if row is not None:
                rows.append(row)
    return sorted(rows, key=lambda r: (r.host, r.plugin))


async def read_fleet(target: NatsTarget, fleet: str, *, timeout: float = 5.0) -> list[FleetPlugin]:
    """Every host's plugins in ``fleet``, by host then plugin (empty if the fleet has none).

    Raises:
        OSError: when NATS cannot be reached.
    """
    check_name("fleet", fleet)
    async with _connected(target, timeout) as nc:
        return await _rows(nc, fleet)


async def reload_fleet(
    target: NatsTarget,
    fleet: str,
    plugin: str,
    *,
    host: str | None = None,
    rolling: bool = False,
    timeout: float = 30.0,
    answered: Callable[[HostOutcome], None] | None = None,
) -> list[HostOutcome]:
    """Reload ``plugin`` on every host of ``fleet`` that runs it (or on ``host`` only).

    The hosts are those whose rows in the fleet's bucket name ``plugin`` (a host that stops
    takes its rows away; one that was killed still has them, and is reported as not
    answering).

    Each host runs the same transaction as a local save and answers with its outcome; one that
    does not answer within ``timeout`` seconds is ``no answer``. ``rolling`` asks one host at a
    time, in name order, and stops at the first that does not succeed: the hosts after it are
    left untouched (not in the result). ``answered`` is called with each outcome as it comes.

    Raises:
        OSError: when NATS cannot be reached.
        LookupError: when no host of the fleet runs ``plugin``.
    """
    check_name("fleet", fleet)
    async with _connected(target, timeout) as nc:
        if host is not None:
            hosts = [check_name("host", host)]
        else:
            hosts = sorted({r.host for r in await _rows(nc, fleet) if r.plugin == plugin})
            if not hosts:
                raise LookupError(f"no host of fleet {fleet!r} runs plugin {plugin!r}")

        async def ask(name: str) -> HostOutcome:
            outcome = await _ask(nc, fleet, name, plugin, timeout)
            if answered is not None:
                answered(outcome)
            return outcome

        if not rolling:
            return list(await asyncio.gather(*(ask(name) for name in hosts)))
        outcomes: list[HostOutcome] = []
        for name in hosts:
            outcome = await ask(name)
            outcomes.append(outcome)
            if not outcome.ok:
                break
        return outcomes


async def _ask(nc: Any, fleet: str, host: str, plugin: str, timeout: float) -> HostOutcome:
    errors = import_nats().errors
    payload = json.dumps({"plugin": plugin}).encode()
    try:
        msg = await nc.request(reload_subject(fleet, host), payload, timeout=timeout)
    except errors.NoRespondersError:
        return HostOutcome(host, "no answer", "the host is not connected to the fleet")
    except (errors.TimeoutError, TimeoutError):
        return HostOutcome(host, "no answer", f"no answer within {timeout:g} s")
    try:
        answer = json.loads(msg.data)
        return HostOutcome(host, str(answer["outcome"]), str(answer.get("message", "")))
    except (ValueError, KeyError, TypeError):
        return HostOutcome(host, "failed", "an answer that could not be read")
