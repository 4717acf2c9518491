"""Pages: an admin invites users to turn 2FA on by e-mail; sign-in with the SMTP server down.

A real SMTP server on 127.0.0.1 receives the mail; ``otpgate serve``'s sender thread runs
in the app, and the tests also run the sender themselves so they need not wait for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from web_pages_support import OPERATOR, Portal, portal, text_of

from otpgate.service import audit, enrolment, mailer
from otpgate.service.context import Origin
from smtp_sink import SmtpSink, free_port, smtp_server

ANN = "ann@example.test"


def _send(web: Portal) -> mailer.SendReport:
    return mailer.send_pending(web.ctx, Origin(source="cli", user_agent="cli:test"))


def _mail_overrides(port: int) -> dict[str, object]:
    return {
        "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
        "smtp_from": "otpgate@portal.example.test", "base_url": "https://portal.example.test",
    }


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def sink(port: int) -> Iterator[SmtpSink]:
    with smtp_server(port) as (received, _):
        yield received


@pytest.fixture
def web(engine: Engine, tmp_path: Path, port: int) -> Iterator[Portal]:
    with portal(engine, tmp_path, **_mail_overrides(port)) as harness:
        yield harness


def test_admin_invites_a_user_from_the_user_page(web: Portal, sink: SmtpSink) -> None:
    """The user page's invite button queues one mail, which reaches the user."""
    web.enrolled("root", admin=True)
    ann = web.user("ann", email=ANN)
    web.full_login("root")
    page = web.get(f"/admin/users/{ann.id}")
    assert 'id="invite-submit"' in page.text
    sent = web.submit(f"/admin/users/{ann.id}", f"/admin/users/{ann.id}/invite", {})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/admin/users/{ann.id}"
    shown = text_of(web.get(sent.headers["location"]).text)
    assert "1 invitation to turn on two-factor authentication will be e-mailed." in shown
    _send(web)
    [mail] = sink.to(ANN)
    assert mail.message["Subject"].endswith("Protect your account with two-factor authentication")
    assert "https://portal.example.test/security" in mail.part("plain")
    [event] = audit.query_audit(web.ctx, kind="2fa.invited")
    assert event.actor_name == "root" and event.subject_name == "ann"


def test_admin_invites_everyone_without_2fa_in_french(web: Portal, sink: SmtpSink) -> None:
    """The list's button invites all without 2FA; the notice counts who was left out."""
    web.enrolled("root", admin=True)
    web.user("ann", email=ANN, locale="fr")
    web.user("nomail")
    web.client.headers["Accept-Language"] = "fr"
    web.full_login("root")
    listing = web.get("/admin/users")
    assert 'id="invite-all"' in listing.text
    sent = web.submit("/admin/users", "/admin/users/invite", {})
    assert sent.headers["location"] == "/admin/users"
    shown = text_of(web.get("/admin/users").text)
    assert "1 invitation à activer la double authentification va être envoyée" in shown
    assert "1 compte a été laissé de côté" in shown
    _send(web)
    assert [m.message["Subject"] for m in sink.received] == [
        "[otpgate] Protégez votre compte avec la double authentification"
    ]


def test_no_invite_button_without_mail(engine: Engine, tmp_path: Path) -> None:
    """Without SMTP settings neither page offers invitations, and posting one is refused."""
    with portal(engine, tmp_path) as web:
        web.enrolled("root", admin=True)
        ann = web.user("ann", email=ANN)
        web.full_login("root")
        assert 'id="invite-all"' not in web.get("/admin/users").text
        page = web.get(f"/admin/users/{ann.id}")
        assert 'id="invite-submit"' not in page.text
        refused = web.submit(f"/admin/users/{ann.id}", f"/admin/users/{ann.id}/invite", {})
        assert refused.status_code >= 400
        assert audit.query_audit(web.ctx, kind="2fa.invited") == []


def _enrolled_with_mail(web: Portal, name: str, email: str) -> None:
    user = web.user(name, email=email)
    pending = enrolment.begin_enrolment(
        web.ctx, OPERATOR, user.id, step_up_at=web.ctx.now_dt(), name="phone"
    )
    enrolment.confirm_enrolment(
        web.ctx, OPERATOR, user.id, pending.credential_id, web.code_for(pending.secret_b32),
        "phone",
    )
    web.secrets[name] = pending.secret_b32
    web.clock.advance(30)


def test_sign_in_works_with_the_smtp_server_down_and_mail_follows_later(
    web: Portal, port: int
) -> None:
    """SMTP down: the pages log in as usual, the failure is audited, a later run delivers."""
    _enrolled_with_mail(web, "bob", "bob@example.test")
    web.full_login("bob")
    web.logout()
    web.client.cookies.clear()
    web.client.headers["User-Agent"] = "Another browser/1.0"
    web.full_login("bob")  # a new device: its mail joins the queue
    assert web.get("/").status_code == 200
    _send(web)
    assert audit.query_audit(web.ctx, kind="mail.failed")
    with smtp_server(port) as (sink, _):
        web.clock.advance(3600)
        deadline = time.monotonic() + 30
        while len(sink.received) < 2 and time.monotonic() < deadline:
            _send(web)
            time.sleep(0.05)
    subjects = sorted(m.message["Subject"] for m in sink.to("bob@example.test"))
    assert subjects == [
        "[otpgate] New sign-in to your account",
        "[otpgate] Two-factor authentication is on",
    ]
    [new] = [m for m in sink.received if "New sign-in" in m.message["Subject"]]
    assert "Another browser/1.0" in new.part("plain")
