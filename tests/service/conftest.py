"""Fixtures of the service tests: a Context on each real database, origins, a table dump."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from otpgate.config import Settings
from otpgate.security.passwords import PasswordHasher
from otpgate.security.secretbox import KeyRing
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin
from otpgate.service.views import UserView
from otpgate.store.db import make_session_factory

T0 = 1_700_000_000
TEST_KEY_ID = "test1"
TEST_KEY = bytes(range(32))

@pytest.fixture
def settings() -> Settings:
    """Default settings with the cheap argon2 profile."""
    return Settings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)


@pytest.fixture
def ctx(engine: Engine, settings: Settings) -> Context:
    """A service context on the migrated test database, at a fixed time, with a fixed key."""
    return Context(
        settings=settings,
        session_factory=make_session_factory(engine),
        keyring=KeyRing([(TEST_KEY_ID, TEST_KEY)]),
        hasher=PasswordHasher(time_cost=1, memory_kib=8, parallelism=1),
        clock=FixedClock(T0),
    )


@pytest.fixture
def web() -> Origin:
    """A request from a browser."""
    return Origin(source="web", client_addr="203.0.113.7", user_agent="pytest-browser")


@pytest.fixture
def cli() -> Origin:
    """A command run by the local operator."""
    return Origin(source="cli", user_agent="cli:tester")


PASSWORD = "correct horse battery"


@pytest.fixture
def make_user(ctx: Context, cli: Origin) -> Callable[..., UserView]:
    """A function creating a user through the service (as the CLI operator)."""
    from otpgate.service import users

    def make(username: str, *, admin: bool = False, **fields: Any) -> UserView:
        return users.create_user(ctx, cli, username, PASSWORD, is_admin=admin, **fields)

    return make
