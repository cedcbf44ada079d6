"""`PendingRequest`: one request on the bus, waiting for the reply of the owners that serve it.

A request is an event published like any other; the owners whose handlers receive it (each
in its mailbox) are its responders. The first event a responder's handler returns is the
reply. When every responder has finished with the request without replying, the request
fails: with the first responder's failure if one failed (`ResponderError`), else because
nobody replied (`NoResponderError`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import final

from hotbus.schemas import ErrorInfo, Event, NoResponderError, ResponderError

__all__ = ["PendingRequest"]


@final
class PendingRequest:
    """The state of one request: who may still reply, and the future the requester awaits."""

    __slots__ = ("_failure", "_received", "future", "requester", "topic", "waiting")

    def __init__(
        self, topic: str, responders: Iterable[str], future: asyncio.Future[Event], requester: str
    ) -> None:
        #: The request's topic.
        self.topic = topic
        #: Who asked (an owner); a request from an owner being drained for a reload is
        #: delivered even to responders that already hold their events (see `Bus.request`).
        self.requester = requester
        #: The responders that have not finished with the request yet.
        self.waiting = set(responders)
        #: The reply (or the failure) the requester awaits.
        self.future = future
        self._received: list[str] = []
        self._failure: ResponderError | None = None

    def __repr__(self) -> str:
        return f"<hotbus PendingRequest {self.topic!r} waiting={sorted(self.waiting)}>"

    def replied(self, owner: str, reply: Event) -> None:
        """``owner``'s handler returned ``reply``: the first reply is the answer."""
        if owner in self.waiting and not self.future.done():
            self.future.set_result(reply)

    def failed(self, owner: str, error: BaseException, secrets: Iterable[str] = ()) -> None:
        """``owner``'s handler raised ``error`` (its message masked of ``secrets``)."""
        if owner in self.waiting and self._failure is None:
            info = ErrorInfo.from_exception(error).masked(list(secrets))
            where = info.location()
            described = f"{info.type}: {info.message}" + (f" ({where})" if where else "")
            self._failure = ResponderError(self.topic, owner, described)

    def interrupted(self, owner: str) -> None:
        """``owner``'s delivery of the request was cancelled (its reload or stop waited past
        ``quiesce_timeout_s``)."""
        if owner in self.waiting and self._failure is None:
            self._failure = ResponderError(
                self.topic,
                owner,
                "its handler was cancelled while it was reloaded or stopped (it ran past "
                "quiesce_timeout_s)",
            )
        self.finished(owner, handled=True)

    def finished(self, owner: str, *, handled: bool) -> None:
        """``owner`` is done with the request (``handled``: a handler of it ran)."""
        if owner not in self.waiting:
            return
        self.waiting.discard(owner)
        if handled:
            self._received.append(owner)
        if self.waiting or self.future.done():
            return
        if self._failure is not None:
            self.future.set_exception(self._failure)
        else:
            self.future.set_exception(NoResponderError(self.topic, self._received))
