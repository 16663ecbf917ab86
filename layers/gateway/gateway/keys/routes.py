"""The LiteLLM-compatible admin API: keys, teams, spend. Every route needs the master or an admin
key, except two that LiteLLM lets a key call about itself: ``/key/info`` (its own key) and
``/team/info`` (its own team).

Thin: parse, call ``admin.py``, return. Blocking DynamoDB calls run in FastAPI's threadpool
(plain ``def`` routes). Errors are ``GatewayError`` (OpenAI shape); body validation errors are
FastAPI's ``RequestValidationError``, which the app renders as 400 in the same shape. Query and
path parameters carry the bounds of the body fields of the same name (see ``schemas.py``).
"""
from __future__ import annotations

import hmac
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Path, Query

from gateway.auth import authenticate, require_admin
from gateway.principal import Principal
from gateway.errors import bad_request, forbidden
from gateway.keys import account_routes, admin, tokens
from gateway.keys.access import serving_access_groups as _access_groups
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

router = APIRouter(tags=["admin"])  # what the app mounts: the admin routes below and the self-service ones
_admin = APIRouter(dependencies=[Depends(require_admin)])

#: query and path parameters get the bounds of the body fields of the same name (see schemas.py)
_TEAM_ID_BOUNDS: dict[str, Any] = {"min_length": 1, "max_length": MAX_TEAM_ID_CHARS, "pattern": TEAM_ID_PATTERN}
NameParam = Annotated[Optional[str], Query(max_length=MAX_NAME_CHARS)]
TeamIdParam = Annotated[Optional[str], Query(**_TEAM_ID_BOUNDS)]




# ---------------------------------------------------------------- keys
@_admin.post("/key/generate")
def key_generate(body: GenerateKeyRequest) -> dict[str, Any]:
    return admin.generate_key(body, _access_groups())


@router.get("/key/info")
def key_info(key: NameParam = None, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    """As LiteLLM's ``_can_user_query_key_info`` decides: admins about any key, a key about itself
    and about the other keys of its ``user_id``; anyone else gets LiteLLM's 403."""
    if not key:
        if principal.key_hash is None:
            raise bad_request("Pass ?key=<token or hash>.", param="key")
        key = principal.key_hash
    if principal.is_admin or hmac.compare_digest(tokens.to_hash(key), principal.key_hash or ""):
        return admin.key_info(key)
    own_user = getattr(principal.key, "user_id", None)
    if own_user:
        found = admin.key_info(key)
        if found["info"].get("user_id") == own_user:
            return found
    raise forbidden(f"You are not allowed to access this key's info. Your role={_role(principal)}")


def _role(principal: Principal) -> str:
    return "proxy_admin" if principal.is_admin else "internal_user"


@_admin.post("/key/update")
def key_update(body: UpdateKeyRequest) -> dict[str, Any]:
    return admin.update_key(body, _access_groups())


@_admin.post("/key/delete")
def key_delete(body: DeleteKeysRequest) -> dict[str, Any]:
    return admin.delete_keys(body)


@_admin.get("/key/list")
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


@_admin.post("/key/block")
def key_block(body: KeyRef) -> dict[str, Any]:
    return admin.set_blocked(body.key, True)


@_admin.post("/key/unblock")
def key_unblock(body: KeyRef) -> dict[str, Any]:
    return admin.set_blocked(body.key, False)


@_admin.post("/key/regenerate")
def key_regenerate(body: RegenerateKeyRequest) -> dict[str, Any]:
    return admin.regenerate_key(None, body, _access_groups())


@_admin.post("/key/{key}/regenerate")
def key_regenerate_path(
    key: Annotated[str, Path(max_length=MAX_NAME_CHARS)], body: Optional[RegenerateKeyRequest] = None,
) -> dict[str, Any]:
    return admin.regenerate_key(key, body or RegenerateKeyRequest(), _access_groups())


# ---------------------------------------------------------------- teams
@_admin.post("/team/new")
def team_new(body: NewTeamRequest) -> dict[str, Any]:
    return admin.new_team(body)


@router.get("/team/info")
def team_info(team_id: Annotated[str, Query(**_TEAM_ID_BOUNDS)],
              principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    """A team's keys about their team (as LiteLLM allows); admins about any team."""
    own_team = getattr(principal.key, "team_id", None)
    if not principal.is_admin and not (own_team and hmac.compare_digest(own_team, team_id)):
        raise forbidden(f"You are not allowed to access this team's info. Your role={_role(principal)}")
    return admin.team_info(team_id)


@_admin.post("/team/update")
def team_update(body: UpdateTeamRequest) -> dict[str, Any]:
    return admin.update_team(body)


@_admin.post("/team/delete")
def team_delete(body: DeleteTeamsRequest) -> dict[str, Any]:
    return admin.delete_teams(body)


@_admin.get("/team/list")
def team_list() -> list[dict[str, Any]]:
    return admin.list_teams()


# ---------------------------------------------------------------- spend
@_admin.get("/spend/logs")
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


@_admin.post("/spend/replay")
def spend_replay(body: ReplaySettlementsRequest) -> dict[str, Any]:
    """Record settlements that failed on an instance (from its ``spend_settle_failed`` ERROR lines)."""
    return admin.replay_settlements(body)


router.include_router(_admin)  # after every route above is defined
router.include_router(account_routes.router)  # users, customers, budget tiers, team membership
