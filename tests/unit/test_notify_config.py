"""Notification settings: SMTP, webhook destinations in both forms, signatures."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.errors import InvalidArgument
from podium.notify import destinations, signature, smtp_config, verify
from podium.settings import load_settings


def test_destinations_from_toml_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "podium.toml").write_text(
        '[destinations.Ops]\nurl = "https://u:p@hooks.example.com/x?k=1"\nsecret = "s"\n'
        '[destinations.chat]\nurl = "https://hooks.slack.com/services/T/B/K"\n'
        'format = "slack"\n'
    )
    settings = load_settings({"PODIUM_HOME": str(tmp_path),
                              "PODIUM_DESTINATIONS__PAGER": "http://127.0.0.1:9/p",
                              "PODIUM_DESTINATIONS__PAGER__SECRET": "t"})
    found = destinations(settings)
    assert sorted(found) == ["Ops", "chat", "pager"]
    assert (found["pager"].url, found["pager"].secret) == ("http://127.0.0.1:9/p", "t")
    assert found["Ops"].masked() == {"id": "Ops", "url": "https://hooks.example.com/x?****",
                                     "format": "podium", "secret": "****"}
    assert found["chat"].masked()["url"] == "https://hooks.slack.com/****"


def test_bad_destination_and_smtp_settings_are_clear_errors(tmp_path: Path) -> None:
    bad = load_settings({"PODIUM_HOME": str(tmp_path), "PODIUM_DESTINATIONS__X__FORMAT": "xml"})
    with pytest.raises(InvalidArgument, match=r"destinations.x.url: missing"):
        destinations(bad)
    bad = load_settings({"PODIUM_HOME": str(tmp_path), "PODIUM_SMTP__SECURITY": "tls"})
    with pytest.raises(InvalidArgument, match=r"smtp\.security"):
        smtp_config(bad)


def test_smtp_defaults_follow_the_security() -> None:
    settings = load_settings({"PODIUM_HOME": "/nonexistent", "PODIUM_SMTP__HOST": "mail",
                              "PODIUM_SMTP__SECURITY": "ssl"})
    config = smtp_config(settings)
    assert (config.host, config.port, config.security) == ("mail", 465, "ssl")
    assert smtp_config(load_settings({"PODIUM_HOME": "/nonexistent"})).host is None


def test_a_signature_covers_the_timestamp_and_the_body() -> None:
    sig = signature("key", "1700000000", b'{"a":1}')
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify("key", "1700000000", b'{"a":1}', sig)
    assert not verify("key", "1700000001", b'{"a":1}', sig)
    assert not verify("key", "1700000000", b'{"a":2}', sig)


def test_config_show_hides_what_a_webhook_url_holds_beyond_its_host() -> None:
    settings = load_settings({
        "PODIUM_HOME": "/nonexistent",
        "PODIUM_DESTINATIONS__CHAT": "https://hooks.slack.com/services/T/B/KEY",
        "PODIUM_DESTINATIONS__CHAT__SECRET": "s",
    })
    shown = settings.masked()["destinations"]
    assert shown == {"chat": "https://hooks.slack.com/****", "chat__secret": "****"}
