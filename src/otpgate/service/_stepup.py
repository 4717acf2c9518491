"""Freshness of a step-up (the password asked again before a sensitive change)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from otpgate.service.errors import InvalidInput, StepUpRequired

if TYPE_CHECKING:
    from otpgate.service.context import Context

__all__ = ["require_fresh_step_up"]

# A step-up stamped slightly in the future is accepted: web workers' clocks may differ a
# little. More than that is a forged or broken value.
_FUTURE_SLACK_SECONDS = 5.0


def require_fresh_step_up(ctx: Context, step_up_at: object) -> None:
    """Pass if the password was confirmed within ``settings.step_up_seconds``.

    None or an old time raises :class:`StepUpRequired`; a value that is not an aware
    datetime raises :class:`InvalidInput`.
    """
    if step_up_at is None:
        raise StepUpRequired()
    if not isinstance(step_up_at, datetime) or step_up_at.tzinfo is None:
        raise InvalidInput("The step-up time must be a timezone-aware datetime.")
    age = (ctx.now_dt() - step_up_at).total_seconds()
    if age > ctx.settings.step_up_seconds or age < -_FUTURE_SLACK_SECONDS:
        raise StepUpRequired()
