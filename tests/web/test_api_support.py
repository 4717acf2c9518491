"""Shared set-up of the JSON API tests: a real app on a real database, tokens, users, codes.

Codes are computed with pyotp (an independent implementation) at the time of the app's
fixed clock, which the tests move on explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from otpgate.config import Settings
from otpgate.security.passwords import PasswordHasher
from otpgate.security.secretbox import KeyRing
from otpgate.service import api_tokens, enrolment, users
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin
from otpgate.service.views import UserView
from otpgate.store.db import make_session_factory
from otpgate.web.app import create_app

__all__ = ["PASSWORD", "T0", "ApiHarness", "api_harness", "secret_of"]

# Five seconds into a 30-second step, so "now" and "now - 30 s" are clearly distinct steps.
T0 = 1_900_000_005.0
PASSWORD = "correct horse battery staple"
OPERATOR = Origin("cli", user_agent="cli:test")


def secret_of(otpauth_uri: str) -> str:
    """The base32 secret of an otpauth:// URI."""
    return parse_qs(urlparse(otpauth_uri).query)["secret"][0]


@dataclass
class ApiHarness:
    client: TestClient
    ctx: Context
    clock: FixedClock

    def token(self, *scopes: str) -> str:
        """A new API token with these scopes, created on the operator channel."""
        return api_tokens.create_api_token(self.ctx, OPERATOR, None, "tests", set(scopes))

    def auth(self, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*scopes)}"}

    def user(self, username: str) -> UserView:
        return users.create_user(self.ctx, OPERATOR, username, PASSWORD)

    def code(self, secret: str, steps: int = 0) -> str:
        """The TOTP code of ``secret`` at the app's time, ``steps`` periods away."""
        return str(pyotp.TOTP(secret).at(int(self.clock.now()) + 30 * steps))

    def wrong_code(self, secret: str) -> str:
        """A well-formed code that matches no step of the accepted window."""
        valid = {self.code(secret, s) for s in (-1, 0, 1)}
        candidate = int(self.code(secret))
        while f"{candidate:06d}" in valid:
            candidate = (candidate + 1) % 1_000_000
        return f"{candidate:06d}"

    def enrolled(self, username: str) -> tuple[UserView, str]:
        """A user with one confirmed TOTP authenticator, and its secret; the clock is then
        moved two steps on, so every code of the accepted window is fresh."""
        user = self.user(username)
        pending = enrolment.begin_enrolment(
            self.ctx, OPERATOR, user.id, step_up_at=self.ctx.now_dt(), name="phone"
        )
        enrolment.confirm_enrolment(
            self.ctx, OPERATOR, user.id, pending.credential_id,
            self.code(pending.secret_b32), "phone",
        )
        self.clock.advance(60)
        return user, pending.secret_b32


@contextmanager
def api_harness(engine: Engine, home: Path, **overrides: object) -> Iterator[ApiHarness]:
    """An API client on the portal's app (create_app) over a migrated empty database,
    with a fixed clock; ``overrides`` change settings."""
    settings = Settings(
        home=home,
        database_url=engine.url.render_as_string(hide_password=False),
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
    ).with_overrides(**overrides)
    clock = FixedClock(T0)
    ctx = Context(
        settings=settings,
        session_factory=make_session_factory(engine),
        keyring=KeyRing([("test", os.urandom(32))]),
        hasher=PasswordHasher(time_cost=1, memory_kib=8, parallelism=1),
        clock=clock,
    )
    with TestClient(create_app(settings, ctx=ctx), base_url="http://127.0.0.1") as client:
        yield ApiHarness(client=client, ctx=ctx, clock=clock)
