"""The cascade planner: the subscriber of ``hotbus.reload.requested`` that runs transactions.

Requests that arrive together (a save-all, a ``git checkout``) become one plan; a plugin is in a
plan at most once, and plans run one after the other, so there are never two transactions on
one plugin at once. Requests that arrive while a transaction runs are coalesced into the next.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, final
from uuid import UUID

from hotbus.bus import RUNTIME, Subscription
from hotbus.runtime._loading.loader import source_for
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

if TYPE_CHECKING:
    from hotbus.runtime._runtime import Runtime, _Record

__all__ = ["Planner"]

logger = logging.getLogger("hotbus.reload")


@final
class Planner:
    """Turns batches of `ReloadRequested` into transactions, one at a time."""

    __slots__ = ("_pending", "_runtime", "_subscription", "_waiters", "_worker")

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._pending: list[ReloadRequested] = []
        self._waiters: dict[UUID, asyncio.Future[Event | None]] = {}
        self._worker: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    def attach(self) -> None:
        """Subscribe to ``hotbus.reload.requested`` (idempotent)."""
        if self._subscription is None or not self._subscription.active:
            self._subscription = self._runtime.bus.subscribe(
                ReloadRequested, self._on_request, owner=RUNTIME
            )

    def detach(self) -> None:
        """Stop taking requests (a running transaction finishes; see `idle`)."""
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None

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
            while self._pending:
                await asyncio.sleep(0)  # requests published in the same burst join this batch
                await self._runtime._files_settled()  # ... and those of files still settling
                batch, self._pending = self._pending, []
                outcome: Event | None = None
                error: BaseException | None = None
                try:
                    with use_source(self._runtime.id):
                        async with self._runtime._lock:
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

    async def _run(self, batch: list[ReloadRequested]) -> Event | None:
        rt = self._runtime
        triggers: dict[str, _Record] = {}
        outcome: Event | None = None
        for request in batch:
            if request.action is ReloadAction.UNLOAD:
                rec = rt._records.get(request.plugin)
                if rec is not None:
                    old = rec.version
                    await rt._unload(rec)
                    outcome = ReloadCommitted(
                        plan_id=uuid.uuid4().hex[:12],
                        changes=[VersionChange(plugin=rec.name, old_version=old, new_version=None)],
                        durations={},
                    )
                    await rt.bus.publish(outcome)
                continue
            rec = rt._records.get(request.plugin)
            if rec is None and request.action is ReloadAction.LOAD:
                for path in request.paths:
                    source = source_for(path)
                    if source is None:
                        continue
                    rec = rt._by_source(source) or await rt._discovered(source)
                    break
            if rec is None or rec.state is PluginState.UNLOADED:
                continue
            triggers.setdefault(rec.name, rec)
        if triggers:
            transaction = Transaction(rt, uuid.uuid4().hex[:12], list(triggers.values()))
            outcome = await transaction.run()
            retired, transaction.retired = transaction.retired, []
            del transaction
            rt._watch_for_leaks(retired)  # keeps weak references only
            del retired
        await rt._start_ready()
        return outcome
