"""What goes out on an IRC connection: replies split into lines that fit, and a throttle.

An IRC line is at most 512 bytes with its CRLF, and the server relays a message with the
sender's ``:nick!user@host`` before it; a reply longer than what is left is split at spaces
(never inside a UTF-8 character), its own line breaks are kept as line breaks (never sent raw:
a CR or LF in a line would end it and start another command), and a reply of very many lines
is cut, saying how many were left out. The throttle lets a burst through, then one line per
interval, as servers expect of a client that does not want to be kicked for flooding.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final, final

__all__ = ["LINE_BYTES", "Throttle", "split_text"]

#: An IRC line's limit, CRLF included.
LINE_BYTES: Final = 512
_CONTROL: Final = str.maketrans({"\r": None, "\0": None})


def split_text(text: str, limit: int, max_lines: int = 0) -> list[str]:
    """``text`` as lines of at most ``limit`` bytes of UTF-8 each, broken at spaces if possible.

    Line breaks of the text start new lines and empty lines are dropped; CR and NUL are
    removed. With ``max_lines``, a longer result is cut to that many lines, the last saying
    how many more there were (within one paragraph past the cut, reckoned from its length, not
    split). The work is bounded by what is kept, whatever the text's length.
    """
    if limit < 8:
        raise ValueError(f"a line of {limit} bytes holds nothing: give 8 or more")
    lines: list[str] = []
    more = 0
    for paragraph in text.translate(_CONTROL).split("\n"):
        start, end = 0, len(paragraph)
        while start < end:
            while start < end and paragraph[start].isspace():
                start += 1
            if start == end:
                break
            if max_lines and len(lines) >= max_lines:
                more += 1 + (end - start) // limit  # past the cut: counted, not split
                break
            piece = _fitting(paragraph, start, limit)
            lines.append(piece.rstrip())
            start += len(piece)
    if more:
        more += 1
        lines = [*lines[: max_lines - 1], f"... ({more} more lines)"]
    return lines


def _fitting(text: str, start: int, limit: int) -> str:
    """The longest piece of ``text`` from ``start`` within ``limit`` bytes, ending at a space
    if one is near; never half a character."""
    window = text[start : start + limit]  # a character is a byte at least: enough to look at
    encoded = window.encode()
    if len(encoded) <= limit and start + len(window) == len(text):
        return window
    head = encoded[:limit].decode("utf-8", "ignore")
    if start + len(head) == len(text):
        return head
    space = head.rfind(" ")
    return head[: space + 1] if space > len(head) // 2 else head


@final
class Throttle:
    """A token bucket: ``burst`` lines at once, then one every ``interval_s``."""

    __slots__ = ("_clock", "_interval_s", "_last", "_tokens", "burst")

    def __init__(
        self, burst: int = 5, interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if burst < 1 or interval_s < 0:
            raise ValueError("a throttle needs a burst of 1 or more and an interval of 0 or more")
        #: How many lines may go at once.
        self.burst = burst
        self._interval_s = interval_s
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def delay(self) -> float:
        """How long the next line must wait (0: it may go now); takes its token when 0."""
        now = self._clock()
        if self._interval_s:
            self._tokens = min(self.burst, self._tokens + (now - self._last) / self._interval_s)
        else:
            self._tokens = float(self.burst)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) * self._interval_s

    async def wait(self) -> None:
        """Wait until the next line may go, and take its token."""
        delay = self.delay()
        while delay > 0:  # a timer: nothing else can hand the token over sooner
            await asyncio.sleep(delay)
            delay = self.delay()
