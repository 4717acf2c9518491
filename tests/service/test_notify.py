"""Security e-mails: which events send one, to whom, in which language, and what they never say.

Every message goes through the real outbox and a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, func, select

from otpgate.config import Settings
from otpgate.otp import Totp
from otpgate.otp.secrets import b32decode
from otpgate.service import admin, authenticators, enrolment, login
from otpgate.service.context import Context, Origin
from otpgate.service.errors import CodeRejected, Locked
from otpgate.service.views import UserView
from otpgate.store.models import OutboxMail
from smtp_sink import SmtpSink, free_port, smtp_server

from .conftest import PASSWORD
from .mail_support import SENDER, assert_no_secret, mail_settings, send_all
from .twofa import clock_of, enrol, wrong_code

ALICE = "alice@example.test"
CLAIRE = "claire@example.test"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings(smtp_port: int) -> Settings:
    """Settings with mail to the local test server."""
    return mail_settings(smtp_port)


@pytest.fixture
def sink(smtp_port: int) -> Iterator[SmtpSink]:
    """The SMTP server receiving the mail of the test."""
    with smtp_server(smtp_port) as (received, _):
        yield received


@pytest.fixture
def alice(make_user: Callable[..., UserView]) -> UserView:
    return make_user("alice", email=ALICE, display_name="Alice Martin")


@pytest.fixture
def claire(make_user: Callable[..., UserView]) -> UserView:
    return make_user("claire", email=CLAIRE, locale="fr")


def _outbox(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(OutboxMail)).scalar_one())


def _log_in(ctx: Context, origin: Origin, user: UserView, code: str) -> None:
    login.check_password(ctx, origin, user.username, PASSWORD)
    login.verify_code(ctx, origin, user.id, code)


def test_enabling_2fa_mails_the_user_in_english_with_no_secret_or_code(
    ctx: Context, web: Origin, alice: UserView, sink: SmtpSink
) -> None:
    """Turning 2FA on sends one plain+HTML mail to the user that holds no secret or code."""
    pending = enrolment.begin_enrolment(ctx, web, alice.id, step_up_at=ctx.now_dt())
    code = Totp(b32decode(pending.secret_b32)).generate_at(ctx.clock.now())
    codes = enrolment.confirm_enrolment(ctx, web, alice.id, pending.credential_id, code, "Pixel")
    assert send_all(ctx).sent == 1
    [mail] = sink.received
    assert mail.rcpt_tos == [ALICE]
    assert mail.mail_from == SENDER
    assert mail.message["Subject"] == "[otpgate] Two-factor authentication is on"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    plain, html = mail.part("plain"), mail.part("html")
    assert plain.startswith("Hello Alice Martin,")
    assert "turned on for your account alice" in plain
    assert "203.0.113.7" in plain and "pytest-browser" in plain
    assert '<html lang="en">' in html and "turned on for your account alice" in html
    assert_no_secret(sink.received, [pending.secret_b32, code, PASSWORD, *codes])


def test_a_french_user_gets_french_mail(
    ctx: Context, web: Origin, claire: UserView, sink: SmtpSink
) -> None:
    """A user whose language is French gets the subject, text and HTML in French."""
    enrolled = enrol(ctx, web, claire.id)
    send_all(ctx)
    [mail] = sink.to(CLAIRE)
    assert mail.message["Subject"] == "[otpgate] La double authentification est activée"
    assert mail.part("plain").startswith("Bonjour claire,")
    assert "a été activée pour votre compte claire" in mail.part("plain")
    assert '<html lang="fr">' in mail.part("html")
    assert "Nous ne demandons jamais votre mot de passe" in mail.part("html")
    assert_no_secret(sink.received, [enrolled.secret_b32, *enrolled.recovery_codes])


def test_adding_and_removing_an_authenticator_are_mailed(
    ctx: Context, web: Origin, alice: UserView, sink: SmtpSink
) -> None:
    """A second authenticator, and its removal, each send a mail naming it."""
    first = enrol(ctx, web, alice.id, "Phone")
    second = enrol(ctx, web, alice.id, "Backup tablet")
    code = first.code(ctx)
    authenticators.remove_credential(
        ctx, web, alice.id, second.credential_id, step_up_at=ctx.now_dt(), code=code
    )
    assert send_all(ctx).sent == 3
    subjects = [m.message["Subject"] for m in sink.received]
    assert subjects == [
        "[otpgate] Two-factor authentication is on",
        "[otpgate] An authenticator was added to your account",
        "[otpgate] An authenticator was removed from your account",
    ]
    assert "“Backup tablet” was added" in sink.received[1].part("plain")
    assert "“Backup tablet” was removed" in sink.received[2].part("plain")
    assert "https://portal.example.test/security" in sink.received[2].part("html")
    assert_no_secret(sink.received, [first.secret_b32, second.secret_b32, code])


def test_recovery_code_mails_count_the_codes_left_and_warn_below_three(
    ctx: Context, web: Origin, alice: UserView, sink: SmtpSink
) -> None:
    """Each used recovery code is mailed with the number left; below 3 the mail warns."""
    enrolled = enrol(ctx, web, alice.id)
    used = enrolled.recovery_codes[:8]
    for code in used:
        login.check_password(ctx, web, "alice", PASSWORD)
        login.verify_recovery_code(ctx, web, alice.id, code)
    send_all(ctx)
    mails = [m for m in sink.received if "recovery code was used" in m.message["Subject"]]
    assert len(mails) == 8
    assert "You have 9 recovery codes left." in mails[0].part("plain")
    assert "Warning:" not in mails[0].part("plain")
    assert "You have 3 recovery codes left." in mails[6].part("plain")
    assert "Warning:" not in mails[6].part("plain")
    assert "You have 2 recovery codes left." in mails[7].part("plain")
    assert "Warning: Fewer than 3 recovery codes are left" in mails[7].part("plain")
    assert "Fewer than 3 recovery codes are left" in mails[7].part("html")
    assert_no_secret(sink.received, [enrolled.secret_b32, *enrolled.recovery_codes])


def test_an_admin_reset_is_mailed_without_the_admins_note(
    ctx: Context, web: Origin, cli: Origin, alice: UserView, sink: SmtpSink
) -> None:
    """The reset mail says an administrator did it, and keeps the identity-check note out."""
    enrolled = enrol(ctx, web, alice.id)
    note = "Checked passport 12AB34567 on a video call"
    admin.reset_2fa(ctx, cli, None, alice.id, note)
    send_all(ctx)
    mail = sink.received[-1]
    assert mail.message["Subject"] == "[otpgate] Your two-factor authentication was reset"
    assert "An administrator reset two-factor authentication" in mail.part("plain")
    assert "cli:tester" not in mail.part("plain")  # the operator's origin is not the user's
    assert_no_secret(sink.received, [note, "12AB34567", "passport", enrolled.secret_b32])


def test_a_sign_in_from_a_new_device_is_mailed_once(
    ctx: Context, web: Origin, alice: UserView, sink: SmtpSink
) -> None:
    """Only a full sign-in from a (channel, address, browser) not seen lately sends a mail."""
    enrolled = enrol(ctx, web, alice.id)
    clock = clock_of(ctx)
    elsewhere = Origin(source="web", client_addr="198.51.100.23", user_agent="Other browser")
    codes = []
    for origin in (web, web, elsewhere, elsewhere):
        codes.append(enrolled.code(ctx))
        _log_in(ctx, origin, alice, codes[-1])
        clock.advance(30)
    token = login.trust_device(ctx, elsewhere, alice.id, "laptop")
    third = Origin(source="web", client_addr="192.0.2.99", user_agent="Third browser")
    assert login.check_trusted_device(ctx, third, alice.id, token)
    send_all(ctx)
    new = [m for m in sink.received if m.message["Subject"].endswith("New sign-in to your account")]
    assert len(new) == 1
    assert "198.51.100.23" in new[0].part("plain") and "Other browser" in new[0].part("plain")
    assert_no_secret(sink.received, [enrolled.secret_b32, *codes, token])


def test_lockout_is_mailed_at_most_once_an_hour(
    ctx: Context, web: Origin, alice: UserView, sink: SmtpSink
) -> None:
    """Wrong codes until the account locks send one lockout mail that says to change password."""
    enrolled = enrol(ctx, web, alice.id)
    clock = clock_of(ctx)
    wrong: list[str] = []
    locks = 0
    for seed in range(60):
        wrong.append(wrong_code(enrolled.totp, clock.now(), seed))
        try:
            login.verify_code(ctx, web, alice.id, wrong[-1])
        except CodeRejected:
            pass
        except Locked as exc:
            locks += 1
            clock.set((exc.until.timestamp()) + 1)
        if locks == 2:
            break
    assert locks == 2
    send_all(ctx)
    locked = [m for m in sink.received if "blocked" in m.message["Subject"]]
    assert len(locked) == 1
    assert "someone who knows your password" in locked[0].part("plain")
    assert_no_secret(sink.received, [enrolled.secret_b32, *wrong])


def test_no_mail_without_an_address(
    ctx: Context, web: Origin, make_user: Callable[..., UserView], engine: Engine
) -> None:
    """A user without an e-mail address gets nothing queued."""
    bob = make_user("bob")
    enrol(ctx, web, bob.id)
    assert _outbox(engine) == 0


def test_no_mail_when_smtp_is_not_configured(
    ctx: Context, web: Origin, alice: UserView, engine: Engine
) -> None:
    """Without an SMTP host nothing is queued, and the sender does nothing."""
    ctx.settings = Settings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    enrol(ctx, web, alice.id)
    assert _outbox(engine) == 0
    assert send_all(ctx).sent == 0


def test_a_refused_change_queues_no_mail(
    ctx: Context, web: Origin, alice: UserView, engine: Engine
) -> None:
    """A wrong confirming code changes nothing, so no mail is queued."""
    pending = enrolment.begin_enrolment(ctx, web, alice.id, step_up_at=ctx.now_dt())
    with pytest.raises(CodeRejected):
        enrolment.confirm_enrolment(ctx, web, alice.id, pending.credential_id, "000000", "X")
    assert _outbox(engine) == 0
