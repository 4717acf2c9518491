"""Clock and counter drift: telling a user their phone's clock is off, and putting a
counter-based (HOTP) authenticator back in step.

TOTP drift is measured at each login (a moving average, see
:mod:`otpgate.service.verification`); past half a period the next drift step leaves the
accepted window, so that is when the user is told. An HOTP counter moves on every button
press, accepted or not; past ``hotp_look_ahead`` presses codes stop matching, and two
*consecutive* codes found within ``hotp_resync_window`` counters bring it back in step.
Two consecutive codes are a strong proof (about 2·10⁻¹⁰ chance for a pair of guesses over
the default window), and the attempt is throttled like a code at login anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from otpgate.otp import Algorithm
from otpgate.otp.codes import normalise_code
from otpgate.otp.errors import OtpError
from otpgate.otp.hotp import Hotp
from otpgate.service import throttle
from otpgate.service._tx import check_id, load_active_user, unit_of_work
from otpgate.service.audit import AuditKind, record
from otpgate.service.errors import CodeRejected, NotEnrolled, NotFound, RejectReason
from otpgate.service.verification import code_text, note_failure, open_secret
from otpgate.service.views import CredentialView, SecondFactor
from otpgate.store import repositories as repo
from otpgate.store.models import OtpCredential

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["clock_drift", "resync_hotp"]


def clock_drift(cred: CredentialView) -> int | None:
    """The drift to tell the user about, in whole seconds (negative: the phone is behind).

    None for HOTP, and while the measured drift is within half a period.
    """
    if cred.kind != "totp" or abs(cred.drift_seconds) <= cred.period / 2:
        return None
    return round(cred.drift_seconds)


def _well_formed(code: str, digits: int) -> bool:
    try:
        normalise_code(code, digits)
    except OtpError:
        return False
    return True


def _pair_counter(ctx: Context, cred: OtpCredential, first: str, second: str) -> int | None:
    """The counter of ``second`` when ``first`` and ``second`` are consecutive codes."""
    hotp = Hotp(
        open_secret(ctx, cred),
        digits=cred.digits,
        algorithm=cast(Algorithm, cred.algorithm),
        allow_short_key=True,
    )
    start = cred.last_step + 1
    end = start + ctx.settings.hotp_resync_window  # exclusive
    counter = start
    while counter < end:
        found = hotp.match(first, counter, look_ahead=end - 1 - counter)
        if found is None:
            return None
        if found + 1 < end and hotp.match(second, found + 1) == found + 1:
            return found + 1
        counter = found + 1  # the first code may recur further on: keep looking
    return None


def resync_hotp(
    ctx: Context,
    origin: Origin,
    user_id: int,
    first: str,
    second: str,
    *,
    credential_id: int | None = None,
) -> SecondFactor:
    """Bring an HOTP authenticator back in step with two consecutive codes.

    Tries the user's active HOTP authenticators (or only ``credential_id``). On success the
    second code's counter becomes the last one used (neither code works again) and the
    result counts as a second factor. Raises :class:`NotEnrolled` (no HOTP authenticator),
    :class:`NotFound`, :class:`CodeRejected` (``MALFORMED``, ``REPLAYED``, or ``WRONG``
    after the failure is counted), :class:`Locked`.
    """
    texts = (code_text(first), code_text(second))
    wanted = None if credential_id is None else check_id(credential_id, "authenticator id")
    with unit_of_work(ctx) as session:
        user = load_active_user(session, user_id)
        creds = [c for c in repo.credentials_of(session, user.id, "active") if c.kind == "hotp"]
        if wanted is not None:
            creds = [c for c in creds if c.id == wanted]
            if not creds:
                raise NotFound("No such counter-based authenticator.")
        if not creds:
            raise NotEnrolled("No counter-based (HOTP) authenticator to resynchronise.")
        candidates = [c for c in creds if all(_well_formed(t, c.digits) for t in texts)]
        if not candidates:
            raise CodeRejected(RejectReason.MALFORMED)
        now_dt = ctx.now_dt()
        account = throttle.begin_attempt(
            session, throttle.account_scope(user.id, "code"), throttle.CODE_ACCOUNT, now_dt
        )
        pair = throttle.begin_attempt(
            session,
            throttle.pair_scope(user.id, "code", origin.client_addr),
            throttle.CODE_PAIR,
            now_dt,
        )
        for cred in candidates:
            counter = _pair_counter(ctx, cred, *texts)
            if counter is None:
                continue
            skipped = counter - 1 - cred.last_step - 1
            if not repo.advance_last_step(session, cred.id, counter, now=now_dt, drift_seconds=0):
                raise CodeRejected(RejectReason.REPLAYED)  # a concurrent use won
            throttle.succeed_attempt(session, account, forget=False)
            throttle.succeed_attempt(session, pair, forget=True)
            record(
                session,
                ctx,
                origin,
                AuditKind.HOTP_RESYNCED,
                actor=user if origin.source != "cli" else None,
                subject=user,
                detail={"credential_id": cred.id, "name": cred.name, "skipped": skipped},
            )
            return SecondFactor(
                method="hotp",
                credential_id=cred.id,
                drift_seconds=None,
                recovery_codes_left=repo.recovery_codes_left(session, user.id),
            )
        note_failure(
            session, ctx, origin, user, [account, pair], method="hotp_resync", purpose="resync"
        )
        outcome = CodeRejected(RejectReason.WRONG)
    raise outcome
