"""LiteLLM's ``/user/*``, ``/customer/*`` (and its older name ``/end_user/*``), ``/tag/*``,
``/budget/*`` and team membership routes. Admin only, except ``/user/info`` about the caller's own user (as LiteLLM
allows a key). Thin, like ``routes.py``: parse, call ``account_admin`` / ``team_members``, return.
"""
from __future__ import annotations

import hmac
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Query

from gateway.auth import authenticate, require_admin
from gateway.errors import bad_request, forbidden
from gateway.keys import account_admin, team_members
from gateway.keys.access import serving_access_groups
from gateway.keys.account_schemas import (
    AccountIdsRequest,
    BudgetIdsRequest,
    DeleteBudgetRequest,
    DeleteTagRequest,
    NewTagRequest,
    TagNamesRequest,
    UpdateTagRequest,
    NewBudgetRequest,
    NewCustomerRequest,
    NewUserRequest,
    TeamMemberAddRequest,
    TeamMemberRef,
    TeamMemberUpdateRequest,
    TeamRef,
    UpdateBudgetRequest,
    UpdateCustomerRequest,
    UpdateUserRequest,
)
from gateway.keys.schemas import MAX_TEAM_ID_CHARS, TEAM_ID_PATTERN
from gateway.principal import Principal

router = APIRouter(tags=["admin"])
_admin = APIRouter(dependencies=[Depends(require_admin)])
AccountIdParam = Annotated[Optional[str], Query(min_length=1, max_length=MAX_TEAM_ID_CHARS, pattern=TEAM_ID_PATTERN)]


# ---------------------------------------------------------------- users
@_admin.post("/user/new")
def user_new(body: NewUserRequest) -> dict[str, Any]:
    return account_admin.new_user(body, serving_access_groups())


@router.get("/user/info")
def user_info(user_id: AccountIdParam = None, principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    """Admins about any user; a key about its own user (LiteLLM's default when ``user_id`` is left out)."""
    own = getattr(principal.key, "user_id", None)
    user_id = user_id or own
    if not user_id:
        raise bad_request("Pass ?user_id=<id>.", param="user_id")
    if not principal.is_admin and not (own and hmac.compare_digest(own, user_id)):
        raise forbidden("You are not allowed to access this user's info. Your role=internal_user")
    return account_admin.user_info(user_id)


@_admin.post("/user/update")
def user_update(body: UpdateUserRequest) -> dict[str, Any]:
    return account_admin.update_user(body)


@_admin.post("/user/delete")
def user_delete(body: AccountIdsRequest) -> dict[str, Any]:
    return account_admin.delete_users(body)


@_admin.get("/user/list")
def user_list(page: int = Query(1, ge=1), page_size: int = Query(25, ge=1, le=100)) -> dict[str, Any]:
    return account_admin.list_users(page, page_size)


# ---------------------------------------------------------------- customers, under both of LiteLLM's names
def _customer_routes(prefix: str, include_in_schema: bool) -> None:
    def customer_new(body: NewCustomerRequest) -> dict[str, Any]:
        return account_admin.new_customer(body)

    def customer_info(end_user_id: Annotated[str, Query(min_length=1, max_length=MAX_TEAM_ID_CHARS,
                                                        pattern=TEAM_ID_PATTERN)]) -> dict[str, Any]:
        return account_admin.customer_info(end_user_id)

    def customer_update(body: UpdateCustomerRequest) -> dict[str, Any]:
        return account_admin.update_customer(body)

    def customer_delete(body: AccountIdsRequest) -> dict[str, Any]:
        return account_admin.delete_customers(body)

    def customer_list() -> list[dict[str, Any]]:
        return account_admin.list_customers()

    def customer_block(body: AccountIdsRequest) -> dict[str, Any]:
        return account_admin.set_customers_blocked(body, True)

    def customer_unblock(body: AccountIdsRequest) -> dict[str, Any]:
        return account_admin.set_customers_blocked(body, False)

    for method, path, endpoint in (("POST", "new", customer_new), ("GET", "info", customer_info),
                                   ("POST", "update", customer_update), ("POST", "delete", customer_delete),
                                   ("GET", "list", customer_list), ("POST", "block", customer_block),
                                   ("POST", "unblock", customer_unblock)):
        _admin.add_api_route(f"{prefix}/{path}", endpoint, methods=[method], include_in_schema=include_in_schema,
                             name=f"{prefix.strip('/')}_{path}")


_customer_routes("/customer", include_in_schema=True)
_customer_routes("/end_user", include_in_schema=False)


# ---------------------------------------------------------------- tags
@_admin.post("/tag/new")
def tag_new(body: NewTagRequest) -> dict[str, Any]:
    return account_admin.new_tag(body)


@_admin.post("/tag/update")
def tag_update(body: UpdateTagRequest) -> dict[str, Any]:
    return account_admin.update_tag(body)


@_admin.post("/tag/info")
def tag_info(body: TagNamesRequest) -> dict[str, Any]:
    return account_admin.tag_info(body.names)


@_admin.get("/tag/list")
def tag_list() -> list[dict[str, Any]]:
    return account_admin.list_tags()


@_admin.post("/tag/delete")
def tag_delete(body: DeleteTagRequest) -> dict[str, Any]:
    return account_admin.delete_tag(body.name)


# ---------------------------------------------------------------- budget tiers
@_admin.post("/budget/new")
def budget_new(body: NewBudgetRequest) -> dict[str, Any]:
    return account_admin.new_budget(body)


@_admin.post("/budget/update")
def budget_update(body: UpdateBudgetRequest) -> dict[str, Any]:
    return account_admin.update_budget(body)


@_admin.post("/budget/info")
def budget_info(body: BudgetIdsRequest) -> list[dict[str, Any]]:
    return account_admin.budget_info(body.budgets)


@_admin.get("/budget/list")
def budget_list() -> list[dict[str, Any]]:
    return account_admin.list_budgets()


@_admin.post("/budget/delete")
def budget_delete(body: DeleteBudgetRequest) -> dict[str, Any]:
    return account_admin.delete_budget(body.id)


# ---------------------------------------------------------------- team membership and blocking
@_admin.post("/team/member_add")
def team_member_add(body: TeamMemberAddRequest) -> dict[str, Any]:
    return team_members.member_add(body)


@_admin.post("/team/member_update")
def team_member_update(body: TeamMemberUpdateRequest) -> dict[str, Any]:
    return team_members.member_update(body)


@_admin.post("/team/member_delete")
def team_member_delete(body: TeamMemberRef) -> dict[str, Any]:
    return team_members.member_delete(body)


@_admin.post("/team/block")
def team_block(body: TeamRef) -> dict[str, Any]:
    return team_members.set_blocked(body.team_id, True)


@_admin.post("/team/unblock")
def team_unblock(body: TeamRef) -> dict[str, Any]:
    return team_members.set_blocked(body.team_id, False)


router.include_router(_admin)  # after every route above is defined
