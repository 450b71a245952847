"""``/docs``: the API reference as one self-contained page, rendered from the OpenAPI
document, so it works with no internet (no script or style from elsewhere)."""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
h2{margin-top:2rem;border-bottom:1px solid #ccc}
.op{margin:.6rem 0;padding:.4rem .6rem;border-left:4px solid #888;background:#f6f6f6}
.m{font:bold 13px monospace;display:inline-block;width:4.5rem}
code{font-size:13px}
.p{color:#444;font-size:13px;margin-left:4.5rem}
"""


def install(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(render(app.openapi()))


def render(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    groups: dict[str, list[str]] = {}
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            tag = (op.get("tags") or ["other"])[0]
            params = ", ".join(
                f"{p['name']}{'' if p.get('required') else '?'}" for p in op.get("parameters", [])
                if p.get("in") == "query"
            )
            body = " · JSON body" if "requestBody" in op else ""
            groups.setdefault(tag, []).append(
                f'<div class="op"><span class="m">{method.upper()}</span>'
                f"<code>{html.escape(path)}</code> {html.escape(op.get('summary', ''))}"
                f'<div class="p">{html.escape(params)}{body}</div></div>'
            )
    sections = "".join(f"<h2>{html.escape(tag)}</h2>{''.join(ops)}"
                       for tag, ops in groups.items())
    title = html.escape(f"{info.get('title', 'API')} {info.get('version', '')}")
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<style>{_STYLE}</style><h1>{title}</h1>"
        f"<p>{html.escape(info.get('description', ''))} Every call needs the header "
        "<code>Authorization: Bearer &lt;token&gt;</code>; the machine-readable document is "
        '<a href="/openapi.json">/openapi.json</a>.</p>'
        f"{sections}</html>"
    )
