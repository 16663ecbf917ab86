"""Request bodies of ``/user/*``, ``/customer/*`` (``/end_user/*``), ``/budget/*`` and the team
member routes: LiteLLM's field names (``litellm/proxy/_types.py``: ``NewUserRequest``,
``NewCustomerRequest``, ``BudgetNewRequest``, ``TeamMemberAddRequest``, ...), strict and bounded
like the key and team bodies (``schemas.py``). Fields LiteLLM has and the gateway does not use
(``send_invite_email``, ``allowed_model_region``, ``model_max_budget``, ...) are ignored.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, Field, model_validator

from gateway import spend_tags
from gateway.keys.schemas import MAX_LIST_ITEMS, Name, TeamId, _Body, _Limits

#: user, customer and budget ids become part of DynamoDB keys (``USER#<id>``): like team ids
AccountId = TeamId
Role = Literal["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer", "customer"]


class NewUserRequest(_Limits):
    user_id: Optional[AccountId] = None
    user_email: Optional[Name] = None
    user_alias: Optional[Name] = None
    user_role: Optional[Role] = None
    budget_id: Optional[AccountId] = None
    #: LiteLLM's default: /user/new also makes a key for the user and returns it
    auto_create_key: bool = True
    key_alias: Optional[Name] = None
    team_id: Optional[TeamId] = None


class UpdateUserRequest(_Limits):
    user_id: AccountId
    user_email: Optional[Name] = None
    user_alias: Optional[Name] = None
    user_role: Optional[Role] = None
    budget_id: Optional[AccountId] = None


class DeleteUsersRequest(_Body):
    user_ids: list[AccountId] = Field(min_length=1, max_length=MAX_LIST_ITEMS)


class NewCustomerRequest(_Limits):
    user_id: AccountId
    alias: Optional[Name] = None
    budget_id: Optional[AccountId] = None


class UpdateCustomerRequest(_Limits):
    user_id: AccountId
    alias: Optional[Name] = None
    budget_id: Optional[AccountId] = None


class AccountIdsRequest(_Body):
    """``/customer/delete``, ``/customer/block``, ``/customer/unblock``: LiteLLM's ``user_ids``."""

    user_ids: list[AccountId] = Field(min_length=1, max_length=MAX_LIST_ITEMS)


class NewBudgetRequest(_Limits):
    budget_id: Optional[AccountId] = None
    soft_budget: Optional[float] = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)


class UpdateBudgetRequest(_Limits):
    budget_id: AccountId
    soft_budget: Optional[float] = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)


class BudgetIdsRequest(_Body):
    budgets: list[AccountId] = Field(min_length=1, max_length=MAX_LIST_ITEMS)


class DeleteBudgetRequest(_Body):
    id: AccountId


class Member(_Body):
    role: Literal["admin", "user"] = "user"
    user_id: Optional[AccountId] = None
    user_email: Optional[Name] = None

    @model_validator(mode="after")
    def _named(self) -> "Member":
        if self.user_id is None and self.user_email is None:
            raise ValueError("Either user id or user email must be provided")
        return self


class TeamMemberAddRequest(_Body):
    team_id: TeamId
    member: Union[Member, list[Member]]

    def members(self) -> list[Member]:
        return self.member if isinstance(self.member, list) else [self.member]

    @model_validator(mode="after")
    def _bounded(self) -> "TeamMemberAddRequest":
        if len(self.members()) > MAX_LIST_ITEMS:
            raise ValueError(f"at most {MAX_LIST_ITEMS} members per request")
        return self


class TeamMemberRef(_Body):
    team_id: TeamId
    user_id: Optional[AccountId] = None
    user_email: Optional[Name] = None

    @model_validator(mode="after")
    def _named(self) -> "TeamMemberRef":
        if self.user_id is None and self.user_email is None:
            raise ValueError("Either user id or user email must be provided")
        return self


class TeamMemberUpdateRequest(TeamMemberRef):
    role: Optional[Literal["admin", "user"]] = None


class TeamRef(_Body):
    team_id: TeamId


def _tag_name(value: Any) -> Any:
    if not spend_tags.is_tag(value):
        raise ValueError(f"a tag name is {spend_tags.RULE.split(': ', 1)[-1]}, at most {spend_tags.MAX_TAG_CHARS} characters")
    return value


#: what a request may carry as a spend tag (``gateway.spend_tags``), so every tag a budget names can be sent
TagName = Annotated[str, AfterValidator(_tag_name)]


class NewTagRequest(_Limits):
    """LiteLLM's ``TagNewRequest``: a tag with its own budget and limits (or a ``budget_id`` tier)."""

    name: TagName
    description: Optional[Name] = None
    budget_id: Optional[AccountId] = None
    soft_budget: Optional[float] = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)


class UpdateTagRequest(NewTagRequest):
    pass


class TagNamesRequest(_Body):
    names: list[TagName] = Field(min_length=1, max_length=MAX_LIST_ITEMS)


class DeleteTagRequest(_Body):
    name: TagName
