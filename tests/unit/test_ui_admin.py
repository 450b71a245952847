"""The pure helpers of the settings pages: masked webhook addresses, token lifetimes,
audit details."""

from __future__ import annotations

import pytest

from podium.errors import InvalidArgument
from podium.ui.admin import detail_text, lifetime_seconds, origin


@pytest.mark.parametrize(("url", "shown"), [
    ("https://hooks.slack.com/services/T0/B0/KEY", "https://hooks.slack.com"),
    ("https://user:pw@example.com:8443/hook?token=abc#x", "https://example.com:8443"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    ("http://example.com:notaport/x", "http://example.com"),
    ("not a url", "?://?"),
])
def test_origin_keeps_only_scheme_and_host(url: str, shown: str) -> None:
    assert origin(url) == shown


def test_lifetime_seconds() -> None:
    assert lifetime_seconds("") is None and lifetime_seconds("  ") is None
    assert lifetime_seconds("1") == 86400
    assert lifetime_seconds("0.5") == 43200
    for bad in ("0", "-2", "abc", "40000", "nan"):
        with pytest.raises(InvalidArgument, match="lifetime"):
            lifetime_seconds(bad)


def test_detail_text() -> None:
    assert detail_text({"user": "bob", "comment": "", "n": 2}) == "user=bob, n=2"
    assert detail_text({}) == "" and detail_text(None) == ""
    assert detail_text("plain") == "plain"
