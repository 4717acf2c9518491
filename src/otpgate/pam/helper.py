"""``otpgate pam``: check the code that ``pam_otpgate.so`` asked for, through the service.

The PAM module starts this helper with the answer on standard input and ``PAM_USER``,
``PAM_RHOST`` and ``PAM_SERVICE`` in the environment; the exit status is the verdict and
one ``key=value`` line on standard error says why (the module copies it to syslog).

Exit statuses: 0 accepted · 1 refused (wrong, replayed, malformed, locked, disabled
account) · 2 bad usage · 3 the user has no otpgate 2FA (unknown, or no active
authenticator; the module lets them in only with ``nullok``) · 5 configuration,
database or key unavailable, or any unexpected error. Every path but 0 (and 3 with
``nullok``) refuses the login: the helper fails closed.

No rule lives here: the answer goes to the same use cases as the portal's login page
(``verify_code``, ``verify_recovery_code``, and ``verify_scratch_code`` for imported
google-authenticator scratch codes), with the same replay guard, throttle and audit.

:func:`check` is the one code path of a check; ``otpgate pam`` (:func:`run`, a new
process per login) and ``otpgate pam-daemon`` (:mod:`otpgate.pam.daemon`, one process
answering over a Unix socket) both call it and differ only in where the request comes
from and how long the service context lives.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from otpgate.config import ConfigError, Settings
from otpgate.pam.errors import BadAnswer, FileRefused
from otpgate.pam.files import map_user, read_settings_file, read_user_map
from otpgate.security.errors import UnsafeFileMode

if TYPE_CHECKING:
    from otpgate.service.clock import Clock
    from otpgate.service.context import Context, Origin
    from otpgate.service.views import SecondFactor

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_ENROLLED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "MAX_ANSWER_BYTES",
    "CheckRequest",
    "ContextSource",
    "Verdict",
    "check",
    "parse_answer",
    "read_answer",
    "read_typed",
    "run",
]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_NOT_ENROLLED = 3
EXIT_ERROR = 5
MAX_ANSWER_BYTES = 256
_MAX_ADDR = 64


@dataclass(frozen=True)
class Verdict:
    """An exit status and the one log line that explains it."""

    status: int
    message: str


@dataclass(frozen=True)
class CheckRequest:
    """One check as the PAM module describes it.

    ``answer`` is the line typed at the prompt, without its line ending, unchecked:
    :func:`parse_answer` validates it inside :func:`check`.
    """

    system_user: str
    rhost: str
    service: str
    answer: bytes


ContextSource = Callable[[], AbstractContextManager["Context"]]
"""Gives the service context for one check (built per check, or a long-lived one)."""


def read_typed(stream: IO[bytes]) -> bytes:
    """The answer line on ``stream`` without its ``\n``; reads at most 258 bytes.

    Reads no more than that, so a flood on standard input costs nothing.
    """
    return stream.read(MAX_ANSWER_BYTES + 2).removesuffix(b"\n")


def parse_answer(typed: bytes) -> str:
    """One line of printable ASCII (a trailing ``\r`` removed), at most 256 bytes."""
    raw = typed.removesuffix(b"\r")
    if len(raw) > MAX_ANSWER_BYTES:
        raise BadAnswer(f"answer longer than {MAX_ANSWER_BYTES} bytes")
    if not raw:
        raise BadAnswer("empty answer")
    if any(byte < 0x20 or byte > 0x7E for byte in raw):
        raise BadAnswer("answer is not one line of printable ASCII")
    return raw.decode("ascii")


def read_answer(stream: IO[bytes]) -> str:
    """The answer on ``stream``, validated (:func:`read_typed`, then :func:`parse_answer`)."""
    return parse_answer(read_typed(stream))


def _settings(environ: Mapping[str, str], config: Path | None) -> Settings:
    values = dict(environ)
    if config is not None:
        values.update(read_settings_file(config))
    return Settings.from_env(values)


def _second_factor(ctx: Context, origin: Origin, user_id: int, answer: str) -> SecondFactor:
    from otpgate.service import imports, login
    from otpgate.service.errors import CodeRejected, RejectReason

    # The answer's shape picks the use case: letters → recovery code, else a code.
    if any(ch.isalpha() for ch in answer):
        return login.verify_recovery_code(ctx, origin, user_id, answer)
    try:
        return login.verify_code(ctx, origin, user_id, answer)
    except CodeRejected as exc:
        if exc.reason is RejectReason.MALFORMED and imports.is_scratch_code(answer):
            return imports.verify_scratch_code(ctx, origin, user_id, answer)
        raise


def _account(ctx: Context, who: str, username: str) -> int | Verdict:
    """The id of the otpgate account that must give a code, or why there is none."""
    from otpgate.service import errors as svc
    from otpgate.service import users

    try:
        account = users.find_user(ctx, username)
    except (svc.NotFound, svc.InvalidInput):
        return Verdict(EXIT_NOT_ENROLLED, f"no otpgate account {who}")
    if not account.is_active:
        return Verdict(EXIT_REFUSED, f"refused {who} reason=account_disabled")
    if not account.has_2fa:
        return Verdict(EXIT_NOT_ENROLLED, f"no 2FA enrolled {who}")
    return account.id


def _check(ctx: Context, origin: Origin, who: str, username: str, answer: str) -> Verdict:
    from otpgate.service import errors as svc

    account_id = _account(ctx, who, username)
    if isinstance(account_id, Verdict):
        return account_id
    try:
        factor = _second_factor(ctx, origin, account_id, answer)
    except svc.NotEnrolled:
        return Verdict(EXIT_NOT_ENROLLED, f"no 2FA enrolled {who}")
    except svc.CodeRejected as exc:
        return Verdict(EXIT_REFUSED, f"refused {who} reason={exc.reason}")
    except svc.Locked as exc:
        return Verdict(EXIT_REFUSED, f"refused {who} reason=locked until={exc.until:%H:%M:%S}Z")
    except (svc.AccountDisabled, svc.InvalidInput, svc.AuthenticationFailed):
        return Verdict(EXIT_REFUSED, f"refused {who} reason=invalid")
    return Verdict(EXIT_OK, f"accepted {who} method={factor.method}")


def _verdict(request: CheckRequest, user_map: Path | None, context: ContextSource) -> Verdict:
    from otpgate.service.context import Origin

    system_user = request.system_user
    if not system_user:
        return Verdict(EXIT_USAGE, "PAM_USER is not set")
    client = request.rhost[:_MAX_ADDR]
    service = request.service or "pam"
    mapping = read_user_map(user_map) if user_map is not None else None
    username = map_user(system_user, mapping)
    who = f"user={system_user}" + ("" if username == system_user else f" otpgate_user={username}")
    who += f" rhost={client or '-'}"
    try:
        answer = parse_answer(request.answer)
    except BadAnswer as exc:
        return Verdict(EXIT_REFUSED, f"refused {who} reason=malformed ({exc})")
    origin = Origin(source="ssh", client_addr=client, user_agent=f"{service}:{system_user}"[:400])
    with context() as ctx:
        return _check(ctx, origin, who, username, answer)


def check(request: CheckRequest, *, user_map: Path | None, context: ContextSource) -> Verdict:
    """The verdict on one answer, and the log line that explains it (never the code).

    The user map is read at every check, so an edit applies to the next login. Never
    raises: a bad file is exit 5 "configuration error", anything unexpected exit 5 with
    the error's type: both refuse the login.
    """
    try:
        return _verdict(request, user_map, context)
    except (FileRefused, ConfigError, UnsafeFileMode) as exc:
        return Verdict(EXIT_ERROR, f"configuration error: {exc}")
    except Exception as exc:  # fail closed on anything, with a log line
        return Verdict(EXIT_ERROR, f"refused, otpgate unavailable: {_describe(exc)}")


def _one_shot_context(
    environ: Mapping[str, str], config: Path | None, clock: Clock | None
) -> ContextSource:
    """A context built for one check from the settings, its engine closed afterwards."""

    @contextmanager
    def _open() -> Iterator[Context]:
        from otpgate.service.context import build_context

        ctx = build_context(_settings(environ, config), clock=clock)
        try:
            yield ctx
        finally:
            ctx.session_factory.kw["bind"].dispose()

    return _open


def run(
    *,
    stdin: IO[bytes],
    stderr: IO[str],
    environ: Mapping[str, str] | None = None,
    config: Path | None = None,
    user_map: Path | None = None,
    clock: Clock | None = None,
) -> int:
    """Check one answer; print one log line on ``stderr``; return the exit status.

    Never raises: anything unexpected is exit 5 (refused), with the error's type logged.
    """
    env = os.environ if environ is None else environ
    try:
        typed = read_typed(stdin)
    except Exception as exc:  # an unreadable stdin refuses like anything else
        verdict = Verdict(EXIT_ERROR, f"refused, otpgate unavailable: {_describe(exc)}")
    else:
        request = CheckRequest(
            system_user=env.get("PAM_USER", ""),
            rhost=env.get("PAM_RHOST", ""),
            service=env.get("PAM_SERVICE", ""),
            answer=typed,
        )
        verdict = check(request, user_map=user_map, context=_one_shot_context(env, config, clock))
    print(f"otpgate-pam: {verdict.message}", file=stderr, flush=True)
    return verdict.status


def _describe(exc: BaseException) -> str:
    """The error's type, and its message only for otpgate's own errors (written to be shown;
    a driver's message may quote SQL parameters)."""
    name = type(exc).__name__
    if not type(exc).__module__.startswith("otpgate."):
        return name
    return f"{name}: {' '.join(str(exc).split())[:200]}"
