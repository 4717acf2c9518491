"""``otpgate group add|remove|list|members``: groups that protected sites admit."""

from __future__ import annotations

import argparse

from otpgate.cli._context import ACTOR, operator_context, operator_origin
from otpgate.cli._format import clean

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate group …``."""
    group = subparsers.add_parser(
        "group", help="put users in groups (who may enter which protected site)"
    )
    commands = group.add_subparsers(dest="group_command", metavar="COMMAND", required=True)
    add = commands.add_parser("add", help="put a user in a group")
    add.add_argument("username")
    add.add_argument("group")
    add.set_defaults(handler=_add)
    remove = commands.add_parser("remove", help="take a user out of a group")
    remove.add_argument("username")
    remove.add_argument("group")
    remove.set_defaults(handler=_remove)
    lst = commands.add_parser("list", help="a user's groups (admins: the implicit 'admins')")
    lst.add_argument("username")
    lst.set_defaults(handler=_list)
    members = commands.add_parser("members", help="the users in a group")
    members.add_argument("group")
    members.set_defaults(handler=_members)


def _add(args: argparse.Namespace) -> int:
    from otpgate.service import groups, users

    with operator_context() as ctx:
        user = users.find_user(ctx, args.username)
        added = groups.add_to_group(ctx, operator_origin(), ACTOR, user.id, args.group)
    state = "added to" if added else "already in"
    print(f"{clean(user.username)} {state} {clean(groups.normalise_group(args.group))}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from otpgate.service import groups, users

    with operator_context() as ctx:
        user = users.find_user(ctx, args.username)
        removed = groups.remove_from_group(ctx, operator_origin(), ACTOR, user.id, args.group)
    state = "removed from" if removed else "was not in"
    print(f"{clean(user.username)} {state} {clean(groups.normalise_group(args.group))}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from otpgate.service import groups, users

    with operator_context() as ctx:
        user = users.find_user(ctx, args.username)
        names = groups.groups_of(ctx, user.id)
    for name in sorted(names):
        print(name)
    return 0


def _members(args: argparse.Namespace) -> int:
    from otpgate.service import groups

    with operator_context() as ctx:
        members = groups.group_members(ctx, args.group)
    for user in members:
        print(clean(user.username))
    return 0
