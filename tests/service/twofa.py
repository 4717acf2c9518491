"""Helpers of the 2FA tests: enrol through the service, compute codes, move the clock."""

from __future__ import annotations

from dataclasses import dataclass

from otpgate.otp import Totp
from otpgate.otp.secrets import b32decode
from otpgate.service import enrolment
from otpgate.service.clock import FixedClock
from otpgate.service.context import Context, Origin

__all__ = ["Enrolled", "clock_of", "enrol", "wrong_code"]


@dataclass(frozen=True)
class Enrolled:
    credential_id: int
    secret_b32: str
    totp: Totp
    recovery_codes: list[str]

    def code(self, ctx: Context, offset_steps: int = 0) -> str:
        """The code of the step ``offset_steps`` away from the clock's current one."""
        return self.totp.generate_step(self.totp.step(ctx.clock.now()) + offset_steps)


def clock_of(ctx: Context) -> FixedClock:
    """The test context's fixed clock."""
    assert isinstance(ctx.clock, FixedClock)
    return ctx.clock


def enrol(ctx: Context, origin: Origin, user_id: int, name: str = "My phone") -> Enrolled:
    """Enrol a TOTP authenticator through begin + confirm, then move to the next step.

    The clock advances one period so the confirming code's step is in the past and the
    next login needs a new code, as for a person.
    """
    pending = enrolment.begin_enrolment(ctx, origin, user_id, step_up_at=ctx.now_dt())
    totp = Totp(b32decode(pending.secret_b32))
    codes = enrolment.confirm_enrolment(
        ctx, origin, user_id, pending.credential_id, totp.generate_at(ctx.clock.now()), name
    )
    clock_of(ctx).advance(30)
    return Enrolled(pending.credential_id, pending.secret_b32, totp, codes)


def wrong_code(totp: Totp, now: float, seed: int) -> str:
    """A well-formed code that is valid for no step within ±2 of ``now``."""
    valid = {totp.generate_step(totp.step(now) + d) for d in range(-2, 3)}
    n = seed
    while True:
        candidate = f"{(n * 7919 + 123457) % 1_000_000:06d}"
        if candidate not in valid:
            return candidate
        n += 1
