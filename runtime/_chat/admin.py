"""``!hotbus status|reload NAME|enable NAME|disable NAME``: running the runtime from the chat.

Only the identities listed in ``admins`` (at the top of hotbus.toml) may; everyone else gets a
short refusal. A nick alone trusts whoever has that nick; a host mask (``nick!user@host``, with
``*`` and ``?``) trusts where they connect from. The console's user is the person who started
hotbus and can edit its files anyway: always an admin. Each user may give
``command_rate_per_min`` commands a minute; the ones beyond are ignored (and reported as
``hotbus.admin.command`` with outcome ``limited``).
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Final, final

from hotbus.runtime._plugins.chat import ChatMessage
from hotbus.runtime._runtime import Runtime
from hotbus.schemas import (
    AdminCommand,
    AdminOutcome,
    HotbusError,
    PluginState,
    ReloadCommitted,
    ReloadPatched,
    ReloadRejected,
    ReloadRolledBack,
    Settings,
)

__all__ = ["PREFIX", "AdminCommands", "is_admin"]

#: What an admin command starts with.
PREFIX: Final = "!hotbus"
_USAGE: Final = "usage: !hotbus status | reload NAME | enable NAME | disable NAME"
_REFUSAL: Final = "sorry, !hotbus commands are for the bot's admins"
#: The console's transport name: its user is always an admin.
_CONSOLE: Final = "console"
_WINDOW_S: Final = 60.0

logger = logging.getLogger("hotbus.admin")


def is_admin(message: ChatMessage, admins: tuple[str, ...]) -> bool:
    """Whether the sender of ``message`` is one of ``admins`` (or the console's user).

    An entry with ``!`` or ``@`` is a host mask matched against the message's mask, with
    ``*`` and ``?``; any other entry is a nick. Both compare case-insensitively, as IRC does.
    """
    if message.transport == _CONSOLE:
        return True
    nick = message.user.casefold()
    mask = message.mask.casefold()
    for entry in admins:
        wanted = entry.strip().casefold()
        if "!" in wanted or "@" in wanted:
            if mask and fnmatch.fnmatchcase(mask, wanted):
                return True
        elif wanted and wanted == nick:
            return True
    return False


@final
class AdminCommands:
    """Answers ``!hotbus ...`` messages for ``runtime``, under the settings of the moment."""

    __slots__ = ("_clock", "_recent", "_runtime", "_settings")

    def __init__(
        self,
        runtime: Runtime,
        settings: Callable[[], Settings],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runtime = runtime
        self._settings = settings  # read at each command: admins may change while running
        self._clock = clock
        self._recent: dict[tuple[str, str], deque[float]] = {}

    @staticmethod
    def wanted(message: ChatMessage) -> bool:
        """Whether ``message`` is an admin command."""
        text = message.text.strip()
        return text == PREFIX or text.startswith(PREFIX + " ")

    async def answer(self, message: ChatMessage) -> str | None:
        """Run the command of ``message``: the answer to say, or None (rate-limited).

        Publishes `AdminCommand` with what became of it.
        """
        command = message.text.strip()[len(PREFIX) :].strip()
        settings = self._settings()
        if self._limited(message, settings.command_rate_per_min):
            await self._report(message, command, AdminOutcome.LIMITED, "")
            return None
        if not is_admin(message, settings.admins):
            await self._report(message, command, AdminOutcome.REFUSED, _REFUSAL)
            return _REFUSAL
        try:
            outcome, text = await self._run(command)
        except HotbusError as error:
            outcome, text = AdminOutcome.FAILED, str(error)
        await self._report(message, command, outcome, text)
        return text

    def _limited(self, message: ChatMessage, per_minute: int) -> bool:
        key = (message.transport, message.mask or message.user.casefold())
        now = self._clock()
        recent = self._recent.setdefault(key, deque())
        while recent and now - recent[0] >= _WINDOW_S:
            recent.popleft()
        if len(recent) >= per_minute:
            return True
        recent.append(now)
        return False

    async def _run(self, command: str) -> tuple[AdminOutcome, str]:
        verb, _, name = command.partition(" ")
        name = name.strip()
        runtime = self._runtime
        if verb == "status" and not name:
            return AdminOutcome.DONE, self._status()
        if verb not in {"reload", "enable", "disable"} or not name or " " in name:
            return AdminOutcome.FAILED, _USAGE
        if verb == "enable":
            await runtime.enable(name)
            return AdminOutcome.DONE, f"enabled {name}: {self._state_of(name)}"
        if verb == "disable":
            await runtime.disable(name)
            return AdminOutcome.DONE, f"disabled {name}"
        outcome = await runtime.reload(name)
        if isinstance(outcome, ReloadCommitted):
            versions = ", ".join(
                f"{change.plugin} {change.new_version}" for change in outcome.changes
            )
            return AdminOutcome.DONE, f"reloaded {versions} in {outcome.durations.total:.0f} ms"
        if isinstance(outcome, ReloadPatched) and not outcome.restored:
            changed = ", ".join(outcome.functions) or "no function changed"
            return (
                AdminOutcome.DONE,
                f"patched {outcome.plugin} {outcome.new_version} in {outcome.duration_ms:.0f} ms: "
                f"{changed}",
            )
        if isinstance(outcome, ReloadRejected | ReloadRolledBack):
            verb_done = "rejected" if isinstance(outcome, ReloadRejected) else "rolled back"
            error = outcome.error
            where = f" ({error.location()})" if error.location() else ""
            return (
                AdminOutcome.FAILED,
                f"{outcome.plugin} {verb_done} at {outcome.phase}: "
                f"{error.type.rsplit('.', 1)[-1]}: {error.message}{where}; the running "
                "version keeps serving",
            )
        return AdminOutcome.DONE, f"{name}: nothing to reload"

    def _state_of(self, name: str) -> str:
        for row in self._runtime.status():
            if row.name == name:
                return f"{row.state}" + (f" ({row.reason})" if row.reason else "")
        return "unknown"

    def _status(self) -> str:
        rows = self._runtime.status()
        active = [row.name for row in rows if row.state is PluginState.ACTIVE]
        others = [
            f"{row.name} {row.state}" + (f" ({row.reason})" if row.reason else "")
            for row in rows
            if row.state is not PluginState.ACTIVE
        ]
        text = f"{len(active)} of {len(rows)} plugins active: {', '.join(active) or 'none'}"
        return text + (f"; {'; '.join(others)}" if others else "")

    async def _report(
        self, message: ChatMessage, command: str, outcome: AdminOutcome, answer: str
    ) -> None:
        await self._runtime.bus.publish(
            AdminCommand(
                transport=message.transport,
                user=message.user,
                mask=message.mask,
                command=command,
                outcome=outcome,
                answer=answer,
            )
        )
