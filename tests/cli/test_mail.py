"""``otpgate mail send-pending|test|invite`` against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from otpgate.service import audit
from otpgate.service.context import Context
from smtp_sink import SmtpSink, free_port, smtp_server

from .conftest import PASSWORD, Run, enrol_totp, one_line


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch, cli_env: str) -> int:
    """A free port, set as the SMTP server of the CLI's environment (no TLS)."""
    number = free_port()
    monkeypatch.setenv("OTPGATE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("OTPGATE_SMTP_PORT", str(number))
    monkeypatch.setenv("OTPGATE_SMTP_SECURITY", "none")
    monkeypatch.setenv("OTPGATE_SMTP_FROM", "otpgate@ops.example.test")
    return number


@pytest.fixture
def sink(port: int) -> Iterator[SmtpSink]:
    with smtp_server(port) as (received, _):
        yield received


@pytest.fixture
def ann(run: Run, port: int, service_ctx: Callable[[], Context]) -> Context:
    """ann (French, with an address) has just turned 2FA on: one mail is queued."""
    added = run("user", "add", "ann", "--email", "ann@example.test", "--locale", "fr",
                stdin=PASSWORD + "\n")
    assert added.code == 0, added.err
    ctx = service_ctx()
    enrol_totp(ctx, "ann")
    return ctx


def test_send_pending_delivers_the_queue(run: Run, ann: Context, sink: SmtpSink) -> None:
    """The queued 2FA mail is sent in ann's language; a second run has nothing to send."""
    result = run("mail", "send-pending")
    assert result.code == 0, result.err
    assert result.out.strip() == "1 sent, 0 to retry later, 0 given up"
    [mail] = sink.received
    assert mail.rcpt_tos == ["ann@example.test"]
    assert mail.message["Subject"] == "[otpgate] La double authentification est activée"
    assert run("mail", "send-pending").out.strip() == "0 sent, 0 to retry later, 0 given up"


def test_send_pending_with_the_server_down_exits_1_and_audits(run: Run, ann: Context) -> None:
    """Nothing listens: exit 1, the message waits for a retry, the failure is audited."""
    result = run("mail", "send-pending")
    assert result.code == 1
    assert result.out.strip() == "0 sent, 1 to retry later, 0 given up"
    [failed] = audit.query_audit(ann, kind="mail.failed")
    assert failed.source == "cli" and failed.subject_name == "ann"


def test_mail_test_sends_now_or_says_why_not(run: Run, port: int) -> None:
    """`mail test` delivers at once; with the server down it is one line and exit 1."""
    down = run("mail", "test", "ops@example.test")
    assert down.code == 1
    assert "ConnectionRefusedError" in one_line(down.err)
    with smtp_server(port) as (sink, _):
        sent = run("mail", "test", "ops@example.test", "--lang", "fr")
    assert sent.code == 0, sent.err
    assert sent.out.strip() == "Test message sent to ops@example.test."
    assert [m.message["Subject"] for m in sink.received] == ["[otpgate] Message de test"]


def test_invite_named_users_or_all_without_2fa(
    run: Run, ann: Context, sink: SmtpSink
) -> None:
    """Named users and --all-without-2fa queue invitations; skips are explained."""
    run("user", "add", "bea", "--email", "bea@example.test", stdin=PASSWORD + "\n")
    run("user", "add", "cy", stdin=PASSWORD + "\n")
    named = run("mail", "invite", "bea", "ann")
    assert named.code == 0, named.err
    assert "invited: bea" in named.out
    assert "skipped: ann (two-factor login already on)" in named.out
    everyone = run("mail", "invite", "--all-without-2fa")
    assert "skipped: bea (invited in the last 24 hours)" in everyone.out
    assert "skipped: cy (no e-mail address)" in everyone.out
    assert run("mail", "send-pending").code == 0
    assert [m.message["Subject"] for m in sink.to("bea@example.test")] == [
        "[otpgate] Protect your account with two-factor authentication"
    ]


def test_invite_bad_usage(run: Run, port: int) -> None:
    """No target, or an unknown user, is a one-line error with its exit code."""
    none = run("mail", "invite")
    assert none.code == 2 and "--all-without-2fa" in one_line(none.err)
    unknown = run("mail", "invite", "nobody")
    assert unknown.code == 3
    one_line(unknown.err)


def test_without_smtp_settings(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """No SMTP host: send-pending and invite say so; a bad security mode is a config error."""
    pending = run("mail", "send-pending")
    assert pending.code == 2 and "OTPGATE_SMTP_HOST" in one_line(pending.err)
    test = run("mail", "test", "ops@example.test")
    assert test.code == 5 and "not configured" in one_line(test.err)
    monkeypatch.setenv("OTPGATE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("OTPGATE_SMTP_SECURITY", "ssl3")
    bad = run("mail", "send-pending")
    assert bad.code == 5 and "OTPGATE_SMTP_SECURITY" in one_line(bad.err)
