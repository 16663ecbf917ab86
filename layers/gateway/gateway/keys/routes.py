"""The LiteLLM-compatible admin API: keys, teams, spend. Every route needs the master or an admin key.

Thin: parse, call ``admin.py``, return. Blocking DynamoDB calls run in FastAPI's threadpool
(plain ``def`` routes). Errors are ``GatewayError`` (OpenAI shape); body validation errors are
FastAPI's ``RequestValidationError``, which the app renders as 400 in the same shape. Query and
path parameters carry the bounds of the body fields of the same name (see ``schemas.py``).
"""
from __future__ import annotations

from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Path, Query

from gateway.auth import require_admin
from gateway.principal import Principal
from gateway.errors import bad_request
from gateway.keys import admin
from gateway.keys.schemas import (
    MAX_NAME_CHARS,
    MAX_TEAM_ID_CHARS,
    TEAM_ID_PATTERN,
    DeleteKeysRequest,
    DeleteTeamsRequest,
    GenerateKeyRequest,
    KeyRef,
    NewTeamRequest,
    RegenerateKeyRequest,
    ReplaySettlementsRequest,
    UpdateKeyRequest,
    UpdateTeamRequest,
)

router = APIRouter(dependencies=[Depends(require_admin)], tags=["admin"])

#: query and path parameters get the bounds of the body fields of the same name (see schemas.py)
_TEAM_ID_BOUNDS: dict[str, Any] = {"min_length": 1, "max_length": MAX_TEAM_ID_CHARS, "pattern": TEAM_ID_PATTERN}
NameParam = Annotated[Optional[str], Query(max_length=MAX_NAME_CHARS)]
TeamIdParam = Annotated[Optional[str], Query(**_TEAM_ID_BOUNDS)]


# ---------------------------------------------------------------- keys
@router.post("/key/generate")
def key_generate(body: GenerateKeyRequest) -> dict[str, Any]:
    return admin.generate_key(body)


@router.get("/key/info")
def key_info(key: NameParam = None, principal: Principal = Depends(require_admin)) -> dict[str, Any]:
    if not key:
        if principal.key_hash is None:
            raise bad_request("Pass ?key=<token or hash>.", param="key")
        key = principal.key_hash
    return admin.key_info(key)


@router.post("/key/update")
def key_update(body: UpdateKeyRequest) -> dict[str, Any]:
    return admin.update_key(body)


@router.post("/key/delete")
def key_delete(body: DeleteKeysRequest) -> dict[str, Any]:
    return admin.delete_keys(body)


@router.get("/key/list")
def key_list(
    page: int = Query(1, ge=1),
    size: int = Query(10, ge=1, le=100),
    team_id: TeamIdParam = None,
    user_id: NameParam = None,
    key_alias: NameParam = None,
    return_full_object: bool = False,
) -> dict[str, Any]:
    return admin.list_keys(page=page, size=size, team_id=team_id, user_id=user_id, key_alias=key_alias,
                           return_full_object=return_full_object)


@router.post("/key/block")
def key_block(body: KeyRef) -> dict[str, Any]:
    return admin.set_blocked(body.key, True)


@router.post("/key/unblock")
def key_unblock(body: KeyRef) -> dict[str, Any]:
    return admin.set_blocked(body.key, False)


@router.post("/key/regenerate")
def key_regenerate(body: RegenerateKeyRequest) -> dict[str, Any]:
    return admin.regenerate_key(None, body)


@router.post("/key/{key}/regenerate")
def key_regenerate_path(
    key: Annotated[str, Path(max_length=MAX_NAME_CHARS)], body: Optional[RegenerateKeyRequest] = None,
) -> dict[str, Any]:
    return admin.regenerate_key(key, body or RegenerateKeyRequest())


# ---------------------------------------------------------------- teams
@router.post("/team/new")
def team_new(body: NewTeamRequest) -> dict[str, Any]:
    return admin.new_team(body)


@router.get("/team/info")
def team_info(team_id: Annotated[str, Query(**_TEAM_ID_BOUNDS)]) -> dict[str, Any]:
    return admin.team_info(team_id)


@router.post("/team/update")
def team_update(body: UpdateTeamRequest) -> dict[str, Any]:
    return admin.update_team(body)


@router.post("/team/delete")
def team_delete(body: DeleteTeamsRequest) -> dict[str, Any]:
    return admin.delete_teams(body)


@router.get("/team/list")
def team_list() -> list[dict[str, Any]]:
    return admin.list_teams()


# ---------------------------------------------------------------- spend
@router.get("/spend/logs")
def spend_logs(
    api_key: NameParam = None,
    user_id: NameParam = None,
    request_id: NameParam = None,
    team_id: TeamIdParam = None,
    start_date: NameParam = None,
    end_date: NameParam = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    return admin.spend_logs(api_key=api_key, user_id=user_id, request_id=request_id, team_id=team_id,
                            start_date=start_date, end_date=end_date, page=page, page_size=page_size)


@router.post("/spend/replay")
def spend_replay(body: ReplaySettlementsRequest) -> dict[str, Any]:
    """Record settlements that failed on an instance (from its ``spend_settle_failed`` ERROR lines)."""
    return admin.replay_settlements(body)
