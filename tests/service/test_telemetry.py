"""The service reports each code check's outcome and channel, lockouts and e-mail outcomes
to the installed telemetry, once per event, whichever use case ran the check."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from otpgate.service import enrolment, login, mailer, telemetry
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected, Locked
from otpgate.service.telemetry import CodeOutcome, MailOutcome
from otpgate.service.views import UserView
from smtp_sink import free_port, smtp_server

from .conftest import PASSWORD
from .mail_support import mail_settings, send_all
from .twofa import clock_of, enrol, wrong_code

MakeUser = Callable[..., UserView]


class Recorder:
    def __init__(self) -> None:
        self.checks: list[tuple[str, str, str]] = []
        self.lockouts: list[tuple[str, str]] = []
        self.mails: list[str] = []

    def code_checked(self, channel: str, outcome: CodeOutcome, username: str) -> None:
        self.checks.append((channel, outcome, username))

    def locked_out(self, step: str, scope: str) -> None:
        self.lockouts.append((step, scope))

    def mail_settled(self, outcome: MailOutcome) -> None:
        self.mails.append(outcome)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    telemetry.install(rec)
    try:
        yield rec
    finally:
        telemetry.install(None)


def test_each_outcome_is_reported_with_its_channel(
    ctx: Context, web: Origin, make_user: MakeUser, recorder: Recorder
) -> None:
    """ok, replayed, malformed, wrong and locked, from the web, API and SSH channels."""
    user = make_user("alice")
    enrolled = enrol(ctx, web, user.id)
    ssh = Origin("ssh", client_addr="198.51.100.1")
    api = Origin("api", client_addr="198.51.100.2")
    recorder.checks.clear()

    code = enrolled.code(ctx)
    login.verify_code(ctx, ssh, user.id, code)
    with pytest.raises(CodeRejected):
        login.verify_code_by_name(ctx, api, "alice", code)
    with pytest.raises(CodeRejected):
        login.verify_code(ctx, web, user.id, "12a456")
    wrong = wrong_code(enrolled.totp, ctx.clock.now(), 1)
    outcomes = []
    for _ in range(6):
        try:
            login.verify_code(ctx, web, user.id, wrong)
        except Locked:
            outcomes.append("locked")
            break
        except CodeRejected:
            outcomes.append("wrong")
    assert outcomes[-1] == "locked" and set(outcomes[:-1]) == {"wrong"}
    assert recorder.checks == [
        ("ssh", "ok", "alice"),
        ("api", "replayed", "alice"),
        ("web", "malformed", "alice"),
        *[("web", outcome, "alice") for outcome in outcomes],
    ]
    # The failure that locked the (account, address) pair is reported once.
    assert recorder.lockouts == [("code", "address")]


def test_checks_outside_logins_are_counted_too(
    ctx: Context, web: Origin, make_user: MakeUser, recorder: Recorder
) -> None:
    """Turning 2FA off with a code goes through the same check, and is reported."""
    user = make_user("bob")
    enrolled = enrol(ctx, web, user.id)
    clock_of(ctx).advance(30)
    recorder.checks.clear()
    enrolment.disable_2fa(ctx, web, user.id, PASSWORD, enrolled.code(ctx))
    assert recorder.checks == [("web", "ok", "bob")]


def test_nothing_is_reported_without_an_installed_telemetry(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """The default telemetry drops events (and the check still works)."""
    user = make_user("carol")
    enrolled = enrol(ctx, web, user.id)
    telemetry.install(None)
    assert type(telemetry.current()).__name__ == "_Nothing"
    assert login.verify_code(ctx, web, user.id, enrolled.code(ctx)).method == "totp"


def test_mail_outcomes_and_outbox_counts(
    ctx: Context, web: Origin, make_user: MakeUser, recorder: Recorder
) -> None:
    """A delivery to a server that is down is reported as retrying, then as sent once the
    server is up; the outbox counts follow the message."""
    port = free_port()
    ctx.settings = mail_settings(port)
    user = make_user("dave", email="dave@example.test")
    enrol(ctx, web, user.id)  # queues the "2FA turned on" e-mail
    assert mailer.outbox_counts(ctx) == {"queued": 1, "sending": 0, "sent": 0, "dead": 0}
    send_all(ctx)
    assert recorder.mails == ["retrying"]
    with smtp_server(port):
        clock_of(ctx).advance(60)
        send_all(ctx)
    assert recorder.mails == ["retrying", "sent"]
    assert mailer.outbox_counts(ctx) == {"queued": 0, "sending": 0, "sent": 1, "dead": 0}
