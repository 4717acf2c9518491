"""Security e-mails about passkeys: added, removed, and a cloned key refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from otpgate.config import Settings
from otpgate.relying_party import RelyingParty
from otpgate.service import passkey_removal, web_sessions
from otpgate.service.audit import AuditKind, record
from otpgate.service.context import Context, Origin
from otpgate.service.views import UserView
from otpgate.store.db import transaction
from otpgate.store.models import User
from smtp_sink import SmtpSink, free_port, smtp_server

from .mail_support import mail_settings, send_all
from .passkey_support import stored_passkey
from .twofa import enrol


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings(smtp_port: int) -> Settings:
    return replace(mail_settings(smtp_port),
                   passkeys=RelyingParty(rp_id="portal.example.test",
                                         origin="https://portal.example.test"))


@pytest.fixture
def sink(smtp_port: int) -> Iterator[SmtpSink]:
    with smtp_server(smtp_port) as (received, _):
        yield received


def test_removing_a_passkey_is_mailed(
    ctx: Context, web: Origin, make_user: Callable[..., UserView], sink: SmtpSink
) -> None:
    """The removal mail names the passkey and links to the security page."""
    user = make_user("alice", email="alice@example.test")
    key = stored_passkey(ctx, user.id, name="Work laptop")
    phone = enrol(ctx, web, user.id)
    sid = web_sessions.start_session(ctx, web)[1].id_hash
    passkey_removal.remove_passkey(ctx, web, user.id, sid, key, step_up_at=ctx.now_dt(),
                            code=phone.code(ctx))
    send_all(ctx)
    last = sink.received[-1]
    assert last.message["Subject"] == "[otpgate] A passkey was removed from your account"
    assert "“Work laptop” was removed" in last.part("plain")
    assert "https://portal.example.test/security" in last.part("html")


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        (AuditKind.PASSKEY_ADDED, "[otpgate] Une clé d\u2019accès a été ajoutée à votre compte"),
        (AuditKind.PASSKEY_CLONED,
         "[otpgate] Une copie de votre clé d\u2019accès est peut-être utilisée"),
    ],
)
def test_passkey_events_are_mailed_in_the_users_language(
    ctx: Context, web: Origin, make_user: Callable[..., UserView], sink: SmtpSink,
    kind: AuditKind, subject: str,
) -> None:
    """A French user gets the passkey mails in French, naming the key."""
    user = make_user("claire", email="claire@example.test", locale="fr")
    with transaction(ctx.session_factory) as s:
        row = s.get(User, user.id)
        record(s, ctx, web, kind, actor=row, subject=row,
               detail={"passkey_id": 1, "name": "Clé USB"})
    assert send_all(ctx).sent == 1
    [mail] = sink.received
    assert mail.message["Subject"] == subject
    assert "« Clé USB »" in mail.part("plain")
