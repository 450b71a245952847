"""The UI's pages (filled in page by page; each calls the services as the viewer)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
