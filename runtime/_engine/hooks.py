"""Running a plugin's hook so that nothing it does can hang the runtime or escape as its error.

`call_hook` runs the hook as a task of its own, so that the caller waits for it with a limit,
cancels it past the limit, and abandons it if it ignores the cancellation for a grace period:
a hook that swallows cancellation, or never returns, holds up nothing. Every exception the hook
raises, ``BaseException`` included, comes back as the outcome, never through the caller (and
never out of the event loop, which asyncio lets a ``KeyboardInterrupt`` or ``SystemExit`` of a
task do); only a real Ctrl+C of the process goes on.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from hotbus.runtime._loading.interrupt import culprit, is_real_interrupt

__all__ = ["HookOutcome", "call_hook", "waiting_at"]


@dataclass(frozen=True, slots=True)
class HookOutcome:
    """How a hook ended: returned ``value``, raised ``error``, or ran out of time."""

    value: Any = None
    error: BaseException | None = None
    #: It ran past its limit (then ``error`` is None).
    timed_out: bool = False
    #: It ran past its limit and ignored the cancellation: it is left running as ``task``.
    abandoned: bool = False
    #: Where it was waiting when it ran out of time, when that is plugin code.
    file: Path | None = None
    line: int | None = None
    task: asyncio.Task[Any] | None = None


async def _guarded(call: Callable[[], Any]) -> tuple[bool, Any]:
    """The hook's task: ``(True, result)``, or ``(False, error)`` for whatever it raised."""
    try:
        result = call()
        if inspect.isawaitable(result):
            result = await result
    except BaseException as error:
        if is_real_interrupt(error):
            raise
        return False, error
    return True, result


def _frames_of(coro: Any) -> list[FrameType]:
    """The frames of a suspended coroutine and of what it awaits, outermost first."""
    frames: list[FrameType] = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return frames


def waiting_at(task: asyncio.Task[Any]) -> tuple[Path | None, int | None]:
    """The plugin file and line where ``task`` is suspended (``(None, None)`` if not found)."""
    found = culprit(list(reversed(_frames_of(task.get_coro()))))
    return (found.file, found.line) if found is not None else (None, None)


async def _finished(task: asyncio.Task[Any], timeout: float) -> bool:
    """Wait up to ``timeout`` for ``task``; whether it is done. Cancelling the wait cancels
    the task too. (`asyncio.wait`, without what a set of tasks needs: this runs per hook.)"""
    if task.done():
        return True
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = loop.call_later(timeout, wake)
    task.add_done_callback(wake)
    try:
        await waiter
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        timer.cancel()
        task.remove_done_callback(wake)
    return task.done()


async def call_hook(
    call: Callable[[], Any], *, name: str, timeout: float, grace: float
) -> HookOutcome:
    """Run ``call()``, a plugin's hook, under ``timeout``; see the module's documentation.

    Args:
        call: calls the hook (returns its coroutine).
        name: the name of the hook's task (the stall monitor reads what it was doing there).
        timeout: how long it may take, in seconds.
        grace: how long it gets to end once cancelled, before it is abandoned.

    Raises:
        asyncio.CancelledError: only when the caller is cancelled (the hook is cancelled too).
    """
    task = asyncio.get_running_loop().create_task(_guarded(call), name=name)
    if not await _finished(task, timeout):
        file, line = waiting_at(task)
        task.cancel()
        ended = await _finished(task, grace)
        return HookOutcome(timed_out=True, abandoned=not ended, file=file, line=line, task=task)
    ok, value = task.result()
    return HookOutcome(value=value) if ok else HookOutcome(error=value)
