"""Finding plugin code on a thread's stack, and interrupting it there.

Plugin modules run under the private `NAMESPACE`, so a frame whose module is named
``_hotbus_plugins.g<N>.<name>`` is plugin code. A thread is interrupted by making CPython raise
an exception in it at its next bytecode (``PyThreadState_SetAsyncExc``): code in a blocking C
call (``time.sleep``, a read) sees it only when that call returns.

An interruption is never withdrawn with ``PyThreadState_SetAsyncExc(id, NULL)``: on CPython
3.11 and 3.12 that leaves the interpreter's "asynchronous exception pending" flag set for good,
so that every thread takes the slow path at every check of the eval loop from then on (measured
here: the event loop and the loader thread livelocked). Whoever interrupts checks right before;
a thread that may have an interruption pending for work it has finished lets it fire with
`drain`. And on CPython 3.11, while a trace function is set (coverage, a debugger), an
interruption left pending for a thread blocked in a C call makes every traced thread spin at
its next function call until that call returns (measured: the event loop froze for the rest of
a ``time.sleep(3)``): there `may_interrupt` holds off until the thread runs bytecode again.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Final

from hotbus.runtime._loading.loader import NAMESPACE

__all__ = [
    "Culprit",
    "contain",
    "culprit",
    "drain",
    "interrupt",
    "interrupt_if_at",
    "is_plugin_module",
    "is_real_interrupt",
    "may_interrupt",
    "stack_of",
]

_PLUGIN_PREFIX: Final = NAMESPACE + "."
#: Modules whose frames between plugin code and the innermost frame make interrupting unsafe:
#: an exception raised there would break hotbus's own bookkeeping, not the plugin.
_OWN_PREFIXES: Final = ("hotbus.", "asyncio.", "blinker.", "importlib.")

# Private prototypes (setting argtypes on ctypes.pythonapi's function would change it for
# everyone in the process). PYFUNCTYPE: called with the GIL held.
_set_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


def interrupt(thread_id: int, error: type[BaseException]) -> bool:
    """Raise ``error`` in thread ``thread_id`` at its next bytecode; False if no such thread."""
    return bool(_set_async_exc(thread_id, error))


def interrupt_if_at(thread_id: int, frame: FrameType, error: type[BaseException]) -> bool:
    """`interrupt` thread ``thread_id`` only if its innermost frame is still ``frame``.

    The check and the interruption run as C calls back to back, with no Python function
    call between them (where the thread could take the interpreter lock and move on).
    """
    if sys._current_frames().get(thread_id) is frame:
        return bool(_set_async_exc(thread_id, error))
    return False


def _tracing() -> bool:
    return sys.gettrace() is not None or threading.gettrace() is not None


def _cpu_time(thread_id: int) -> float | None:
    """The CPU time thread ``thread_id`` has used, where the platform tells (else None)."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread_id))
    except (AttributeError, OSError):
        return None


def may_interrupt(thread_id: int, samples: int = 3) -> bool:
    """Whether interrupting thread ``thread_id`` now is safe for the whole process.

    Always, except on CPython 3.11 under a trace function (see the module's documentation):
    there only while the thread runs, which shows as its CPU time growing over a few
    milliseconds (a thread blocked in a call uses none).
    """
    if sys.version_info >= (3, 12) or not _tracing():
        return True
    first = _cpu_time(thread_id)
    if first is None:
        return True  # cannot tell: interrupting is what matters more
    for _ in range(samples - 1):
        time.sleep(0.002)
        now = _cpu_time(thread_id)
        if now is None or now > first:
            return True
    return False


def drain(error: type[BaseException]) -> None:
    """Let an interruption (``error`` or a subclass) still pending for this thread fire here.

    A pending interruption is raised at the next check of the eval loop, which a backward
    jump makes: a short loop is enough for it to fire, harmlessly, if there is one.
    """
    try:
        for _ in range(64):
            pass
    except error:
        pass


def is_plugin_module(name: object) -> bool:
    """Whether a module named ``name`` is a plugin module (one of a generation)."""
    return isinstance(name, str) and name.startswith(_PLUGIN_PREFIX)


def _module_of(frame: FrameType) -> str:
    name = frame.f_globals.get("__name__")
    return name if isinstance(name, str) else ""


def stack_of(thread_id: int) -> list[FrameType]:
    """The frames thread ``thread_id`` runs now, innermost first (``[]`` if it is gone)."""
    frame = sys._current_frames().get(thread_id)
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


@dataclass(frozen=True, slots=True)
class Culprit:
    """Plugin code found on a stack: where it is, and whether it may be interrupted there."""

    #: The plugin module's name (``_hotbus_plugins.g<N>.<name>``).
    module: str
    file: Path
    line: int
    #: The qualified name of the outermost plugin function on the stack (a handler, a hook).
    entry: str
    #: Whether everything from the innermost frame out to the plugin's is plugin code or code
    #: it called, never hotbus's own (nor asyncio's): only then may it be interrupted.
    interruptible: bool
    #: The innermost plugin frame, to tell whether the code moved on.
    frame: FrameType


def culprit(frames: list[FrameType]) -> Culprit | None:
    """The innermost plugin code of ``frames`` (innermost first), or None if there is none."""
    innermost = None
    for index, frame in enumerate(frames):
        if is_plugin_module(_module_of(frame)):
            innermost = index
            break
    if innermost is None:
        return None
    frame = frames[innermost]
    entry = frame
    for outer in frames[innermost + 1 :]:
        if is_plugin_module(_module_of(outer)):
            entry = outer
        else:
            break
    called = frames[:innermost]
    return Culprit(
        module=_module_of(frame),
        file=Path(frame.f_code.co_filename),
        line=frame.f_lineno,
        entry=entry.f_code.co_qualname,
        interruptible=not any(_module_of(f).startswith(_OWN_PREFIXES) for f in called),
        frame=frame,
    )


def _innermost(tb: TracebackType | None) -> FrameType | None:
    frame = None
    while tb is not None:
        frame = tb.tb_frame
        tb = tb.tb_next
    return frame


def is_real_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is a Ctrl+C of the process rather than something plugin code raised.

    A `KeyboardInterrupt` raised in plugin code (its innermost frame is a plugin module's) is
    the plugin's doing; one raised elsewhere comes from a signal handler (asyncio's runner
    raises it on a second Ctrl+C) and must stop the process.
    """
    if not isinstance(error, KeyboardInterrupt):
        return False
    frame = _innermost(error.__traceback__)
    return frame is None or not is_plugin_module(_module_of(frame))


def contain(error: BaseException) -> None:
    """Re-raise ``error`` if it must not be contained: a real Ctrl+C of the process.

    Call it first in ``except BaseException`` around plugin code: anything else it raised is
    that plugin's failure.
    """
    if is_real_interrupt(error):
        raise error
