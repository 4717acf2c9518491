"""Reading a new password: from a hidden prompt (typed twice) or from standard input.

Passwords never come from the command line's arguments: those are visible to every local
user in the process list and end up in shell history.
"""

from __future__ import annotations

import getpass
import hmac
import sys

from otpgate.cli._errors import EXIT_BAD_INPUT, CliError

__all__ = ["read_new_password"]


def read_new_password(*, from_stdin: bool = False) -> str:
    """The new password; from stdin when asked to or when stdin is not a terminal.

    From stdin, the first line is the password (only its line ending is removed: spaces
    may belong to it). At a terminal it is asked twice and both must match.
    """
    stdin = sys.stdin
    if from_stdin or stdin is None or not stdin.isatty():
        password = _read_stdin_line()
    else:
        password = _ask_twice()
    if password == "":
        raise CliError("the password is empty", EXIT_BAD_INPUT)
    return password


def _read_stdin_line() -> str:
    if sys.stdin is None:
        raise CliError("no standard input to read the password from", EXIT_BAD_INPUT)
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        raise CliError("the password on standard input is not valid text", EXIT_BAD_INPUT) from None
    if line == "":
        raise CliError("no password on standard input", EXIT_BAD_INPUT)
    return line.rstrip("\r\n")


def _ask_twice() -> str:
    try:
        first = getpass.getpass("New password: ")
        second = getpass.getpass("Repeat the new password: ")
    except EOFError:
        raise CliError("no password entered", EXIT_BAD_INPUT) from None
    if not hmac.compare_digest(first.encode(), second.encode()):
        raise CliError("the passwords do not match", EXIT_BAD_INPUT)
    return first
