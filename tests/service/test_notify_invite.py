"""Admin invitations to turn 2FA on: who gets one, in which language, and who is left out."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from otpgate.service import audit, invitations
from otpgate.service.context import Context, Origin
from otpgate.service.errors import InvalidInput, MailNotConfigured, NotPermitted
from otpgate.service.views import UserView
from smtp_sink import free_port, smtp_server

from .mail_support import assert_no_secret, mail_settings, send_all
from .twofa import clock_of, enrol


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def mail_ctx(ctx: Context, port: int) -> Context:
    ctx.settings = mail_settings(port)
    return ctx


def test_invite_selected_users_in_their_language(
    mail_ctx: Context, cli: Origin, port: int, make_user: Callable[..., UserView]
) -> None:
    """Each named user gets one invitation in their language, with the security page link."""
    ann = make_user("ann", email="ann@example.test")
    luc = make_user("luc", email="luc@example.test", locale="fr")
    report = invitations.invite_to_enable_2fa(mail_ctx, cli, None, [ann.id, luc.id, ann.id])
    assert report == invitations.InviteReport(("ann", "luc"), ())
    with smtp_server(port) as (sink, _):
        assert send_all(mail_ctx).sent == 2
    [en] = sink.to("ann@example.test")
    [fr] = sink.to("luc@example.test")
    assert en.message["Subject"].endswith("Protect your account with two-factor authentication")
    assert fr.message["Subject"].endswith("Protégez votre compte avec la double authentification")
    assert '<a href="https://portal.example.test/security">' in en.part("html")
    assert "https://portal.example.test/security" in fr.part("plain")
    assert "Ouvrir ma page de sécurité" in fr.part("plain")
    kinds = [e.subject_name for e in audit.query_audit(mail_ctx, kind="2fa.invited")]
    assert sorted(kinds) == ["ann", "luc"]


def test_invite_all_without_2fa_leaves_out_who_cannot_or_need_not(
    mail_ctx: Context, cli: Origin, web: Origin, port: int, make_user: Callable[..., UserView]
) -> None:
    """--all skips users with 2FA and deactivated ones; named users get a reason."""
    make_user("ann", email="ann@example.test")
    bob = make_user("bob", email="bob@example.test")
    nomail = make_user("nomail")
    enrolled = enrol(mail_ctx, web, bob.id)
    report = invitations.invite_to_enable_2fa(mail_ctx, cli, None, all_without_2fa=True)
    assert report.invited == ("ann",)
    assert report.skipped == (("nomail", "no_email"),)
    again = invitations.invite_to_enable_2fa(mail_ctx, cli, None, [bob.id, nomail.id])
    assert again == invitations.InviteReport((), (("bob", "has_2fa"), ("nomail", "no_email")))
    with smtp_server(port) as (sink, _):
        send_all(mail_ctx)
    assert len(sink.to("ann@example.test")) == 1
    assert_no_secret(sink.received, [enrolled.secret_b32, *enrolled.recovery_codes])


def test_an_invitation_is_not_repeated_within_a_day(
    mail_ctx: Context, cli: Origin, make_user: Callable[..., UserView]
) -> None:
    """A second invitation within 24 hours is skipped; after a day it is sent again."""
    ann = make_user("ann", email="ann@example.test")
    invitations.invite_to_enable_2fa(mail_ctx, cli, None, [ann.id])
    second = invitations.invite_to_enable_2fa(mail_ctx, cli, None, [ann.id])
    assert second.skipped == (("ann", "recently_invited"),)
    clock_of(mail_ctx).advance(86400 + 1)
    assert invitations.invite_to_enable_2fa(mail_ctx, cli, None, [ann.id]).invited == ("ann",)


def test_only_an_admin_or_the_operator_may_invite(
    mail_ctx: Context, web: Origin, make_user: Callable[..., UserView]
) -> None:
    """A signed-in non-admin is refused; a web request needs an admin actor."""
    ann = make_user("ann", email="ann@example.test")
    boss = make_user("boss", admin=True)
    with pytest.raises(NotPermitted):
        invitations.invite_to_enable_2fa(mail_ctx, web, ann.id, [ann.id])
    with pytest.raises(NotPermitted):
        invitations.invite_to_enable_2fa(mail_ctx, web, None, [ann.id])
    assert invitations.invite_to_enable_2fa(mail_ctx, web, boss.id, [ann.id]).invited == ("ann",)


def test_invitations_need_mail_and_a_target(
    ctx: Context, mail_ctx: Context, cli: Origin, make_user: Callable[..., UserView]
) -> None:
    """No user named and no --all, or both, is bad input; no SMTP is MailNotConfigured."""
    ann = make_user("ann", email="ann@example.test")
    with pytest.raises(InvalidInput):
        invitations.invite_to_enable_2fa(mail_ctx, cli, None)
    with pytest.raises(InvalidInput):
        invitations.invite_to_enable_2fa(mail_ctx, cli, None, [ann.id], all_without_2fa=True)
    mail_ctx.settings = mail_ctx.settings.with_overrides(smtp_host="")
    with pytest.raises(MailNotConfigured):
        invitations.invite_to_enable_2fa(mail_ctx, cli, None, [ann.id])
