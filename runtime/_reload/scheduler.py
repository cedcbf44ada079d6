"""The scheduler: the subscriber of ``hotbus.reload.requested`` that runs transactions.

Requests that arrive together (a save-all, a ``git checkout``) become one plan; a plugin is in a
plan at most once, and plans run one after the other, so there are never two transactions on
one plugin at once. Requests that arrive while a transaction runs are coalesced into the next.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import final
from uuid import UUID

from hotbus.runtime._engine.engine import Engine
from hotbus.runtime._engine.records import Record
from hotbus.runtime._listener import Listener
from hotbus.runtime._loading.loader import Loaded, source_for
from hotbus.runtime._reload.leaks import LeakChecker
from hotbus.runtime._reload.transaction import Transaction
from hotbus.schemas import (
    Event,
    PluginState,
    ReloadAction,
    ReloadCommitted,
    ReloadRequested,
    VersionChange,
    use_source,
)

__all__ = ["Scheduler"]

logger = logging.getLogger("hotbus.reload")


@final
class Scheduler:
    """Turns batches of `ReloadRequested` into transactions, one at a time.

    Args:
        engine: the engine the transactions drive.
        source: the runtime's id, stamped on the events of its transactions.
        settled: waits (boundedly) until no changed file is still settling.
        leaks: checks that the versions a transaction retires are collected.
    """

    __slots__ = (
        "_engine",
        "_leaks",
        "_listener",
        "_pending",
        "_settled",
        "_source",
        "_waiters",
        "_worker",
    )

    def __init__(
        self,
        engine: Engine,
        source: str,
        settled: Callable[[], Awaitable[None]],
        leaks: LeakChecker,
    ) -> None:
        self._engine = engine
        self._source = source
        self._settled = settled
        self._leaks = leaks
        self._pending: list[ReloadRequested] = []
        self._waiters: dict[UUID, asyncio.Future[Event | None]] = {}
        self._worker: asyncio.Task[None] | None = None
        self._listener = Listener(engine.bus, ReloadRequested, self._on_request)

    def attach(self) -> None:
        """Subscribe to ``hotbus.reload.requested`` (idempotent)."""
        self._listener.attach()

    def detach(self) -> None:
        """Stop taking requests (a running transaction finishes; see `idle`)."""
        self._listener.detach()

    def expect(self, request: ReloadRequested) -> asyncio.Future[Event | None]:
        """A future resolved with the outcome of the transaction that handles ``request``."""
        future: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        self._waiters[request.event_id] = future
        return future

    @property
    def busy(self) -> bool:
        """Whether a transaction is running or requests are waiting."""
        return self._worker is not None

    async def idle(self) -> None:
        """Wait until no transaction is running and no request waits."""
        while self._worker is not None:
            await asyncio.shield(self._worker)

    def _on_request(self, request: ReloadRequested) -> None:
        self._pending.append(request)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="hotbus-reload"
            )

    async def _work(self) -> None:
        try:
            # What these batches retire is checked once, when they are all done.
            with self._leaks.deferred():
                while self._pending:
                    await asyncio.sleep(0)  # requests published in the same burst join this batch
                    await self._settled()  # ... and those of files still settling
                    batch, self._pending = self._pending, []
                    outcome: Event | None = None
                    error: BaseException | None = None
                    try:
                        with use_source(self._source):
                            async with self._engine.lock:
                                outcome = await self._run(batch)
                    except Exception as exc:  # a bug: say so loudly, keep the runtime alive
                        logger.exception("reload of %s crashed", [r.plugin for r in batch])
                        error = exc
                    for request in batch:
                        future = self._waiters.pop(request.event_id, None)
                        if future is not None and not future.done():
                            if error is not None:
                                future.set_exception(error)
                            else:
                                future.set_result(outcome)
        finally:
            self._worker = None

    def retire(self, versions: Iterable[Loaded]) -> None:
        """Check that ``versions``, replaced or unloaded, are collected (if leak checks are on).

        While batches of requests are being worked off, the check waits for the last one. A
        version may finish the work it has in flight for as long as a reload waits for it
        (``quiesce_timeout_s``), and a second more, before what holds it counts as a leak.
        """
        settings = self._engine.settings
        if settings.leak_check:  # weak references only
            self._leaks.watch(versions, patience_s=settings.quiesce_timeout_s + 1.0)

    async def _run(self, batch: list[ReloadRequested]) -> Event | None:
        engine = self._engine
        triggers: dict[str, Record] = {}
        outcome: Event | None = None
        for request in batch:
            rec = engine.records.find(request.plugin)
            if request.action is ReloadAction.UNLOAD:
                if rec is not None:
                    old = rec.version
                    self.retire(await engine.unload(rec))
                    outcome = ReloadCommitted(
                        plan_id=uuid.uuid4().hex[:12],
                        changes=[VersionChange(plugin=rec.name, old_version=old, new_version=None)],
                        durations={},
                    )
                    await engine.bus.publish(outcome)
                    await asyncio.sleep(0)  # hundreds unloaded at once: let the loop serve between
                continue
            if rec is None and request.action is ReloadAction.LOAD:
                for path in request.paths:
                    source = source_for(path)
                    if source is None:
                        continue
                    rec = engine.records.by_source(source) or await engine.discover(source)
                    break
            if rec is None or rec.state is PluginState.UNLOADED:
                continue
            triggers.setdefault(rec.name, rec)
        if triggers:
            transaction = Transaction(engine, uuid.uuid4().hex[:12], list(triggers.values()))
            outcome = await transaction.run()
            retired, transaction.retired = transaction.retired, []
            del transaction
            self.retire(retired)
            del retired
        await engine.start_ready()
        return outcome
