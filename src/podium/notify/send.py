"""Delivery: one mail through the configured SMTP server, one POST to a webhook.

Failures raise: ``Undeliverable`` for what retrying cannot fix (mail not configured, an
unknown destination), anything else (a refused connection, an HTTP 500) is retried by
the notifier with back-off.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from podium.notify.config import Destination, SmtpConfig
from podium.notify.content import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Message,
    encode,
    signature,
    slack_payload,
)

if TYPE_CHECKING:
    import httpx2


class Undeliverable(Exception):
    """A notification that no retry can deliver."""


def send_mail(config: SmtpConfig, to: str, message: Message) -> None:
    """Send ``message`` to ``to``; blocking (the notifier calls it in a thread)."""
    if config.host is None:
        raise Undeliverable("no SMTP server is configured: set smtp.host in podium.toml "
                            "(or PODIUM_SMTP__HOST)")
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = config.from_address
    mail["To"] = to
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain="podium")
    mail["X-Podium-Event"] = message.payload["event_type"]
    mail.set_content(message.text)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.security == "ssl":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with smtp:
        if config.security == "starttls":
            smtp.starttls(context=context)
        if config.username:
            smtp.login(config.username, config.password or "")
        smtp.send_message(mail)


async def post_webhook(client: httpx2.AsyncClient, destination: Destination,
                       message: Message) -> None:
    """POST ``message`` to ``destination``, signed when it has a secret.

    Raises:
        RuntimeError: the receiver did not answer 2xx.
    """
    payload = slack_payload(message) if destination.format == "slack" else message.payload
    body = encode(payload)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
               EVENT_HEADER: str(message.payload["event_type"]),
               "User-Agent": "podium-notifier"}
    if destination.secret:
        headers[SIGNATURE_HEADER] = signature(destination.secret, timestamp, body)
    response = await client.post(destination.url, content=body, headers=headers)
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"the receiver answered HTTP {response.status_code}: "
                           f"{response.text[:200]}")
