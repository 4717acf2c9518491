"""``otpgate 2fa reset|status``: an account's second factor, for the local operator."""

from __future__ import annotations

import argparse

from otpgate.cli._context import ACTOR, operator_context, operator_origin
from otpgate.cli._errors import EXIT_BAD_INPUT, CliError
from otpgate.cli._format import clean, table, when

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate 2fa …``."""
    twofa = subparsers.add_parser("2fa", help="reset or inspect a user's two-factor login")
    commands = twofa.add_subparsers(dest="twofa_command", metavar="COMMAND", required=True)

    reset = commands.add_parser(
        "reset",
        help="remove a user's authenticators, recovery codes and trusted devices",
        description="Remove every authenticator, recovery code and trusted device of USER, "
        "so they can log in with their password and enrol again. The note, which says how "
        "you checked the person's identity, goes into the audit log.",
    )
    reset.add_argument("username", metavar="USER")
    # Not argparse-required: a missing note gets our one-line message, not a usage dump.
    reset.add_argument(
        "--note",
        help="how the identity was checked, e.g. 'called back on the number on file'",
    )
    reset.set_defaults(handler=_reset)

    status = commands.add_parser("status", help="a user's authenticators and recovery codes")
    status.add_argument("username", metavar="USER")
    status.set_defaults(handler=_status)


def _reset(args: argparse.Namespace) -> int:
    from otpgate.service import admin, users

    if args.note is None:
        raise CliError(
            "--note is required: say how you checked the person's identity", EXIT_BAD_INPUT
        )
    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        admin.reset_2fa(ctx, operator_origin(), ACTOR, view.id, args.note)
    print(
        f"Two-factor login of {clean(view.username)} reset: authenticators, recovery codes "
        "and trusted devices removed. They can log in with their password and enrol again."
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from otpgate.service import admin, devices, enrolment, recovery, users

    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        locked_until = admin.lock_state(ctx, view.id)
        policy = admin.get_policy(ctx)
        # The service reads authenticators of active accounts only.
        creds = enrolment.list_credentials(ctx, view.id) if view.is_active else []
        codes_left = recovery.recovery_codes_left(ctx, view.id) if view.is_active else 0
        trusted = devices.list_devices(ctx, view.id) if view.is_active else []
    required = policy.require_all or (policy.require_admins and view.is_admin)
    print(f"User:            {clean(view.username)}"
          f"{'' if view.is_active else ' (deactivated)'}")
    print(f"Two-factor:      {'on' if view.has_2fa else 'off'}"
          f"{' (required by policy)' if required else ''}")
    print(f"Recovery codes:  {codes_left} left")
    print(f"Trusted devices: {len(trusted)}")
    print(f"Locked until:    {when(locked_until, 'not locked')}")
    if creds:
        rows = [
            [str(c.id), c.name or "(unnamed)", c.kind.upper(),
             f"{c.algorithm}/{c.digits}/{c.period}s" if c.kind == "totp"
             else f"{c.algorithm}/{c.digits}",
             when(c.confirmed_at), when(c.last_used_at, "never"), f"{c.drift_seconds:+.0f} s"]
            for c in creds
        ]
        print()
        print(table(["ID", "NAME", "TYPE", "PARAMETERS", "ADDED", "LAST USED", "DRIFT"], rows))
    return 0
