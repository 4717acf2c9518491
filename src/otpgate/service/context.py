"""What every use case receives: settings, database, keys, hasher, clock, and the origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from otpgate.config import ConfigError, Settings
from otpgate.security.passwords import PasswordHasher
from otpgate.security.private_files import private_dir
from otpgate.security.secretbox import KeyRing, load_keyring
from otpgate.service.clock import Clock, SystemClock
from otpgate.store.db import make_engine, make_session_factory

__all__ = ["Context", "Origin", "Source", "build_context", "prepare_home"]

Source = Literal["web", "api", "cli", "ssh"]


@dataclass(frozen=True)
class Origin:
    """Where a request comes from; copied into every audit row it causes."""

    source: Source
    client_addr: str = ""
    user_agent: str = ""


@dataclass
class Context:
    settings: Settings
    session_factory: sessionmaker[Session]
    keyring: KeyRing
    hasher: PasswordHasher
    clock: Clock = field(default_factory=SystemClock)

    def now_dt(self) -> datetime:
        """The clock's time as an aware UTC datetime, for storing."""
        return datetime.fromtimestamp(self.clock.now(), UTC)


def prepare_home(settings: Settings) -> None:
    """Create the data directory 0700 when it holds the database or the key file, or
    refuse an existing one that group or others may enter (:class:`UnsafeFileMode`)."""
    if not settings.database_url or not settings.secret_keys.strip():
        try:
            private_dir(settings.home)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(
                f"cannot create the data directory {settings.home} (OTPGATE_HOME): {reason}"
            ) from None


def build_context(
    settings: Settings, *, clock: Clock | None = None, migrate: bool = False, pool_size: int = 5
) -> Context:
    """Wire the layers below from settings; ``migrate`` brings the schema to the newest;
    ``pool_size`` database connections are kept open (a server wants one per thread)."""
    prepare_home(settings)
    engine = make_engine(settings.effective_database_url, pool_size=pool_size)
    if migrate:
        # Alembic costs ~0.1 s to import: only the processes that migrate pay for it
        # (``otpgate pam`` runs once per SSH login).
        from otpgate.store.schema import upgrade

        upgrade(engine)
    return Context(
        settings=settings,
        session_factory=make_session_factory(engine),
        keyring=load_keyring(settings.secret_keys, settings.key_file),
        hasher=PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        ),
        clock=clock or SystemClock(),
    )
