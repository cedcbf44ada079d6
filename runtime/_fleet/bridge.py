"""`FleetBridge`: one host's bus bridged to its fleet's JetStream stream.

Out: every event of this host on ``hotbus.>`` (and the ``fleet_topics`` patterns) goes into a
bounded outbox as it is published (appending is all the local publish pays), and a sender task
puts it on the fleet's stream, once (``Nats-Msg-Id`` = its event id: a resend after a lost
acknowledgement is dropped by the server). While NATS is away the outbox keeps up to
``fleet_outbox`` events; past that new ones are dropped, counted, and reported
(``hotbus.fleet.dropped``) once the bridge can say so.

In: the host's durable consumer delivers every host's events; this host's own are acknowledged
and skipped (no echo), the others are published on the local bus with ``source``
``fleet:<host>`` (`is_remote`), then acknowledged. They are never sent out again: the outbox
takes no remote event. A host that was down resumes from its last acknowledgement.

The plugins' states are kept in the fleet's key-value bucket (``<host>.<plugin>``) while the
host runs (a host that stops takes its rows away), and fleet reload requests for this host run
`Runtime.reload` and answer with its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Final, final

from hotbus.bus import RUNTIME, Subscription
from hotbus.runtime._fleet.names import (
    NatsTarget,
    bucket_name,
    check_name,
    consumer_name,
    event_subject,
    events_filter,
    import_nats,
    reload_subject,
    stream_name,
)
from hotbus.runtime._runtime import Runtime
from hotbus.schemas import (
    REMOTE_PREFIX,
    Event,
    FleetConnected,
    FleetDisconnected,
    FleetDropped,
    HotbusError,
    PluginStateChanged,
    ReloadCommitted,
    ReloadPatched,
    ReloadReason,
    ReloadRejected,
    ReloadRolledBack,
    registry,
    topic_matches,
    use_source,
)

__all__ = ["FleetBridge", "FleetPlugin", "decode_row", "encode_row"]

_log = logging.getLogger("hotbus.fleet")

#: Events sent together, each awaited for the server's acknowledgement.
_BATCH: Final = 256
#: How long one batch waits for its acknowledgements before it is sent again.
_ACK_TIMEOUT_S: Final = 5.0
#: How long the fleet's stream keeps an event (a host down longer misses what is older).
_STREAM_MAX_AGE_S: Final = 24 * 3600.0
#: The window in which the server drops a second copy of an event (same ``Nats-Msg-Id``).
_DUPLICATE_WINDOW_S: Final = 120.0
#: How long a row's write waits for the server (then it is written again).
_KV_TIMEOUT_S: Final = 1.0
#: How long a stopping task gets after a cancellation before it is cancelled again.
_RECANCEL_S: Final = 0.05
_HOST_HEADER: Final = "Hotbus-Host"
_TOPIC_HEADER: Final = "Hotbus-Topic"


@dataclass(frozen=True, slots=True)
class FleetPlugin:
    """One plugin of one host, as the fleet's key-value bucket holds it."""

    host: str
    plugin: str
    state: str
    version: str | None
    #: When it entered that state (ISO 8601, UTC).
    since: str


def encode_row(row: FleetPlugin) -> bytes:
    """A bucket value."""
    return json.dumps(
        {
            "host": row.host,
            "plugin": row.plugin,
            "state": row.state,
            "version": row.version,
            "since": row.since,
        }
    ).encode()


