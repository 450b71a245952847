"""The web UI that ``podium server`` serves at ``/``: server-rendered pages (Jinja2), htmx
for the live parts, and the few JavaScript libraries it needs vendored under
``static/vendor`` so it works with no internet. Pages call the same services as the API,
as the signed-in user."""

from __future__ import annotations

from podium.ui.app import install

__all__ = ["install"]
