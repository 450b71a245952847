"""Telling people about runs: email and webhook notifications, health (duration)
warnings. The only package that sends mail or HTTP for notifications."""

from __future__ import annotations

from podium.notify.config import Destination, SmtpConfig, destinations, smtp_config
from podium.notify.content import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    run_page_url,
    signature,
    verify,
)
from podium.notify.notifier import Notifier

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Destination",
    "Notifier",
    "SmtpConfig",
    "destinations",
    "run_page_url",
    "signature",
    "smtp_config",
    "verify",
]
