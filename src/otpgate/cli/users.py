"""``otpgate user add|list|show|passwd|deactivate|unlock``: accounts, for the local operator."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from otpgate.cli._context import ACTOR, operator_context, operator_origin
from otpgate.cli._errors import EXIT_CONFLICT, CliError
from otpgate.cli._format import clean, table, to_json, when, yes_no
from otpgate.cli._prompt import read_new_password

if TYPE_CHECKING:
    from otpgate.service.context import Context
    from otpgate.service.views import UserView

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate user …``."""
    user = subparsers.add_parser("user", help="create, list and manage user accounts")
    commands = user.add_subparsers(dest="user_command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="create an account (password from a prompt or stdin)")
    add.add_argument("username")
    add.add_argument("--admin", action="store_true", help="make the account an administrator")
    add.add_argument("--email", default="")
    add.add_argument("--display-name", default="")
    add.add_argument("--locale", choices=("en", "fr"), default=None)
    _password_stdin_flag(add)
    add.set_defaults(handler=_add)

    lst = commands.add_parser("list", help="list accounts with their 2FA and lock state")
    lst.add_argument("--search", default="", help="text in the username, name or e-mail")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--json", action="store_true", help="print a JSON array")
    lst.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one account: 2FA, authenticators, lock state")
    show.add_argument("username")
    show.add_argument("--json", action="store_true", help="print a JSON object")
    show.set_defaults(handler=_show)

    passwd = commands.add_parser("passwd", help="set an account's password")
    passwd.add_argument("username")
    _password_stdin_flag(passwd)
    passwd.set_defaults(handler=_passwd)

    deactivate = commands.add_parser("deactivate", help="disable an account and end its sessions")
    deactivate.add_argument("username")
    deactivate.set_defaults(handler=_deactivate)

    unlock = commands.add_parser("unlock", help="clear an account's failed-attempt locks")
    unlock.add_argument("username")
    unlock.set_defaults(handler=_unlock)


def _password_stdin_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (the default when stdin "
        "is not a terminal)",
    )


def _add(args: argparse.Namespace) -> int:
    from otpgate.service import users
    from otpgate.service.errors import NotFound

    with operator_context() as ctx:
        # Refuse a taken name before asking for a password (create_user checks again
        # in its own transaction, so this is only for the operator's comfort).
        try:
            taken = users.find_user(ctx, args.username)
        except NotFound:
            pass
        else:
            raise CliError(f"the username {clean(taken.username)!r} is already taken",
                           EXIT_CONFLICT)
        password = read_new_password(from_stdin=args.password_stdin)
        view = users.create_user(
            ctx,
            operator_origin(),
            args.username,
            password,
            email=args.email,
            display_name=args.display_name,
            is_admin=args.admin,
            locale=args.locale,
            actor_id=ACTOR,
        )
    role = "administrator" if view.is_admin else "user"
    print(f"Created {role} {clean(view.username)} (id {view.id}).")
    return 0


def _list(args: argparse.Namespace) -> int:
    from otpgate.service import users

    with operator_context() as ctx:
        summaries = users.list_users(ctx, search=args.search, limit=args.limit)
    if args.json:
        print(to_json([asdict(s) for s in summaries]))
        return 0
    rows = [
        [s.username, yes_no(s.is_admin), yes_no(s.is_active),
         f"on ({s.authenticators})" if s.has_2fa else "off",
         when(s.locked_until, empty="no"), s.display_name]
        for s in summaries
    ]
    print(table(["USERNAME", "ADMIN", "ACTIVE", "2FA", "LOCKED UNTIL", "NAME"], rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    from otpgate.service import users

    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        details = _details(ctx, view)
    if args.json:
        print(to_json({**asdict(view), **details}))
        return 0
    lines = [
        ("Username", view.username),
        ("Name", view.display_name or "-"),
        ("E-mail", view.email or "-"),
        ("Administrator", yes_no(view.is_admin)),
        ("Active", yes_no(view.is_active)),
        ("Language", view.locale or "browser's choice"),
        ("Created", when(view.created_at)),
        ("Two-factor", "on" if view.has_2fa else "off"),
        ("Recovery codes left", str(details["recovery_codes_left"])),
        ("Locked until", when(details["locked_until"], empty="not locked")),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label + ':':<{width + 1}} {clean(value)}")
    for cred in details["authenticators"]:
        print(f"  authenticator {cred['id']}: {clean(cred['name'] or '(unnamed)')}, "
              f"{cred['kind'].upper()}, last used {when(cred['last_used_at'], 'never')}")
    return 0


def _details(ctx: Context, view: UserView) -> dict[str, Any]:
    from otpgate.service import admin, enrolment, recovery

    if not view.is_active:  # the service reads authenticators of active accounts only
        return {"locked_until": admin.lock_state(ctx, view.id), "recovery_codes_left": 0,
                "authenticators": []}
    creds = enrolment.list_credentials(ctx, view.id)
    return {
        "locked_until": admin.lock_state(ctx, view.id),
        "recovery_codes_left": recovery.recovery_codes_left(ctx, view.id),
        "authenticators": [asdict(c) for c in creds],
    }


def _passwd(args: argparse.Namespace) -> int:
    from otpgate.service import users

    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        password = read_new_password(from_stdin=args.password_stdin)
        users.set_password(ctx, operator_origin(), ACTOR, view.id, password)
    print(f"Password of {clean(view.username)} changed; their sessions were ended.")
    return 0


def _deactivate(args: argparse.Namespace) -> int:
    from otpgate.service import users

    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        if not view.is_active:
            print(f"{clean(view.username)} was already deactivated.")
            return 0
        users.deactivate_user(ctx, operator_origin(), ACTOR, view.id)
    print(f"Deactivated {clean(view.username)}; their sessions were ended.")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    from otpgate.service import admin, users

    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        admin.unlock_user(ctx, operator_origin(), ACTOR, view.id)
    print(f"Unlocked {clean(view.username)}: failed-attempt counters cleared.")
    return 0
