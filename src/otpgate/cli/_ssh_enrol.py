"""``otpgate ssh enrol``: a shell user turns 2FA on for their own otpgate account.

Who the caller is comes from the kernel, never from an argument: the real uid of the
process, or -- when it runs as root through ``sudo`` (how operators let users reach the
database, see the README) -- the ``SUDO_UID`` that sudo sets and the caller cannot
choose. Root on behalf of nobody is refused. The account is that Unix name, through the
same user map as the PAM module. The user's otpgate password is then asked, as the
portal asks it before enrolment (a step-up, throttled like a login): a Unix identity
alone never changes an otpgate account.
"""

from __future__ import annotations

import getpass
import os
import pwd
import sys
from typing import TYPE_CHECKING

from otpgate.cli._errors import EXIT_BAD_INPUT, EXIT_REFUSED, CliError

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["caller_unix_name", "enrol"]

MAX_TRIES = 3


def caller_unix_name() -> str:
    """The Unix user this command acts for (see the module docstring)."""
    uid = os.getuid()
    if uid == 0 or os.geteuid() == 0:
        sudo_uid = os.environ.get("SUDO_UID", "") if os.getuid() == 0 else ""
        if not sudo_uid.isdigit() or int(sudo_uid) == 0:
            raise CliError(
                "run `otpgate ssh enrol` as yourself (through sudo if so configured); "
                "root cannot enrol on behalf of nobody",
                EXIT_REFUSED,
            )
        uid = int(sudo_uid)
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise CliError(f"uid {uid} has no user name", EXIT_REFUSED) from None


def _ask(prompt: str, *, secret: bool) -> str:
    """A line from the terminal (hidden if ``secret``), or from stdin when it is not one."""
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        try:
            return getpass.getpass(prompt) if secret else input(prompt)
        except EOFError:
            raise CliError("no answer", EXIT_BAD_INPUT) from None
    print(prompt, end="", flush=True)
    line = stdin.readline() if stdin is not None else ""
    if line == "":
        raise CliError("no answer on standard input", EXIT_BAD_INPUT)
    if not secret:
        print()
    return line.rstrip("\r\n")


def _show(pending: object) -> None:
    from otpgate.otp.qr import qr_terminal
    from otpgate.service.views import PendingEnrolment

    assert isinstance(pending, PendingEnrolment)
    print(qr_terminal(pending.uri))
    print(f"Scan this QR code with your authenticator app ({pending.kind.upper()}),")
    print("or enter the secret by hand:")
    print(f"  issuer:  {pending.issuer}")
    print(f"  account: {pending.account}")
    print(f"  secret:  {pending.secret_grouped}")
    print(flush=True)


def enrol(ctx: Context, origin: Origin, username: str, *, kind: str, name: str) -> int:
    """Password, then the QR code and secret, then a first code; prints recovery codes."""
    from otpgate.service import enrolment, login, users
    from otpgate.service.errors import CodeRejected, NotFound

    try:
        account = users.find_user(ctx, username)
    except NotFound:
        raise CliError(f"no otpgate account named {username}; ask an administrator",
                       EXIT_REFUSED) from None
    password = _ask(f"otpgate password for {account.username}: ", secret=True)
    step_up_at = login.verify_step_up(ctx, origin, account.id, password)
    pending = enrolment.begin_enrolment(ctx, origin, account.id, step_up_at=step_up_at,
                                        kind=kind, name=name)
    _show(pending)
    for attempt in range(1, MAX_TRIES + 1):
        code = _ask("Verification code from the app: ", secret=False)
        try:
            codes = enrolment.confirm_enrolment(ctx, origin, account.id,
                                                pending.credential_id, code, name)
        except CodeRejected as exc:
            print(f"otpgate: {exc}", file=sys.stderr)
            if attempt == MAX_TRIES:
                raise CliError("no valid code: the authenticator was not added",
                               EXIT_REFUSED) from None
            continue
        break
    print(f"Two-factor authentication is on for {account.username} ('{name}').")
    if codes:
        print("Recovery codes (each works once; keep them somewhere safe, they are not shown "
              "again):")
        for code in codes:
            print(f"  {code}")
    else:
        print("Your existing recovery codes stay valid.")
    return 0
