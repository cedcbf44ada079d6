"""The scheduler: the subscriber of ``hotbus.reload.requested`` that runs transactions.

Requests that arrive together (a save-all, a ``git checkout``) become one plan; a plugin is in a
plan at most once, and plans run one after the other, so there are never two transactions on
one plugin at once. Requests that arrive while a transaction runs are coalesced into the next.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import final
from uuid import UUID

from hotbus.runtime._engine.engine import Engine
from hotbus.runtime._engine.records import Record
from hotbus.runtime._listener import Listener
from hotbus.runtime._loading.loader import Loaded, source_for
from hotbus.runtime._reload.leaks import LeakChecker
from hotbus.runtime._reload.transaction import FailedVersions, Transaction
from hotbus.schemas import (
    DependencyError,
    Event,
    PluginState,
    ReloadAction,
    ReloadCommitted,
    ReloadReason,
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
        staged: told what each transaction read (path to content hash), so that a file that
            changed since it settled settles again.
    """

    __slots__ = (
        "_engine",
        "_failed",
        "_leaks",
        "_listener",
        "_pending",
        "_settled",
        "_source",
        "_staged",
        "_waiters",
        "_waiting",
        "_worker",
    )

    def __init__(
        self,
        engine: Engine,
        source: str,
        settled: Callable[[], Awaitable[None]],
        leaks: LeakChecker,
        staged: Callable[[Mapping[Path, str]], object] = lambda files: None,
    ) -> None:
        self._engine = engine
        self._source = source
        self._settled = settled
        self._leaks = leaks
        self._staged = staged
        self._failed = FailedVersions()
        #: Plugins whose new version was rejected for missing dependencies, and those names.
        self._waiting: dict[str, set[str]] = {}
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
                    outcomes: dict[str, Event] = {}
                    outcome: Event | None = None
                    error: BaseException | None = None
                    try:
                        with use_source(self._source):
                            async with self._engine.lock:
                                outcome = await self._run(batch, outcomes)
                            await self._retry_waiting()
                    except Exception as exc:  # a bug: say so loudly, keep the runtime alive
                        logger.exception("reload of %s crashed", [r.plugin for r in batch])
                        error = exc
                    for request in batch:
                        future = self._waiters.pop(request.event_id, None)
                        if future is not None and not future.done():
                            if error is not None:
                                future.set_exception(error)
                            else:
                                future.set_result(outcomes.get(request.plugin, outcome))
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

    async def _run(self, batch: list[ReloadRequested], outcomes: dict[str, Event]) -> Event | None:
        engine = self._engine
        triggers: dict[str, Record] = {}
        outcome: Event | None = None
        # Unloads first: a file renamed back to its plugin's name unloads the plugin from the
        # old path before the new path loads it.
        ordered = sorted(batch, key=lambda r: r.action is not ReloadAction.UNLOAD)
        for request in ordered:
            rec = engine.records.find(request.plugin)
            if request.action is ReloadAction.UNLOAD:
                if rec is not None:
                    old = rec.version
                    self._waiting.pop(rec.name, None)
                    self._failed.forget(rec.name)
                    self.retire(await engine.unload(rec))
                    outcome = ReloadCommitted(
                        plan_id=uuid.uuid4().hex[:12],
                        changes=[VersionChange(plugin=rec.name, old_version=old, new_version=None)],
                        durations={},
                    )
                    outcomes[rec.name] = outcome
                    await engine.bus.publish(outcome)
                    await asyncio.sleep(0)  # hundreds unloaded at once: let the loop serve between
                continue
            if request.action is ReloadAction.LOAD:
                rec = None  # a load names a file: find its plugin by source, not by name
                for path in request.paths:
                    source = source_for(path)
                    if source is None:
                        continue
                    rec = engine.records.by_source(source) or await engine.discover(source)
                    break
            if rec is None or rec.state is PluginState.UNLOADED:
                continue
            if request.reason is ReloadReason.MANUAL:
                self._failed.forget(rec.name)  # asked for by hand: try it again for real
            triggers.setdefault(rec.name, rec)
        if triggers:
            # A new version that failed to come up is remembered, and the plan runs again
            # without it: at most once more per member.
            for _ in range(len(engine.records) + 1):
                transaction = Transaction(
                    engine,
                    uuid.uuid4().hex[:12],
                    [rec for rec in triggers.values() if rec.state is not PluginState.UNLOADED],
                    self._failed,
                )
                outcome = await transaction.run()
                for name, event in transaction.outcomes.items():
                    if name not in outcomes or name not in transaction.recalled:
                        outcomes[name] = event
                self._staged(transaction.seen)
                self._note_waiting(transaction)
                retired, transaction.retired = transaction.retired, []
                retry = transaction.retry
                del transaction
                self.retire(retired)
                del retired
                if not retry:
                    break
        await engine.start_ready()
        return outcome

    def _note_waiting(self, transaction: Transaction) -> None:
        """Remember the members rejected for missing dependencies; forget those that moved."""
        for member in transaction.members:
            failure = member.failure
            error = failure.error if failure is not None else None
            if isinstance(error, DependencyError) and error.missing:
                self._waiting[member.name] = set(error.missing)
            elif failure is None:
                self._waiting.pop(member.name, None)

    async def _retry_waiting(self) -> None:
        """Ask again for the versions rejected for a dependency that now runs."""
        records = self._engine.records
        for name, missing in list(self._waiting.items()):
            rec = records.find(name)
            if rec is None:
                del self._waiting[name]
                continue
            if all(
                (dep := records.find(dep_name)) is not None and dep.state is PluginState.ACTIVE
                for dep_name in missing
            ):
                del self._waiting[name]
                await self._request(rec, ReloadReason.DEPENDENCY)

    async def _request(self, rec: Record, reason: ReloadReason) -> None:
        await self._engine.bus.publish(
            ReloadRequested(
                plugin=rec.name,
                action=ReloadAction.RELOAD,
                reason=reason,
                paths=[rec.source.main_file] if rec.source.main_file else [],
            )
        )
