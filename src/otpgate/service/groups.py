"""Groups of users: named sets that protected sites admit (see the sites file).

A group name is 1 to 64 characters of ``a-z 0-9 . _ -``, starting with a letter or digit,
stored lower-case. Admins form the implicit group ``admins``: it follows the admin flag
and is never stored, so it cannot drift from it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from otpgate.service._actors import load_admin_actor
from otpgate.service._convert import user_view
from otpgate.service._tx import load_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import InvalidInput
from otpgate.service.views import UserView
from otpgate.store import repositories as repo

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = [
    "ADMINS",
    "add_to_group",
    "group_members",
    "groups_of",
    "normalise_group",
    "remove_from_group",
]

ADMINS = "admins"
_GROUP = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def normalise_group(name: object) -> str:
    """The stored form of a group name (stripped, lower-case), or :class:`InvalidInput`."""
    if not isinstance(name, str):
        raise InvalidInput("The group name must be text.")
    text = name.strip().lower()
    if not text.isascii() or not _GROUP.fullmatch(text):
        raise InvalidInput(
            "A group name has 1 to 64 characters: letters a-z, digits and . _ - only."
        )
    return text


def _stored_group(name: object) -> str:
    group = normalise_group(name)
    if group == ADMINS:
        raise InvalidInput("The group 'admins' follows the admin flag; it cannot be edited.")
    return group


def groups_of(ctx: Context, user_id: int) -> frozenset[str]:
    """The user's groups, ``admins`` included for an admin."""
    with unit_of_work(ctx) as session:
        user = load_user(session, user_id)
        names = set(repo.groups_of_user(session, user.id))
        if user.is_admin:
            names.add(ADMINS)
        return frozenset(names)


def add_to_group(
    ctx: Context, origin: Origin, actor_id: int | None, user_id: int, group: str
) -> bool:
    """An admin (or the operator) puts a user in a group; False if already there."""
    name = _stored_group(group)
    with unit_of_work(ctx) as session:
        actor = load_admin_actor(session, origin, actor_id)
        user = load_user(session, user_id)
        added = repo.add_group_member(session, user.id, name, ctx.now_dt())
        if added:
            record(session, ctx, origin, AuditKind.GROUP_ADDED, actor=actor, subject=user,
                   detail={"group": name})
        return added


def remove_from_group(
    ctx: Context, origin: Origin, actor_id: int | None, user_id: int, group: str
) -> bool:
    """An admin (or the operator) takes a user out of a group; False if not in it."""
    name = _stored_group(group)
    with unit_of_work(ctx) as session:
        actor = load_admin_actor(session, origin, actor_id)
        user = load_user(session, user_id)
        removed = repo.remove_group_member(session, user.id, name)
        if removed:
            record(session, ctx, origin, AuditKind.GROUP_REMOVED, actor=actor, subject=user,
                   detail={"group": name})
        return removed


def group_members(ctx: Context, group: str) -> list[UserView]:
    """The members of a group by username (for ``admins``: the admins)."""
    name = normalise_group(group)
    with unit_of_work(ctx) as session:
        if name == ADMINS:
            rows = [u for u in repo.search_users(session, "", limit=100_000) if u.is_admin]
        else:
            rows = repo.group_members(session, name)
        return [user_view(session, u) for u in rows]
