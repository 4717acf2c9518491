"""``otpgate token create|list|revoke``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db_support import Dump
from otpgate.service import api_tokens
from otpgate.service.context import Context
from otpgate.service.errors import NotPermitted

from .conftest import Run, one_line


def test_create_prints_a_working_token_once(run: Run, service_ctx: Callable[[], Context]) -> None:
    """The token is the only line on stdout, works with its scopes, and `list` never shows it."""
    result = run("token", "create", "intranet portal", "--scope", "verify", "--scope", "enrol")
    assert result.code == 0, result.err
    token = result.out.strip()
    assert result.out == token + "\n"
    assert "shown only this once" in result.err
    assert api_tokens.authenticate_api_token(service_ctx(), token) == {"verify", "enrol"}
    listing = run("token", "list")
    assert listing.code == 0
    assert token not in listing.out
    assert listing.out.splitlines()[1].split()[:4] == ["1", "intranet", "portal", "enrol"]


def test_revoke(run: Run, service_ctx: Callable[[], Context]) -> None:
    """A revoked token no longer authenticates and `list` shows when it was revoked."""
    token = run("token", "create", "script").out.strip()
    assert run("token", "revoke", "1").code == 0
    with pytest.raises(NotPermitted):
        api_tokens.authenticate_api_token(service_ctx(), token)
    assert "active" not in run("token", "list").out.splitlines()[1]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["token", "create", ""], 2),
        (["token", "create", "x" * 500], 2),
        (["token", "revoke", "99"], 3),
    ],
)
def test_refused(run: Run, dump: Callable[[], Dump], argv: list[str], code: int) -> None:
    """Bad names and unknown ids are one-line errors that change nothing."""
    before = dump()
    result = run(*argv)
    assert result.code == code, result
    one_line(result.err)
    assert dump() == before


def test_unknown_scope_is_a_usage_error(run: Run) -> None:
    """Only verify, enrol and admin are accepted by the parser."""
    with pytest.raises(SystemExit) as exc:
        run("token", "create", "x", "--scope", "root")
    assert exc.value.code == 2
