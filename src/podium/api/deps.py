"""What every route gets: the Podium installation and the authenticated caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from podium.errors import InvalidArgument
from podium.services import Podium, Principal, authenticate


# The dependencies are async so they run on the event loop: the token check is one
# indexed query, cheaper than a hop to the thread pool that sync dependencies cost.
async def podium_of(request: Request) -> Podium:
    podium: Podium = request.app.state.podium
    return podium


async def caller(request: Request) -> Principal:
    """The principal of the request's ``Authorization: Bearer <token>`` header."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    found = token.strip() if scheme.lower() == "bearer" else ""
    podium: Podium = request.app.state.podium
    return authenticate(podium, found)


def started(request: Request) -> None:
    """Tell the server's engine a run is waiting (no-op without an engine)."""
    wake = request.app.state.wake_engine
    if wake is not None:
        wake()


PodiumDep = Annotated[Podium, Depends(podium_of)]
Caller = Annotated[Principal, Depends(caller)]


class Body(BaseModel):
    """A request body: fields the Jobs API has and Podium does not use are ignored."""

    model_config = ConfigDict(extra="ignore")


def parameters(values: dict[str, Any] | None, name: str) -> dict[str, str] | None:
    """Job parameters as text, as the Jobs API takes them."""
    if values is None:
        return None
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, (dict, list)) or value is None:
            raise InvalidArgument(f"{name}.{key}: a parameter value is a string")
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def int_id(value: str, name: str) -> int:
    if not value.isdigit():
        raise InvalidArgument(f"{name}: expected a number, got {value!r}")
    return int(value)
