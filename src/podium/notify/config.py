"""Where notifications go: the SMTP server (``[smtp]``) and the webhook destinations
(``[destinations.<id>]``), read from the settings.

podium.toml::

    [smtp]
    host = "smtp.example.com"
    port = 587
    security = "starttls"          # none | starttls | ssl
    username = "podium"
    password = "..."
    from_address = "podium@example.com"

    [destinations.ops]
    url = "https://hooks.example.com/podium"
    secret = "..."                 # HMAC-SHA256 key of the X-Podium-Signature header
    format = "podium"              # podium (documented JSON) | slack ({"text": ...})

or the environment: ``PODIUM_SMTP__HOST=...``, ``PODIUM_DESTINATIONS__OPS=<url>``
(``PODIUM_DESTINATIONS__OPS__SECRET``, ``PODIUM_DESTINATIONS__OPS__FORMAT`` for the rest).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from podium.errors import InvalidArgument
from podium.settings import Settings

SECURITY = ("none", "starttls", "ssl")
FORMATS = ("podium", "slack")
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str | None  # None: mail is not configured
    port: int
    security: str
    username: str | None
    password: str | None
    from_address: str
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook destination named by ``webhook_notifications`` ids."""

    id: str
    url: str
    secret: str | None
    format: str  # podium, slack

    def masked(self) -> dict[str, str]:
        """For display: the URL without credentials or query, the secret hidden."""
        url = mask_url(self.url, path=self.format != "slack")  # Slack's path is the key
        return {"id": self.id, "url": url, "format": self.format,
                "secret": "****" if self.secret else ""}


def smtp_config(settings: Settings) -> SmtpConfig:
    """The ``[smtp]`` settings.

    Raises:
        InvalidArgument: ``security`` or ``port`` is not valid.
    """
    raw = settings.section("smtp")
    security = str(raw.get("security") or "none").lower()
    if security not in SECURITY:
        raise InvalidArgument(f"smtp.security: expected one of {', '.join(SECURITY)}, "
                              f"got {security!r}")
    try:
        port = int(raw.get("port") or _DEFAULT_PORTS[security])
    except (TypeError, ValueError):
        raise InvalidArgument(f"smtp.port: expected a whole number, got {raw['port']!r}") from None
    host = str(raw["host"]) if raw.get("host") else None
    return SmtpConfig(
        host=host, port=port, security=security,
        username=str(raw["username"]) if raw.get("username") else None,
        password=str(raw["password"]) if raw.get("password") else None,
        from_address=str(raw.get("from_address") or f"podium@{socket.getfqdn()}"),
        timeout=float(raw.get("timeout") or 30.0),
    )


def destinations(settings: Settings) -> dict[str, Destination]:
    """The configured webhook destinations by id.

    Raises:
        InvalidArgument: a destination has no ``url`` or an unknown ``format``.
    """
    fields: dict[str, dict[str, Any]] = {}
    for key, value in settings.section("destinations").items():
        name, _, field = str(key).partition("__")  # PODIUM_DESTINATIONS__OPS__SECRET
        entry = fields.setdefault(name, {})
        if field:
            entry[field] = value
        elif isinstance(value, dict):
            entry.update(value)
        else:
            entry["url"] = value
    out: dict[str, Destination] = {}
    for name, entry in sorted(fields.items()):
        url = str(entry.get("url") or "")
        if not url:
            raise InvalidArgument(f"destinations.{name}.url: missing; set it in podium.toml "
                                  f"or PODIUM_DESTINATIONS__{name.upper()}=<url>")
        fmt = str(entry.get("format") or "podium").lower()
        if fmt not in FORMATS:
            raise InvalidArgument(f"destinations.{name}.format: expected one of "
                                  f"{', '.join(FORMATS)}, got {fmt!r}")
        secret = entry.get("secret")
        out[name] = Destination(name, url, str(secret) if secret else None, fmt)
    return out


def find_destination(found: dict[str, Destination], wanted: str) -> Destination | None:
    """The destination ``wanted``; ids set through the environment are lower case, so a
    case-insensitive match counts too."""
    if wanted in found:
        return found[wanted]
    return next((d for k, d in found.items() if k.lower() == wanted.lower()), None)


def mask_url(url: str, path: bool = True) -> str:
    """``url`` without its user info, query and fragment (they often hold tokens), and
    without its path unless ``path``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "****" if parts.query else ""
    shown = parts.path if path or not parts.path.strip("/") else "/****"
    return urlunsplit((parts.scheme, host, shown, query, ""))
