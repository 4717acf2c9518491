"""``otpgate mail send-pending|test|invite``: the security e-mails, for the local operator."""

from __future__ import annotations

import argparse

from otpgate.cli._context import ACTOR, operator_context, operator_origin
from otpgate.cli._errors import EXIT_BAD_INPUT, EXIT_REFUSED, CliError
from otpgate.cli._format import clean

__all__ = ["register"]

_REASONS = {
    "no_email": "no e-mail address",
    "has_2fa": "two-factor login already on",
    "inactive": "deactivated",
    "recently_invited": "invited in the last 24 hours",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate mail …``."""
    mail = subparsers.add_parser("mail", help="send queued security e-mails, test, invite")
    commands = mail.add_subparsers(dest="mail_command", metavar="COMMAND", required=True)

    pending = commands.add_parser(
        "send-pending",
        help="send the e-mails that are due now (otpgate serve does it every few seconds)",
    )
    pending.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    pending.set_defaults(handler=_send_pending)

    test = commands.add_parser(
        "test", help="send a test message now, to check the OTPGATE_SMTP_* settings"
    )
    test.add_argument("address", metavar="ADDRESS")
    test.add_argument("--lang", choices=("en", "fr"), default="en", help="language (en)")
    test.set_defaults(handler=_test)

    invite = commands.add_parser(
        "invite",
        help="e-mail users an invitation to turn on two-factor login",
        description="Queue an invitation (in each user's language) to turn on two-factor "
        "login, for the named users or every active user without it.",
    )
    invite.add_argument("usernames", metavar="USER", nargs="*")
    invite.add_argument(
        "--all-without-2fa", action="store_true", help="every active user without 2FA"
    )
    invite.set_defaults(handler=_invite)


def _send_pending(args: argparse.Namespace) -> int:
    from otpgate.service import mailer

    if not 1 <= args.limit <= 10_000:
        raise CliError("--limit must be between 1 and 10000", EXIT_BAD_INPUT)
    total = mailer.SendReport()
    with operator_context() as ctx:
        if not ctx.settings.smtp_configured:
            raise CliError("sending e-mail is not configured: set OTPGATE_SMTP_HOST and "
                           "OTPGATE_SMTP_FROM", EXIT_BAD_INPUT)
        while total.sent + total.retrying + total.dead < args.limit:
            room = min(20, args.limit - total.sent - total.retrying - total.dead)
            report = mailer.send_pending(ctx, operator_origin(), limit=room)
            if report == mailer.SendReport():
                break
            total = mailer.SendReport(total.sent + report.sent,
                                      total.retrying + report.retrying, total.dead + report.dead)
    print(f"{total.sent} sent, {total.retrying} to retry later, {total.dead} given up")
    return EXIT_REFUSED if total.retrying or total.dead else 0


def _test(args: argparse.Namespace) -> int:
    from otpgate.service import mailer

    with operator_context() as ctx:
        mailer.send_test(ctx, args.address, locale=args.lang)
    print(f"Test message sent to {clean(args.address)}.")
    return 0


def _invite(args: argparse.Namespace) -> int:
    from otpgate.service import invitations, users

    if bool(args.usernames) == bool(args.all_without_2fa):
        raise CliError("name the users to invite, or use --all-without-2fa", EXIT_BAD_INPUT)
    with operator_context() as ctx:
        ids = [users.find_user(ctx, name).id for name in args.usernames]
        report = invitations.invite_to_enable_2fa(
            ctx, operator_origin(), ACTOR, ids, all_without_2fa=args.all_without_2fa
        )
    for name in report.invited:
        print(f"invited: {clean(name)}")
    for name, reason in report.skipped:
        print(f"skipped: {clean(name)} ({_REASONS.get(reason, reason)})")
    print(f"{len(report.invited)} invitation(s) queued; `otpgate serve` sends them "
          "(or run `otpgate mail send-pending`).")
    return 0
