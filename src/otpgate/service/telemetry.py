"""What the service tells an operator's monitoring: a small interface, no implementation.

The service calls the installed :class:`Telemetry` at the few places where something worth
counting is decided — the outcome of every one-time code check (all channels go through
:mod:`otpgate.service._code_check`), each lockout, each e-mail delivery attempt. An
adapter that exports metrics (the web layer's Prometheus exporter) installs its own
implementation with :func:`install`; by default nothing is recorded, at the cost of one
method call. Implementations must be cheap and must never raise: they run inside use
cases, on the busiest path. The check also names its user to the request's log context
(:mod:`otpgate.logs`), metrics or not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, Literal, ParamSpec, Protocol, TypeVar

from otpgate import logs
from otpgate.service.context import Origin
from otpgate.service.errors import CodeRejected, InvalidInput, Locked, NotEnrolled, RejectReason
from otpgate.service.views import SecondFactor

__all__ = [
    "CodeOutcome",
    "MailOutcome",
    "Telemetry",
    "counted_check",
    "current",
    "install",
    "locked_out",
    "mail_settled",
]

CodeOutcome = Literal["ok", "wrong", "replayed", "locked", "malformed", "not_enrolled"]
MailOutcome = Literal["sent", "retrying", "dead", "lost"]


class Telemetry(Protocol):
    """Receives the service's countable events (from any thread)."""

    def code_checked(self, channel: str, outcome: CodeOutcome, username: str) -> None:
        """A one-time code was checked on ``channel`` (an :class:`Origin` source)."""

    def locked_out(self, step: str, scope: str) -> None:
        """Failures locked a ``scope`` (account, address) of a ``step`` (code, password…)."""

    def mail_settled(self, outcome: MailOutcome) -> None:
        """A security e-mail was sent, will be retried, is given up, or lost its claim."""


class _Nothing:
    def code_checked(self, channel: str, outcome: CodeOutcome, username: str) -> None:
        pass

    def locked_out(self, step: str, scope: str) -> None:
        pass

    def mail_settled(self, outcome: MailOutcome) -> None:
        pass


_installed: Telemetry = _Nothing()


def install(telemetry: Telemetry | None) -> None:
    """Send the service's events to ``telemetry`` in this process (None: to nothing)."""
    global _installed  # noqa: PLW0603 - one exporter per process, chosen at start-up
    _installed = telemetry if telemetry is not None else _Nothing()


def current() -> Telemetry:
    """The telemetry events go to now."""
    return _installed


def locked_out(step: str, scope: str) -> None:
    _installed.locked_out(step, scope)


def mail_settled(outcome: MailOutcome) -> None:
    _installed.mail_settled(outcome)


class _Named(Protocol):
    @property
    def username(self) -> str: ...


P = ParamSpec("P")
C = TypeVar("C")
X = TypeVar("X")
U = TypeVar("U", bound=_Named)
Check = Callable[Concatenate[C, X, Origin, U, P], SecondFactor | CodeRejected]

_REASONS: dict[RejectReason, CodeOutcome] = {
    RejectReason.WRONG: "wrong",
    RejectReason.REPLAYED: "replayed",
    RejectReason.MALFORMED: "malformed",
}


def counted_check(check: Check[C, X, U, P]) -> Check[C, X, U, P]:
    """Wrap the code check ``check(conn, ctx, origin, user, …)`` so that each call reports
    its outcome, whether it returns a success, returns a refusal, or raises one."""

    @functools.wraps(check)
    def counted(
        conn: C, ctx: X, origin: Origin, user: U, /, *args: P.args, **kwargs: P.kwargs
    ) -> SecondFactor | CodeRejected:
        outcome: CodeOutcome | None = None
        try:
            result = check(conn, ctx, origin, user, *args, **kwargs)
            outcome = "ok" if isinstance(result, SecondFactor) else _REASONS[result.reason]
            return result
        except CodeRejected as exc:
            outcome = _REASONS[exc.reason]
            raise
        except Locked:
            outcome = "locked"
            raise
        except InvalidInput:
            outcome = "malformed"
            raise
        except NotEnrolled:
            outcome = "not_enrolled"
            raise
        finally:
            if outcome is not None:
                logs.note_user(user.username)
                _installed.code_checked(origin.source, outcome, user.username)

    return counted
