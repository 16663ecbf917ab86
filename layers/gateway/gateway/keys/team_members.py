"""LiteLLM's team membership and blocking routes: ``/team/member_add``, ``/team/member_update``,
``/team/member_delete``, ``/team/block``, ``/team/unblock``.

Members are the team's ``members_with_roles`` (``{"user_id", "user_email", "role"}``, LiteLLM's
``Member``), kept on the team's record; each change is one conditional write that bumps the team's
version, so a blocked team's keys are refused by their next request on any instance (admission
asserts the version). Membership grants nothing by itself: keys carry the team (``team_id``).
"""
from __future__ import annotations

import time
from typing import Any

from gateway.errors import GatewayError, not_found
from gateway.keys import resolve
from gateway.keys.account_schemas import Member, TeamMemberAddRequest, TeamMemberRef, TeamMemberUpdateRequest
from gateway.keys.admin import _find_team, _guard, _store, team_view
from gateway.keys.models import TeamRecord
from gateway.keys.schemas import MAX_LIST_ITEMS
from gateway.keys.store import KeyStore


def _is(member: dict[str, Any], user_id: str | None, user_email: str | None) -> bool:
    return (user_id is not None and member.get("user_id") == user_id) or (
        user_email is not None and member.get("user_email") == user_email)


def _save(store: KeyStore, old: TeamRecord, **changes: Any) -> dict[str, Any]:
    new = old.with_changes(updated_at=time.time(), version=old.version + 1, **changes)
    try:
        _guard(store.save_team, new, old.version)
    except LookupError:
        raise GatewayError(409, "The team changed or was deleted meanwhile; retry.", code="conflict") from None
    for key in _guard(store.list_keys):
        if key.team_id == old.team_id:
            resolve.invalidate(key.token)
    return team_view(new, _guard(store.get_usage, "team", new.team_id))


def _entry(member: Member) -> dict[str, Any]:
    return {"user_id": member.user_id, "user_email": member.user_email, "role": member.role}


def member_add(body: TeamMemberAddRequest) -> dict[str, Any]:
    """Add members (an already listed one keeps its entry); LiteLLM's ``TeamAddMemberResponse`` fields."""
    store = _store()
    team = _find_team(store, body.team_id)
    members = list(team.members_with_roles)
    added = []
    for member in body.members():
        if not any(_is(m, member.user_id, member.user_email) for m in members):
            members.append(_entry(member))
            added.append(_entry(member))
    if len(members) > 10 * MAX_LIST_ITEMS:
        raise GatewayError(400, f"A team has at most {10 * MAX_LIST_ITEMS} members.", code="too_many_members",
                           param="member")
    view = _save(store, team, members_with_roles=tuple(members))
    return {**view, "updated_users": added, "updated_team_memberships": added}


def _find_member(team: TeamRecord, body: TeamMemberRef) -> int:
    for index, member in enumerate(team.members_with_roles):
        if _is(member, body.user_id, body.user_email):
            return index
    raise not_found(f"User {body.user_id or body.user_email} is not a member of team {team.team_id}.",
                    param="user_id", code="member_not_found")


def member_update(body: TeamMemberUpdateRequest) -> dict[str, Any]:
    store = _store()
    team = _find_team(store, body.team_id)
    index = _find_member(team, body)
    members = list(team.members_with_roles)
    if body.role is not None:
        members[index] = {**members[index], "role": body.role}
    _save(store, team, members_with_roles=tuple(members))
    member = members[index]
    return {"team_id": team.team_id, "user_id": member.get("user_id"), "user_email": member.get("user_email"),
            "role": member.get("role")}


def member_delete(body: TeamMemberRef) -> dict[str, Any]:
    store = _store()
    team = _find_team(store, body.team_id)
    index = _find_member(team, body)
    members = [m for i, m in enumerate(team.members_with_roles) if i != index]
    return _save(store, team, members_with_roles=tuple(members))


def set_blocked(team_id: str, blocked: bool) -> dict[str, Any]:
    store = _store()
    return _save(store, _find_team(store, team_id), blocked=blocked)
