"""`Access`: who may read the dashboard and who may act through it.

- Bound to a loopback address, reading needs nothing (only this machine can connect), unless a
  token was given; bound to any other address, everything but the page's static assets needs
  the token: as ``Authorization: Bearer TOKEN``, an ``X-Hotbus-Token`` header, the
  ``hotbus_token`` cookie the page gets, or once, ``?token=`` in the address of the page.
- A mutating request (``POST``) also needs the ``X-Hotbus-CSRF: 1`` header, which a form or a
  cross-site request of another page cannot send without a preflight the dashboard never
  answers, and an ``Origin`` (when the browser sends one) that is the dashboard's own.
- On a loopback bind, the ``Host`` header must name a loopback host, so that a site whose name
  is rebound to 127.0.0.1 (DNS rebinding) cannot read or act.

The token is compared in constant time and never written to a log or an event.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from typing import Final, final

__all__ = ["COOKIE", "CSRF_HEADER", "TOKEN_HEADER", "Access", "is_loopback", "new_token"]

COOKIE: Final = "hotbus_token"
TOKEN_HEADER: Final = "x-hotbus-token"
CSRF_HEADER: Final = "x-hotbus-csrf"
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, without port) is this machine's loopback."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def _host_name(host_header: str) -> str:
    """The host of a ``Host`` header, without its port (``[::1]:8080`` is ``::1``)."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


@final
class Access:
    """Decides each request from its method, headers, cookie and query.

    ``token`` None means none is needed (a loopback bind without one given).
    """

    __slots__ = ("_token", "loopback")

    def __init__(self, token: str | None, *, loopback: bool) -> None:
        self._token = token
        #: Whether the dashboard is bound to a loopback address.
        self.loopback = loopback

    def __repr__(self) -> str:  # never the token itself
        return f"<hotbus dashboard Access loopback={self.loopback} token={self.needs_token}>"

    @property
    def needs_token(self) -> bool:
        """Whether requests must carry the token."""
        return self._token is not None

    def holds_token(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is the token (True when none is needed)."""
        if self._token is None:
            return True
        return candidate is not None and hmac.compare_digest(
            candidate.encode("utf-8", "surrogateescape"), self._token.encode()
        )

    def presented(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], query: Mapping[str, str]
    ) -> str | None:
        """The token a request carries, wherever it carries it."""
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            return authorization[7:].strip()
        return headers.get(TOKEN_HEADER) or cookies.get(COOKIE) or query.get("token")

    def refusal(
        self,
        method: str,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        query: Mapping[str, str],
        *,
        scheme: str = "http",
    ) -> tuple[int, str] | None:
        """Why a request is refused (status and message), or None when it may go on."""
        host = headers.get("host", "")
        if self.loopback and not is_loopback(_host_name(host)):
            return 403, (
                f"this dashboard serves on a loopback address; the Host {host!r} is not one "
                "(open it as http://127.0.0.1:PORT/ or http://localhost:PORT/)"
            )
        if not self.holds_token(self.presented(headers, cookies, query)):
            return 401, (
                "this dashboard needs its token: open the address it printed (with ?token=), "
                "or send 'Authorization: Bearer TOKEN'"
            )
        if method.upper() in ("GET", "HEAD", "OPTIONS"):
            return None
        if headers.get(CSRF_HEADER) != "1":
            return 403, (
                "a request that acts needs the header 'X-Hotbus-CSRF: 1' (cross-site "
                "request protection)"
            )
        origin = headers.get("origin")
        if origin is not None and origin != f"{scheme}://{host}":
            return 403, f"the Origin {origin!r} is not this dashboard's (cross-site request)"
        return None
