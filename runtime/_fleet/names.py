"""Where a fleet lives on NATS: its server address (secrets masked), subjects, stream, bucket.

A fleet ``F`` uses:

- the JetStream stream ``HOTBUS_FLEET_F`` on subjects ``hotbus_fleet.F.ev.<host>.<topic>``:
  each host's events, once each (``Nats-Msg-Id`` is the event's id);
- a durable consumer ``host-<host>`` per host on that stream: what a host has not acknowledged
  yet (it was down, or NATS was) is delivered when it comes back;
- the key-value bucket ``hotbus_fleet_F``, key ``<host>.<plugin>``: each plugin's state;
- core NATS requests on ``hotbus_fleet.F.ctl.reload.<host>``: a fleet reload, one host each.

Nothing here imports `nats`.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from hotbus.schemas import MASK, SettingsError

__all__ = [
    "DEFAULT_FLEET",
    "NatsTarget",
    "bucket_name",
    "check_name",
    "consumer_name",
    "event_subject",
    "events_filter",
    "import_nats",
    "reload_subject",
    "stream_name",
]

#: The fleet a host joins when none is named.
DEFAULT_FLEET: Final = "default"
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INSTALL: Final = "pip install 'hotbus[nats]'"


def check_name(kind: str, name: str) -> str:
    """``name`` if it is a valid fleet or host name (letters, digits, ``_``, ``-``), else raise."""
    if not _NAME.fullmatch(name):
        raise SettingsError(
            f"{kind} name {name!r} is not allowed: use 1 to 64 letters, digits, '_' or '-'"
        )
    return name


def stream_name(fleet: str) -> str:
    """The JetStream stream holding the fleet's events."""
    return f"HOTBUS_FLEET_{fleet}"


def bucket_name(fleet: str) -> str:
    """The key-value bucket holding each host's plugins."""
    return f"hotbus_fleet_{fleet}"


def events_filter(fleet: str) -> str:
    """The subjects of every host's events in the fleet."""
    return f"hotbus_fleet.{fleet}.ev.>"


def event_subject(fleet: str, host: str, topic: str) -> str:
    """The subject of one host's event of ``topic``."""
    return f"hotbus_fleet.{fleet}.ev.{host}.{topic}"


def consumer_name(host: str) -> str:
    """The durable consumer a host catches up from."""
    return f"host-{host}"


def reload_subject(fleet: str, host: str) -> str:
    """Where a host answers fleet reload requests."""
    return f"hotbus_fleet.{fleet}.ctl.reload.{host}"


@dataclass(frozen=True, slots=True)
class NatsTarget:
    """A NATS server and how to log in to it, from the URL and the environment.

    The URL may carry ``user:password@`` or a token (``nats://TOKEN@host``); a ``tls://`` URL
    uses TLS. The environment may add ``HOTBUS_NATS_USER`` and ``HOTBUS_NATS_PASSWORD``,
    ``HOTBUS_NATS_TOKEN``, ``HOTBUS_NATS_CREDS`` (a credentials file), ``HOTBUS_NATS_NKEY``
    (an nkey seed file) and ``HOTBUS_NATS_CA`` (a CA file: TLS). Every secret is masked in
    `shown` and in `mask`.
    """

    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    creds: str | None = None
    nkey: str | None = None
    ca: str | None = None

    @classmethod
    def parse(cls, url: str, env: dict[str, str] | None = None) -> NatsTarget:
        """Read ``url`` (and the ``HOTBUS_NATS_*`` variables of ``env``, default the process's)."""
        environ = dict(os.environ if env is None else env)
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        if parts.scheme not in {"nats", "tls"} or not parts.hostname:
            raise SettingsError(
                f"--nats {cls._masked_url(url)!r} is not a NATS URL: give nats://HOST:PORT "
                "(or tls://HOST:PORT)"
            )
        user, password, token = parts.username, parts.password, None
        if user is not None and password is None:  # nats://TOKEN@host
            user, token = None, user
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        plain = urlunsplit((parts.scheme, host, "", "", ""))
        return cls(
            url=plain,
            user=user or environ.get("HOTBUS_NATS_USER") or None,
            password=password or environ.get("HOTBUS_NATS_PASSWORD") or None,
            token=token or environ.get("HOTBUS_NATS_TOKEN") or None,
            creds=environ.get("HOTBUS_NATS_CREDS") or None,
            nkey=environ.get("HOTBUS_NATS_NKEY") or None,
            ca=environ.get("HOTBUS_NATS_CA") or None,
        )

    @staticmethod
    def _masked_url(url: str) -> str:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        if parts.username is None:
            return url
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        login = f"{parts.username}:{MASK}" if parts.password is not None else MASK
        return urlunsplit((parts.scheme, f"{login}@{host}", parts.path, "", ""))

    @property
    def shown(self) -> str:
        """The server as messages show it: the URL without its secrets, the user named."""
        return self.url if self.user is None else self.url.replace("://", f"://{self.user}@", 1)

    def mask(self, text: str) -> str:
        """``text`` with every secret of this target replaced by the mask."""
        for secret in (self.password, self.token):
            if secret:
                text = text.replace(secret, MASK)
        return text

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments of ``nats.connect`` for this target (secrets included)."""
        options: dict[str, Any] = {"servers": [self.url]}
        if self.user is not None:
            options["user"] = self.user
        if self.password is not None:
            options["password"] = self.password
        if self.token is not None:
            options["token"] = self.token
        if self.creds is not None:
            options["user_credentials"] = self.creds
        if self.nkey is not None:
            options["nkeys_seed"] = self.nkey
        if self.ca is not None or self.url.startswith("tls://"):
            options["tls"] = ssl.create_default_context(cafile=self.ca)
        return options


def import_nats() -> Any:
    """The `nats` package, or a usage error saying how to install it."""
    try:
        import nats
    except ImportError:
        raise SettingsError(
            f"--nats needs the NATS client, which is not installed: {_INSTALL}"
        ) from None
    return nats
