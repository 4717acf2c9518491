"""Log lines for operators: plain text, or one JSON object per line.

Every line logged while a request is served carries that request's id, client address and,
once known, the user it concerns: the web adapter opens a :class:`RequestInfo` for each
request (:func:`begin_request`), and the JSON formatter reads it. The info object is
shared, not copied, by the threads that serve the request, so a user named deep inside a
use case (:func:`note_user`) still shows in the request's closing line.

What may be logged: names, ids, addresses, routes, statuses, durations. Never a code, a
secret, a token or a password: callers pass fields explicitly (``extra={"fields": …}``),
and request bodies and query strings are never logged.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "JsonFormatter",
    "LogFormat",
    "RequestInfo",
    "TextFormatter",
    "begin_request",
    "configure",
    "current_request",
    "end_request",
    "logging_config",
    "note_user",
]

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestInfo:
    """Who is asking, in one request; the client address is read only when logged."""

    __slots__ = ("_client", "_read_client", "request_id", "user")

    def __init__(self, request_id: str, read_client: Callable[[], str]) -> None:
        self.request_id = request_id
        self.user = ""
        self._read_client = read_client
        self._client: str | None = None

    @property
    def client(self) -> str:
        if self._client is None:
            self._client = self._read_client()
        return self._client


_current: ContextVar[RequestInfo | None] = ContextVar("otpgate_request", default=None)


def begin_request(info: RequestInfo) -> Token[RequestInfo | None]:
    """Make ``info`` the request of this task (and of the threads it starts)."""
    return _current.set(info)


def end_request(token: Token[RequestInfo | None]) -> None:
    _current.reset(token)


def current_request() -> RequestInfo | None:
    return _current.get()


def note_user(username: str) -> None:
    """Name the user the current request concerns (no-op outside a request)."""
    info = _current.get()
    if info is not None and not info.user:
        info.user = username


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event, logger, request_id, user, client, and
    the record's ``fields`` (``extra={"fields": {...}}``)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        info = _current.get()
        if info is not None:
            line["request_id"] = info.request_id
            line["user"] = info.user
            line["client"] = info.client
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic ``time LEVEL logger: message`` line, then the record's ``fields`` and
    the request's id as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        pairs = dict(fields) if isinstance(fields, dict) else {}
        info = _current.get()
        if info is not None:
            pairs.update(request_id=info.request_id, user=info.user, client=info.client)
        extra = " ".join(f"{key}={_plain(value)}" for key, value in pairs.items() if value != "")
        return f"{text} {extra}" if extra else text


def _plain(value: object) -> str:
    # A value from a request (a user name from the path) must not start a new line or
    # fake another pair: anything but plain printable text is written as a JSON string.
    text = str(value)
    return text if text.isprintable() and " " not in text and "=" not in text else json.dumps(text)


def logging_config(log_format: LogFormat, *, access_log: bool) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` mapping (uvicorn applies it in every worker):
    everything to standard error in ``log_format``; one ``request`` line per request from
    ``otpgate.access`` when ``access_log``; uvicorn's own access lines off (they would
    repeat ours with the query string, which may hold a one-time token)."""
    formatter = {"()": f"{__name__}.{'Json' if log_format == 'json' else 'Text'}Formatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"otpgate": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "otpgate",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "otpgate.access": {"level": "INFO" if access_log else "WARNING"},
        },
    }


def configure(log_format: LogFormat, *, access_log: bool) -> dict[str, Any]:
    """Apply :func:`logging_config` to this process; returns it for the workers."""
    import logging.config

    config = logging_config(log_format, access_log=access_log)
    logging.config.dictConfig(config)
    sys.stderr.flush()
    return config
