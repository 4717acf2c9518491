"""Reading a new password at a terminal (getpass) or from stdin."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import pytest

from otpgate.cli._errors import CliError
from otpgate.cli._prompt import read_new_password


class _Terminal(io.StringIO):
    """A stdin that says it is a terminal; getpass is given the typed lines."""

    def isatty(self) -> bool:
        return True


def _typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> list[str]:
    """Make getpass return ``lines`` in turn; returns the prompts it was shown."""
    prompts: list[str] = []
    answers: Iterator[str] = iter(lines)

    def fake_getpass(prompt: str = "Password: ", stream: object = None) -> str:
        prompts.append(prompt)
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("getpass.getpass", fake_getpass)
    return prompts


def test_terminal_asks_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a terminal the password is asked twice and returned when both match."""
    prompts = _typed(monkeypatch, "a long password", "a long password")
    assert read_new_password() == "a long password"
    assert prompts == ["New password: ", "Repeat the new password: "]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("a long password", "a long passwore"), "the passwords do not match"),
        (("a long password", "a long password "), "the passwords do not match"),
        (("pässwörd long", "passwörd long"), "the passwords do not match"),
        (("", ""), "the password is empty"),
        (("a long password",), "no password entered"),  # Ctrl-D at the second prompt
    ],
)
def test_terminal_refusals(
    monkeypatch: pytest.MonkeyPatch, lines: tuple[str, ...], message: str
) -> None:
    """Different, empty or unfinished entries are refused with exit code 2."""
    _typed(monkeypatch, *lines)
    with pytest.raises(CliError) as exc:
        read_new_password()
    assert (str(exc.value), exc.value.exit_code) == (message, 2)


def test_password_stdin_flag_reads_stdin_even_at_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--password-stdin reads the first line of stdin and never prompts."""
    prompts = _typed(monkeypatch)
    monkeypatch.setattr(sys, "stdin", _Terminal("from stdin\nsecond line\n"))
    assert read_new_password(from_stdin=True) == "from stdin"
    assert prompts == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("pw with spaces  \n", "pw with spaces  "), ("crlf\r\n", "crlf"),
     ("no newline", "no newline")],
)
def test_stdin_keeps_everything_but_the_line_end(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    """A piped password loses only its line ending."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert read_new_password() == expected
