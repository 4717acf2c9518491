"""``otpgate 2fa reset|status|bypass|resync``: an account's second factor, for the local
operator."""

from __future__ import annotations

import argparse
import sys

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

    bypass = commands.add_parser(
        "bypass",
        help="issue a one-time code for a user who lost their authenticator",
        description="Print a code that lets USER log in once at the recovery-code step "
        "(within OTPGATE_BYPASS_CODE_MINUTES, 15 by default), then enrol a new "
        "authenticator; their 2FA stays on. The note, which says how you checked the "
        "person's identity, goes into the audit log. The code is shown only now.",
    )
    bypass.add_argument("username", metavar="USER")
    bypass.add_argument("--note", help="how the identity was checked")
    bypass.set_defaults(handler=_bypass)

    resync = commands.add_parser(
        "resync",
        help="resynchronise a user's HOTP key with two consecutive codes",
        description="Find FIRST followed by SECOND past the last accepted counter of "
        "USER's HOTP key and move the counter there. Without the codes as arguments, "
        "they are read from standard input, one a line.",
    )
    resync.add_argument("username", metavar="USER")
    resync.add_argument("codes", metavar="CODE", nargs="*", help="FIRST and SECOND")
    resync.set_defaults(handler=_resync)


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
        f"Two-factor login of {clean(view.username)} reset: authenticators, passkeys, recovery "
        "codes and trusted devices removed. They can log in with their password and enrol "
        "again."
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from otpgate.service import admin, devices, enrolment, passkeys, recovery, users

    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        locked_until = admin.lock_state(ctx, view.id)
        policy = admin.get_policy(ctx)
        # The service reads authenticators of active accounts only.
        creds = enrolment.list_credentials(ctx, view.id) if view.is_active else []
        codes_left = recovery.recovery_codes_left(ctx, view.id) if view.is_active else 0
        trusted = devices.list_devices(ctx, view.id) if view.is_active else []
        keys = passkeys.list_passkeys(ctx, view.id) if view.is_active else []
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
    if keys:
        print()
        print(table(
            ["ID", "PASSKEY", "TYPE", "BACKUP", "ADDED", "LAST USED"],
            [[str(k.id), clean(k.name), k.kind.replace("_", " "),
              "synced" if k.backed_up else "can sync" if k.backup_eligible else "this device",
              when(k.created_at), when(k.last_used_at, "never")] for k in keys],
        ))
    return 0


def _bypass(args: argparse.Namespace) -> int:
    from otpgate.service import bypass, users

    if args.note is None:
        raise CliError(
            "--note is required: say how you checked the person's identity", EXIT_BAD_INPUT
        )
    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        issued = bypass.issue_bypass_code(ctx, operator_origin(), ACTOR, view.id, args.note)
    print(issued.code)
    print(
        f"One-time code for {clean(issued.username)}, valid until "
        f"{when(issued.expires_at)}: they enter it on the recovery-code page after their "
        "password, then enrol a new authenticator.",
        file=sys.stderr,
    )
    return 0


def _resync(args: argparse.Namespace) -> int:
    from otpgate.service import resync, users

    codes = list(args.codes) or [sys.stdin.readline().strip() for _ in range(2)]
    if len(codes) != 2 or not all(codes):
        raise CliError("give two consecutive codes: FIRST SECOND", EXIT_BAD_INPUT)
    with operator_context() as ctx:
        view = users.find_user(ctx, args.username)
        factor = resync.resync_hotp(ctx, operator_origin(), view.id, codes[0], codes[1])
    print(f"HOTP key {factor.credential_id} of {clean(view.username)} resynchronised.")
    return 0