def decode_row(data: bytes) -> FleetPlugin | None:
    """A bucket value back, or None if it is not one."""
    try:
        raw = json.loads(data)
        return FleetPlugin(
            host=str(raw["host"]),
            plugin=str(raw["plugin"]),
            state=str(raw["state"]),
            version=None if raw.get("version") is None else str(raw["version"]),
            since=str(raw.get("since", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def outcome_of(event: Event | None) -> tuple[str, str]:
    """``(outcome, message)`` of a reload's result: committed, patched, rejected, rolled_back."""
    if isinstance(event, ReloadCommitted):
        versions = ", ".join(f"{c.plugin} {c.new_version}" for c in event.changes)
        return "committed", versions
    if isinstance(event, ReloadPatched):
        if event.restored:
            message = event.error.message if event.error is not None else "restored"
            return "rolled_back", message
        return "patched", f"{event.plugin} {event.new_version}"
    if isinstance(event, ReloadRejected | ReloadRolledBack):
        where = event.error.location()
        message = f"{event.error.type}: {event.error.message}" + (f" ({where})" if where else "")
        return ("rejected" if isinstance(event, ReloadRejected) else "rolled_back"), message
    return "failed", "the reload gave no outcome"


@final
class FleetBridge:
    """Bridges ``runtime``'s bus to the fleet ``fleet`` on NATS as host ``host``.

    Attach it after the runtime has started and detach it before the runtime stops::

        bridge = FleetBridge(runtime, NatsTarget.parse("nats://127.0.0.1:4222"), host="a")
        await bridge.start()
        ...
        await bridge.stop()

    `plugins` is what the bridge knows of the whole fleet: every host's plugins, kept current
    from the bucket (what a dashboard shows).
    """

    def __init__(
        self,
        runtime: Runtime,
        target: NatsTarget,
        *,
        host: str,
        fleet: str,
        topics: tuple[str, ...] = (),
        outbox: int = 10_000,
    ) -> None:
        self.runtime = runtime
        self.target = target
        self.host = check_name("host", host)
        self.fleet = check_name("fleet", fleet)
        self._patterns = ("hotbus.>", *(t for t in topics if t != "hotbus.>"))
        self._limit = outbox
        self._outbox: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._out_idle = asyncio.Event()  # set while the outbox is empty
        self._sleeping = False  # the sender waits for the outbox to get an event
        self._kv_idle = asyncio.Event()  # set while every row is in the bucket
        self._connected = asyncio.Event()
        self._subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._rows: dict[str, FleetPlugin] = {}
        self._kv_pending: dict[str, FleetPlugin] = {}
        self._kv_wake = asyncio.Event()
        self._fleet_rows: dict[str, FleetPlugin] = {}
        self._nc: Any = None
        self._js: Any = None
        self._consumer: Any = None
        self._inflight: list[Any] = []  # acknowledgements the sender awaits
        self._repairing: asyncio.Task[None] | None = None
        self._watching: asyncio.Task[None] | None = None
        self._watcher: Any = None  # the bucket watch `_watching` iterates
        self._rewatching = False
        self._kv: Any = None
        self._applied = 0  # the stream sequence of the last remote event applied
        self._stopping = False
        #: Events dropped because the outbox was full, in all and not yet reported.
        self.dropped = 0
        self._unreported = 0
        #: Remote events applied to the local bus, and own events the server acknowledged.
        self.received = 0
        self.sent = 0

    def __repr__(self) -> str:
        return f"<hotbus FleetBridge {self.fleet}/{self.host} on {self.target.shown}>"

    # -- what the fleet knows -------------------------------------------------------------------

    def plugins(self) -> list[FleetPlugin]:
        """Every host's plugins, by host then plugin, as the fleet's bucket holds them now."""
        return sorted(self._fleet_rows.values(), key=lambda r: (r.host, r.plugin))

    def hosts(self) -> list[str]:
        """The hosts of the fleet that keep plugins in the bucket."""
        return sorted({row.host for row in self._fleet_rows.values()})

    @property
    def connected(self) -> bool:
        """Whether NATS is reachable now."""
        return self._connected.is_set()

    @property
    def waiting(self) -> int:
        """Events of this host in the outbox, not sent yet."""
        return len(self._outbox)

    # -- start and stop -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, make sure the stream, consumer and bucket exist, and start bridging.

        Raises:
            SettingsError: when nats-py is not installed.
            OSError, TimeoutError: when the server cannot be reached at start.
        """
        nats = import_nats()
        bus = self.runtime.bus
        for pattern in self._patterns:
            self._subscriptions.append(bus.subscribe(pattern, self._outgoing, owner=RUNTIME))
        self._subscriptions.append(
            bus.subscribe(PluginStateChanged, self._state_changed, owner=RUNTIME)
        )
        target = self.target
        try:
            self._nc = await nats.connect(
                **target.connect_options(),
                name=f"hotbus {self.fleet}/{self.host}",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.25,
                connect_timeout=5,
                allow_reconnect=True,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
                error_cb=self._on_error,
            )
        except Exception as error:
            self._unsubscribe()
            raise OSError(
                f"cannot connect to NATS at {target.shown}: {target.mask(str(error)) or 'refused'}"
            ) from None
        self._js = self._nc.jetstream()
        try:
            await self._ensure_stream()
            self._kv = await self._js.create_key_value(bucket=bucket_name(self.fleet), history=1)
            await self._subscribe_consumer()
            await self._nc.subscribe(reload_subject(self.fleet, self.host), cb=self._on_reload)
        except Exception as error:
            self._unsubscribe()
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None
            raise OSError(
                f"NATS at {target.shown} cannot hold the fleet "
                f"({type(error).__name__}: {target.mask(str(error))}): is JetStream on "
                "(nats-server -js)?"
            ) from None
        for row in self.runtime.status():
            self._put_row(row.name, str(row.state), row.version, _now_iso())
        self._connected.set()
        self._tasks = [
            asyncio.create_task(self._send(), name="hotbus-fleet-send"),
            asyncio.create_task(self._keep_bucket(), name="hotbus-fleet-bucket"),
        ]
        self._watching = asyncio.create_task(self._watch_bucket(), name="hotbus-fleet-watch")
        await self._publish(
            FleetConnected(
                fleet=self.fleet,
                host=self.host,
                server=target.shown,
                waiting=len(self._outbox),
            )
        )

    async def stop(self, timeout: float = 5.0) -> None:
        """Send what the outbox holds (for at most ``timeout`` seconds), then disconnect."""
        self._stopping = True
        self._unsubscribe()
        if self._tasks and self._connected.is_set():
            self._wake.set()
            self._kv_wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained(), timeout)
            await self._leave_bucket(timeout)
        watching = self._watching
        if watching is not None and not watching.done():
            if self._watcher is not None:  # waiting for a row: safe to cancel
                watching.cancel()
            await asyncio.wait({watching}, timeout=timeout)  # in its set-up: it returns then
        self._tasks += [t for t in (self._repairing, self._watching) if t is not None]
        await _end(self._tasks, timeout)
        self._tasks = []
        if self._unreported:
            await self._report_drops()
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.drain(), timeout)
            except Exception:  # not drained in time: closed, nothing of it left running
                with contextlib.suppress(Exception):
                    await self._nc.close()
            self._nc = None

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the outbox is sent and every row is in the bucket; whether it was, in
        ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._drained(), timeout)
        except TimeoutError:
            return False
        return True

    async def _leave_bucket(self, timeout: float) -> None:
        """Take this host's rows out of the bucket: a host that stopped is no longer in the
        fleet (one killed keeps its rows, and a fleet reload names it as not answering)."""
        keys = [f"{self.host}.{plugin}" for plugin in self._rows]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(self._kv.delete(key) for key in keys)), timeout)

    async def _drained(self) -> None:
        await self._out_idle.wait()
        await self._kv_idle.wait()

    def _unsubscribe(self) -> None:
        for subscription in self._subscriptions:
            subscription.cancel()
        self._subscriptions = []

    async def _ensure_stream(self) -> None:
        nats_js = import_nats().js
        config = {
            "name": stream_name(self.fleet),
            "subjects": [events_filter(self.fleet)],
            "storage": nats_js.api.StorageType.FILE,
            "max_age": _STREAM_MAX_AGE_S,
            "duplicate_window": _DUPLICATE_WINDOW_S,
        }
        try:
            await self._js.add_stream(**config)
        except nats_js.errors.BadRequestError:  # it exists with other limits: take ours
            await self._js.update_stream(**config)

    async def _subscribe_consumer(self) -> None:
        api = import_nats().js.api
        self._consumer = await self._js.subscribe(
            events_filter(self.fleet),
            durable=consumer_name(self.host),
            stream=stream_name(self.fleet),
            cb=self._incoming,
            manual_ack=True,
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.NEW,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_ack_pending=20_000,
            ),
            pending_msgs_limit=100_000,
        )

    # -- out ------------------------------------------------------------------------------------

    def _outgoing(self, event: Event) -> None:
        """The local bus handler: an event of this host into the outbox (never waits)."""
        if event.source.startswith(REMOTE_PREFIX):
            return  # it came from the fleet: never sent out again
        outbox = self._outbox
        if len(outbox) >= self._limit:
            self.dropped += 1
            self._unreported += 1
            return
        outbox.append(event)
        if self._sleeping:  # the sender waits for work: wake it (once)
            self._sleeping = False
            self._out_idle.clear()
            self._wake.set()

    async def _send(self) -> None:
        outbox = self._outbox
        js = self._js
        while True:
            if not outbox:
                self._out_idle.set()
                self._sleeping = True
                await self._wake.wait()
            self._wake.clear()
            while outbox:
                await self._connected.wait()
                batch = [outbox.popleft() for _ in range(min(_BATCH, len(outbox)))]
                failed = await self._send_batch(js, batch)
                if failed:
                    outbox.extendleft(reversed(failed))
                    await asyncio.sleep(0.1)  # the server is away: wait for it
                elif self._unreported:
                    await self._report_drops()

    async def _send_batch(self, js: Any, batch: list[Event]) -> list[Event]:
        """Send ``batch``; the events whose acknowledgement did not come."""
        futures: list[Any] = []
        try:
            for event in batch:
                futures.append(
                    await js.publish_async(
                        event_subject(self.fleet, self.host, event.topic),
                        event.model_dump_json().encode(),
                        headers={
                            "Nats-Msg-Id": str(event.event_id),
                            _HOST_HEADER: self.host,
                            _TOPIC_HEADER: event.topic,
                        },
                    )
                )
        except Exception:
            for future in futures:
                future.cancel()
            return batch
        self._inflight = futures  # given up on if the connection is lost
        done = await asyncio.gather(
            *(asyncio.wait_for(f, _ACK_TIMEOUT_S) for f in futures), return_exceptions=True
        )
        self._inflight = []
        failed = [e for e, r in zip(batch, done, strict=True) if isinstance(r, BaseException)]
        self.sent += len(batch) - len(failed)
        return failed

    async def _report_drops(self) -> None:
        dropped, self._unreported = self._unreported, 0
        await self._publish(
            FleetDropped(
                fleet=self.fleet,
                host=self.host,
                dropped=dropped,
                total=self.dropped,
                limit=self._limit,
            )
        )

    # -- in -------------------------------------------------------------------------------------

    async def _incoming(self, msg: Any) -> None:
        headers = msg.headers or {}
        host = headers.get(_HOST_HEADER, "")
        topic = headers.get(_TOPIC_HEADER, "")
        sequence = msg.metadata.sequence.stream
        if host == self.host or sequence <= self._applied or not self._wanted(topic):
            await msg.ack()
            return
        try:
            event = registry.parse(topic, msg.data)
        except (HotbusError, ValueError) as error:
            _log.debug("fleet %s: event %s of %s not read: %s", self.fleet, topic, host, error)
            await msg.ack()
            return
        event = event.model_copy(update={"source": REMOTE_PREFIX + host})
        await self.runtime.bus.publish(event)
        self._applied = sequence
        self.received += 1
        with contextlib.suppress(Exception):  # redelivered if lost: skipped by its sequence
            await msg.ack()

    def _wanted(self, topic: str) -> bool:
        return any(topic_matches(pattern, topic) for pattern in self._patterns)

    # -- the bucket -----------------------------------------------------------------------------

    def _state_changed(self, event: PluginStateChanged) -> None:
        if not event.source.startswith(REMOTE_PREFIX):
            self._put_row(event.plugin, str(event.state), event.version, event.timestamp)

    def _put_row(self, plugin: str, state: str, version: str | None, since: Any) -> None:
        stamp = since if isinstance(since, str) else since.isoformat()
        row = FleetPlugin(self.host, plugin, state, version, stamp)
        self._rows[plugin] = row
        self._kv_pending[plugin] = row
        self._kv_idle.clear()
        self._kv_wake.set()

    async def _keep_bucket(self) -> None:
        while True:
            if not self._kv_pending:
                self._kv_idle.set()
            await self._kv_wake.wait()
            self._kv_wake.clear()
            while self._kv_pending:
                await self._connected.wait()
                plugin, row = next(iter(self._kv_pending.items()))
                try:
                    await asyncio.wait_for(
                        self._kv.put(f"{self.host}.{plugin}", encode_row(row)), _KV_TIMEOUT_S
                    )
                except Exception:
                    await asyncio.sleep(0.1)
                    continue
                if self._kv_pending.get(plugin) is row:
                    del self._kv_pending[plugin]

    async def _watch_bucket(self) -> None:
        """Keep `plugins` current: every row of the bucket, then each change of it.

        Never cancelled during nats-py's set-up of a watch, where a cancellation can be lost
        (Python 3.11's ``wait_for``) or leave the watch's subscription mid-delivery: a stop or
        a repair asked meanwhile is seen once the watch is set up.
        """
        while True:
            self._rewatching = False
            rows: dict[str, FleetPlugin] = {}
            watcher = None
            try:
                watcher = await self._kv.watchall()
                if self._stopping:  # the connection's drain ends this watch
                    watcher = None
                    return
                if self._rewatching:  # set up on the bucket the server lost: again
                    continue
                self._watcher = watcher  # from here on, cancelled where it waits for a row
                async for entry in watcher:
                    if entry is None:  # the rows there were are read: the fleet as it is now
                        self._fleet_rows = rows
                        continue
                    row = decode_row(entry.value) if entry.value else None
                    if row is None:
                        rows.pop(entry.key, None)
                    else:
                        rows[entry.key] = row
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.5)
            finally:
                self._watcher = None
                if watcher is not None:
                    with contextlib.suppress(Exception):
                        await watcher.stop()

    def _rewatch(self) -> None:
        """Watch the bucket anew (the server may have lost it with the watch's consumer)."""
        task = self._watching
        if task is None:
            return
        if task.done() or self._watcher is not None:  # waiting for a row: safe to cancel
            task.cancel()
            self._watching = asyncio.create_task(self._watch_bucket(), name="hotbus-fleet-watch")
        else:  # in its set-up: it starts again once set up
            self._rewatching = True

    # -- fleet reload ---------------------------------------------------------------------------

    async def _on_reload(self, msg: Any) -> None:
        try:
            plugin = str(json.loads(msg.data)["plugin"])
        except (ValueError, KeyError, TypeError):
            await msg.respond(json.dumps({"outcome": "failed", "message": "bad request"}).encode())
            return
        try:
            result = await self.runtime.reload(plugin, reason=ReloadReason.REMOTE)
            outcome, message = outcome_of(result)
        except HotbusError as error:
            outcome, message = "failed", str(error)
        row = self._rows.get(plugin)
        answer = {
            "host": self.host,
            "plugin": plugin,
            "outcome": outcome,
            "message": message,
            "version": row.version if row is not None else None,
        }
        with contextlib.suppress(Exception):
            await msg.respond(json.dumps(answer).encode())

    # -- the connection -------------------------------------------------------------------------

    async def _publish(self, event: Event) -> None:
        with use_source(self.runtime.id):
            await self.runtime.bus.publish(event)

    async def _on_disconnected(self) -> None:
        if not self._connected.is_set() or self._stopping:
            return
        self._connected.clear()
        for future in self._inflight:  # their acknowledgements are lost: send them again
            future.cancel()
        await self._publish(
            FleetDisconnected(
                fleet=self.fleet, host=self.host, server=self.target.shown, reason="connection lost"
            )
        )

    async def _on_reconnected(self) -> None:
        if self._repairing is None or self._repairing.done():
            self._repairing = asyncio.create_task(self._resume(), name="hotbus-fleet-resume")

    async def _resume(self) -> None:
        """After a reconnection: repair what the server lost, then send again."""
        await self._repair()
        self._connected.set()
        self._wake.set()
        self._rewatch()  # a watch of a bucket the server lost sees nothing
        # Every row again: the bucket may have been lost with the server.
        for row in self._rows.values():
            self._kv_pending.setdefault(row.plugin, row)
        self._kv_idle.clear()
        self._kv_wake.set()
        await self._publish(
            FleetConnected(
                fleet=self.fleet,
                host=self.host,
                server=self.target.shown,
                reconnected=True,
                waiting=len(self._outbox),
            )
        )

    async def _repair(self) -> None:
        """Make the stream, the bucket and this host's consumer again if the server lost them
        (it ran without its store). With its store, nothing is missing."""
        errors = import_nats().js.errors
        try:
            await self._ensure_stream()
            self._kv = await self._js.create_key_value(bucket=bucket_name(self.fleet), history=1)
            try:
                await self._js.consumer_info(stream_name(self.fleet), consumer_name(self.host))
            except errors.NotFoundError:
                if self._consumer is not None:
                    with contextlib.suppress(Exception):
                        await self._consumer.unsubscribe()
                self._applied = 0  # a new stream counts from 1 again
                await self._subscribe_consumer()
        except Exception as error:  # the connection went again: the next one repairs
            _log.debug("fleet %s: repair: %s", self.fleet, self.target.mask(repr(error)))

    async def _on_error(self, error: Exception) -> None:
        _log.debug("fleet %s: %s", self.fleet, self.target.mask(f"{type(error).__name__}: {error}"))


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


async def _end(tasks: list[asyncio.Task[Any]], timeout: float) -> None:
    """Cancel ``tasks`` until each has ended, for at most ``timeout`` seconds.

    nats-py swallows a cancellation that arrives while it flushes (a task then runs on to its
    next wait), so a task still running is cancelled again. One that outlives ``timeout`` is
    left behind: closing the connection ends what it waits for.
    """
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    pending = {task for task in tasks if not task.done()}
    while pending and loop.time() < end:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(_RECANCEL_S, end - loop.time()))
    for task in tasks:
        if not task.done():
            _log.warning(
                "fleet task %s did not stop in %.1f s: left behind", task.get_name(), timeout
            )
        elif not task.cancelled():
            task.exception()  # retrieved: it ended as it ends, nothing to report at stop
