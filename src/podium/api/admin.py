"""Permissions, Secrets, Token and SCIM "Me" APIs in their Databricks /api/2.0 shapes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from podium.api.deps import Body, Caller, PodiumDep, int_id
from podium.errors import InvalidArgument, PermissionDenied
from podium.services import auth, jobs, secrets

router = APIRouter(prefix="/api/2.0")


class AccessControl(Body):
    access_control_list: list[dict[str, Any]] = []


@router.get("/permissions/jobs/{job_id}")
def get_permissions(podium: PodiumDep, actor: Caller, job_id: str) -> dict[str, Any]:
    return jobs.get_permissions(podium, int_id(job_id, "job_id"), actor)


@router.put("/permissions/jobs/{job_id}")
def set_permissions(podium: PodiumDep, actor: Caller, job_id: str,
                    body: AccessControl) -> dict[str, Any]:
    return jobs.change_permissions(podium, int_id(job_id, "job_id"), body.access_control_list,
                                   actor, replace=True)


@router.patch("/permissions/jobs/{job_id}")
def update_permissions(podium: PodiumDep, actor: Caller, job_id: str,
                       body: AccessControl) -> dict[str, Any]:
    return jobs.change_permissions(podium, int_id(job_id, "job_id"), body.access_control_list,
                                   actor, replace=False)


@router.get("/permissions/jobs/{job_id}/permissionLevels")
def permission_levels(podium: PodiumDep, actor: Caller, job_id: str) -> dict[str, Any]:
    jobs.get_permissions(podium, int_id(job_id, "job_id"), actor)  # may the caller see it
    return {"permission_levels": [{"permission_level": level, "description": text}
                                  for level, text in jobs.LEVEL_DESCRIPTIONS.items()]}


class Scope(Body):
    scope: str


class SecretKey(Scope):
    key: str


class PutSecret(SecretKey):
    string_value: str | None = None
    bytes_value: str | None = None


@router.post("/secrets/scopes/create")
def create_scope(podium: PodiumDep, actor: Caller, body: Scope) -> dict[str, Any]:
    secrets.create_scope(podium, body.scope, actor)
    return {}


@router.get("/secrets/scopes/list")
def list_scopes(podium: PodiumDep, actor: Caller) -> dict[str, Any]:
    return {"scopes": secrets.list_scopes(podium, actor)}


@router.post("/secrets/scopes/delete")
def delete_scope(podium: PodiumDep, actor: Caller, body: Scope) -> dict[str, Any]:
    secrets.delete_scope(podium, body.scope, actor)
    return {}


@router.post("/secrets/put")
def put_secret(podium: PodiumDep, actor: Caller, body: PutSecret) -> dict[str, Any]:
    if body.string_value is None:
        raise InvalidArgument("string_value: give the secret's value as text "
                              "(bytes_value is not supported)")
    secrets.put_secret(podium, body.scope, body.key, body.string_value, actor)
    return {}


@router.get("/secrets/list")
def list_secrets(podium: PodiumDep, actor: Caller, scope: str) -> dict[str, Any]:
    return {"secrets": secrets.list_secrets(podium, scope, actor)}


@router.post("/secrets/delete")
def delete_secret(podium: PodiumDep, actor: Caller, body: SecretKey) -> dict[str, Any]:
    secrets.delete_secret(podium, body.scope, body.key, actor)
    return {}


@router.get("/secrets/get")
def get_secret(actor: Caller, scope: str, key: str) -> dict[str, Any]:
    raise PermissionDenied("secret values are never returned by the API; tasks read them "
                           f"as {{{{secrets/{scope}/{key}}}}}")


class NewToken(Body):
    comment: str = ""
    lifetime_seconds: int | None = None


class TokenId(Body):
    token_id: str


@router.post("/token/create")
def create_token(podium: PodiumDep, actor: Caller, body: NewToken) -> dict[str, Any]:
    token_id, token = auth.create_token(podium, actor.user_name, body.comment,
                                        body.lifetime_seconds, actor)
    info = next(t for t in auth.list_tokens(podium, actor) if t["token_id"] == token_id)
    return {"token_value": token, "token_info": info}


@router.get("/token/list")
def list_tokens(podium: PodiumDep, actor: Caller) -> dict[str, Any]:
    return {"token_infos": auth.list_tokens(podium, actor)}


@router.post("/token/delete")
def delete_token(podium: PodiumDep, actor: Caller, body: TokenId) -> dict[str, Any]:
    auth.revoke_token(podium, body.token_id, actor)
    return {}


@router.get("/preview/scim/v2/Me")
def me(actor: Caller) -> dict[str, Any]:
    return {"id": actor.user_name, "userName": actor.user_name, "displayName": actor.user_name,
            "active": True, "groups": [{"display": g, "value": g} for g in actor.groups]}
