"""Repositories of group memberships (re-exported by repositories)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from otpgate.store._common import insert_row, rowcount
from otpgate.store.models import User, UserGroup

__all__ = ["add_group_member", "group_members", "groups_of_user", "remove_group_member"]


def add_group_member(s: Session, user_id: int, name: str, now: datetime) -> bool:
    """Put the user in the group; False if they already were (nothing changes then)."""
    if s.get(UserGroup, (user_id, name)) is not None:
        return False
    insert_row(s, UserGroup(user_id=user_id, name=name, added_at=now))
    return True


def remove_group_member(s: Session, user_id: int, name: str) -> bool:
    """Take the user out of the group; True iff they were in it."""
    statement = delete(UserGroup).where(UserGroup.user_id == user_id, UserGroup.name == name)
    return rowcount(s, statement) > 0


def groups_of_user(s: Session, user_id: int) -> list[str]:
    """The names of the user's stored groups, sorted."""
    query = select(UserGroup.name).where(UserGroup.user_id == user_id).order_by(UserGroup.name)
    return list(s.scalars(query))


def group_members(s: Session, name: str) -> list[User]:
    """The users stored in the group, by username."""
    query = (
        select(User)
        .join(UserGroup, UserGroup.user_id == User.id)
        .where(UserGroup.name == name)
        .order_by(User.username)
    )
    return list(s.scalars(query))
