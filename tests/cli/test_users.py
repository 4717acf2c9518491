"""``otpgate user …`` in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from db_support import Dump
from otpgate.service import audit, users
from otpgate.service.context import Context
from otpgate.store import repositories as repo
from otpgate.store.db import transaction

from .conftest import PASSWORD, Run, one_line, password_ok


def test_add_creates_an_admin_audited_as_the_cli(
    run: Run, service_ctx: Callable[[], Context]
) -> None:
    """`user add --admin` creates the account and an audit row with source "cli"."""
    result = run("user", "add", "Alice", "--admin", "--email", "alice@example.org",
                 "--display-name", "Alice A", "--locale", "fr", stdin=PASSWORD + "\n")
    assert result.code == 0, result.err
    assert result.out == "Created administrator alice (id 1).\n"
    ctx = service_ctx()
    view = users.find_user(ctx, "alice")
    assert (view.is_admin, view.email, view.display_name, view.locale) == (
        True, "alice@example.org", "Alice A", "fr")
    [event] = audit.query_audit(ctx, kind="user.created")
    assert (event.source, event.subject_name) == ("cli", "alice")
    assert event.user_agent.startswith("cli:")


def test_password_from_stdin_keeps_inner_and_trailing_spaces(
    run: Run, service_ctx: Callable[[], Context]
) -> None:
    """Only the line ending is removed from a password read on stdin."""
    assert run("user", "add", "bob", stdin=" spaced  password \n").code == 0
    assert password_ok(service_ctx(), "bob", " spaced  password ")
    assert not password_ok(service_ctx(), "bob", "spaced  password")


@pytest.mark.parametrize(
    ("argv", "stdin", "code"),
    [
        (["user", "add", "ALICE"], PASSWORD + "\n", 4),  # same name, other case
        (["user", "add", "bob"], "short\n", 2),  # weak password
        (["user", "add", "bob"], "", 2),  # no password on stdin
        (["user", "add", "bob"], "\n", 2),  # empty password
        (["user", "add", "bob", "--email", "not an address"], PASSWORD + "\n", 2),
        (["user", "add", "b" * 400], PASSWORD + "\n", 2),
        (["user", "passwd", "nobody"], PASSWORD + "\n", 3),
        (["user", "passwd", "alice"], "short\n", 2),
        (["user", "show", "nobody"], "", 3),
        (["user", "deactivate", "nobody"], "", 3),
        (["user", "deactivate", "alice"], "", 4),  # the last active admin
        (["user", "unlock", "nobody"], "", 3),
    ],
)
def test_refused_commands_print_one_line_and_change_nothing(
    run: Run, dump: Callable[[], Dump], argv: list[str], stdin: str, code: int
) -> None:
    """Each refused command exits with its code, one error line, and an unchanged database."""
    assert run("user", "add", "alice", "--admin", stdin=PASSWORD + "\n").code == 0
    before = dump()
    result = run(*argv, stdin=stdin)
    assert result.code == code, result
    one_line(result.err)
    assert result.out == ""
    assert dump() == before


def test_password_is_never_an_argument(run: Run) -> None:
    """There is no option that takes a password on the command line."""
    with pytest.raises(SystemExit) as exc:
        run("user", "add", "alice", "--password", PASSWORD)
    assert exc.value.code == 2


def test_list_and_search(run: Run) -> None:
    """`user list` shows every account with its flags; --search narrows; --json parses."""
    run("user", "add", "alice", "--admin", "--display-name", "Alice A", stdin=PASSWORD + "\n")
    run("user", "add", "bob", "--email", "bob@example.org", stdin=PASSWORD + "\n")
    table = run("user", "list")
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split() == ["USERNAME", "ADMIN", "ACTIVE", "2FA", "LOCKED", "UNTIL", "NAME"]
    assert lines[1].split() == ["alice", "yes", "yes", "off", "no", "Alice", "A"]
    assert lines[2].split() == ["bob", "no", "yes", "off", "no"]
    found = json.loads(run("user", "list", "--search", "example.org", "--json").out)
    assert [u["username"] for u in found] == ["bob"]
    assert found[0]["has_2fa"] is False and found[0]["locked_until"] is None


def test_show(run: Run) -> None:
    """`user show` prints the account; --json gives the same facts as an object."""
    run("user", "add", "bob", "--email", "bob@example.org", stdin=PASSWORD + "\n")
    text = run("user", "show", "BOB")
    assert text.code == 0
    assert "Username:            bob" in text.out
    assert "Two-factor:          off" in text.out
    data = json.loads(run("user", "show", "bob", "--json").out)
    assert data["email"] == "bob@example.org"
    assert data["authenticators"] == [] and data["recovery_codes_left"] == 0


def test_passwd_replaces_the_password(run: Run, service_ctx: Callable[[], Context]) -> None:
    """After `user passwd` the new password works and the old one fails."""
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    result = run("user", "passwd", "bob", "--password-stdin", stdin="a new long password\n")
    assert result.code == 0, result.err
    ctx = service_ctx()
    assert password_ok(ctx, "bob", "a new long password")
    assert not password_ok(ctx, "bob", PASSWORD)
    [event] = audit.query_audit(ctx, kind="user.password_changed")
    assert (event.source, event.subject_name) == ("cli", "bob")


def test_deactivate_is_idempotent(run: Run, service_ctx: Callable[[], Context]) -> None:
    """`user deactivate` disables the account once and says so the second time."""
    run("user", "add", "alice", "--admin", stdin=PASSWORD + "\n")
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    first = run("user", "deactivate", "bob")
    assert first.code == 0 and "Deactivated bob" in first.out
    assert users.find_user(service_ctx(), "bob").is_active is False
    second = run("user", "deactivate", "bob")
    assert second.code == 0 and "already deactivated" in second.out
    assert len(audit.query_audit(service_ctx(), kind="user.deactivated")) == 1


def test_unlock_clears_a_lock(run: Run, service_ctx: Callable[[], Context]) -> None:
    """`user unlock` removes the user's lock, shown before by `user list`."""
    from otpgate.service.throttle import account_scope

    run("user", "add", "bob", stdin=PASSWORD + "\n")
    ctx = service_ctx()
    bob = users.find_user(ctx, "bob")
    now = datetime.now(UTC)
    with transaction(ctx.session_factory) as session:
        repo.record_failure(session, account_scope(bob.id, "code"), now)
        repo.set_lock(session, account_scope(bob.id, "code"), now + timedelta(hours=1))
    assert "UTC" in run("user", "list").out.splitlines()[1]
    result = run("user", "unlock", "bob")
    assert result.code == 0, result.err
    assert run("user", "list").out.splitlines()[1].split()[4] == "no"
    [event] = audit.query_audit(ctx, kind="user.unlocked")
    assert event.detail["throttles"] == 1

