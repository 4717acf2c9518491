"""Helpers of the e-mail tests: settings pointing at a local SMTP server, sending, scanning."""

from __future__ import annotations

import re

from otpgate.config import Settings
from otpgate.service import mailer
from otpgate.service.context import Context, Origin
from otpgate.service.mailer import SendReport
from smtp_sink import Received

__all__ = ["SENDER", "assert_no_secret", "mail_settings", "send_all", "text_of"]

SENDER = "otpgate@portal.example.test"
BASE_URL = "https://portal.example.test"


def mail_settings(port: int, **overrides: object) -> Settings:
    """Cheap argon2, and SMTP without TLS to 127.0.0.1:``port``."""
    return Settings(
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_from=SENDER,
        base_url=BASE_URL,
    ).with_overrides(**overrides)


def send_all(ctx: Context) -> SendReport:
    """Run the sender once, as the command line would."""
    return mailer.send_pending(ctx, Origin(source="cli", user_agent="cli:tester"))


def text_of(received: Received) -> str:
    """Headers, plain part and HTML part, decoded: what a reader of the mail can see."""
    return "\n".join(
        [received.raw.decode("ascii", "replace"), received.part("plain"), received.part("html")]
    )


def _forms(secret: str) -> set[str]:
    bare = re.sub(r"[\s-]", "", secret)
    grouped = " ".join(bare[i : i + 4] for i in range(0, len(bare), 4))
    return {secret, bare, bare.lower(), bare.upper(), grouped, grouped.lower()}


def assert_no_secret(received: list[Received], secrets: list[str]) -> None:
    """No form of any of ``secrets`` appears in any message, raw or decoded."""
    assert received, "no mail to check"
    for mail in received:
        seen = text_of(mail)
        for secret in secrets:
            for form in _forms(secret):
                assert form not in seen, f"{secret!r} appears in {mail.message['Subject']!r}"
