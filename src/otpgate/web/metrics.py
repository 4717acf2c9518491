"""Prometheus metrics: requests, code checks, lockouts, e-mail, database pool.

Off unless ``OTPGATE_METRICS_TOKEN`` is set; then ``GET /metrics`` answers a scraper that
sends ``Authorization: Bearer <token>`` (anyone else gets 401: the figures say how busy
the service is and how many logins fail). With several worker processes, ``otpgate
serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a directory it empties at start; each
process writes its counters there and a scrape, served by any worker, adds them up.

The series (``route`` is the route's template, never the raw path; ``channel`` is where
a code was typed: ``web`` pages, including the forward-auth login, ``api``, ``ssh``,
``cli``):

- ``otpgate_http_requests_total{method,route,status}``,
  ``otpgate_http_request_duration_seconds{route}`` (histogram);
- ``otpgate_code_checks_total{channel,outcome}``: ok, wrong, replayed, locked, malformed,
  not_enrolled;
- ``otpgate_lockouts_total{step,scope}``: a throttle locked (code/password/recovery…,
  account/address);
- ``otpgate_mail_deliveries_total{outcome}`` (sent, retrying, dead, lost) and
  ``otpgate_mail_outbox_messages{status}``, read from the database at each scrape;
- ``otpgate_db_pool_connections{state}``: connections in use, and kept, in the pools of
  the live workers.
"""

from __future__ import annotations

import atexit
import functools
import hmac
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from starlette.concurrency import run_in_threadpool

from otpgate.service import mailer, telemetry
from otpgate.service.context import Context
from otpgate.service.telemetry import CodeOutcome, MailOutcome

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = ["Metrics", "install", "metrics", "router", "start_exporter"]

log = logging.getLogger("otpgate.web.metrics")

_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The process's metric objects, with their labelled children cached (a label lookup
    takes a lock and builds a tuple; a dict hit costs a fraction of that)."""

    def __init__(self) -> None:
        self.requests = Counter(
            "otpgate_http_requests", "HTTP requests answered.", ["method", "route", "status"]
        )
        self.latency = Histogram(
            "otpgate_http_request_duration_seconds", "Time to answer a request.", ["route"],
            buckets=_BUCKETS,
        )
        self.code_checks = Counter(
            "otpgate_code_checks", "One-time code checks by outcome.", ["channel", "outcome"]
        )
        self.lockouts = Counter(
            "otpgate_lockouts", "Throttle locks after failures.", ["step", "scope"]
        )
        self.mail = Counter(
            "otpgate_mail_deliveries", "Security e-mail delivery attempts.", ["outcome"]
        )
        self.pool = Gauge(
            "otpgate_db_pool_connections", "Database connections of the workers' pools.",
            ["state"], multiprocess_mode="livesum",
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        # Series that exist from the start at 0, so that rates and alerts work before
        # the first event of each kind.
        self._checks: dict[tuple[str, str], Counter] = {
            (channel, outcome): self.code_checks.labels(channel, outcome)
            for channel in ("web", "api", "ssh")
            for outcome in get_args(CodeOutcome)
        }
        for step in ("code", "password"):
            for scope in ("account", "address"):
                self.lockouts.labels(step, scope)
        for mail_outcome in get_args(MailOutcome):
            self.mail.labels(mail_outcome)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            # Clients choose the method: unknown ones share one label and one cache entry.
            if method not in _METHODS:
                self.observe_request("OTHER", route, status, seconds)
                return
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    # -- otpgate.service.telemetry.Telemetry --------------------------------------------
    def code_checked(self, channel: str, outcome: CodeOutcome, username: str) -> None:
        child = self._checks.get((channel, outcome))
        if child is None:
            child = self._checks[(channel, outcome)] = self.code_checks.labels(channel, outcome)
        child.inc()

    def locked_out(self, step: str, scope: str) -> None:
        self.lockouts.labels(step, scope).inc()

    def mail_settled(self, outcome: MailOutcome) -> None:
        self.mail.labels(outcome).inc()

    def watch_pool(self, engine: Engine) -> None:
        """Keep the in-use and kept connection gauges of ``engine``'s pool current."""
        in_use = self.pool.labels("in_use")
        kept = self.pool.labels("kept")
        size = getattr(engine.pool, "size", None)
        kept.set(size() if callable(size) else 0)
        event.listen(engine, "checkout", lambda *_: in_use.inc())
        event.listen(engine, "checkin", lambda *_: in_use.dec())


@functools.cache
def metrics() -> Metrics:
    """This process's metrics (created once: they register themselves globally)."""
    return Metrics()


def install(ctx: Context) -> Metrics:
    """Count this process's service events and pool use (the app calls it when enabled)."""
    m = metrics()
    telemetry.install(m)
    m.watch_pool(ctx.session_factory.kw["bind"])
    if os.environ.get(_MULTIPROC):
        # A worker that ends (or is replaced) takes its pool gauges with it.
        atexit.register(multiprocess.mark_process_dead, os.getpid())
    return m


class _Outbox(Collector):
    """The outbox's messages by status, read at scrape time (shared by every process)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> list[Metric]:
        family = GaugeMetricFamily(
            "otpgate_mail_outbox_messages", "Security e-mails by status.", labels=["status"]
        )
        try:
            counts = mailer.outbox_counts(self.ctx)
        except Exception as exc:  # a scrape must still answer while the database is down
            log.warning("metrics: outbox not counted: %s", type(exc).__name__)
            return []
        for status, count in counts.items():
            family.add_metric([status], count)
        return [family]


def _exposition(ctx: Context) -> bytes:
    if os.environ.get(_MULTIPROC):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        shared = generate_latest(registry)
    else:
        shared = generate_latest(REGISTRY)
    outbox = CollectorRegistry(auto_describe=False)
    outbox.register(_Outbox(ctx))
    return shared + generate_latest(outbox)


def _bearer_matches(authorization: str, token: str) -> bool:
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


_REFUSAL = b"metrics: send the metrics token as a bearer token\n"
_CHALLENGE = 'Bearer realm="otpgate-metrics"'


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def scrape(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    if not _bearer_matches(request.headers.get("authorization", ""), ctx.settings.metrics_token):
        return Response(
            _REFUSAL, status_code=401, media_type="text/plain",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    body = await run_in_threadpool(_exposition, ctx)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def start_exporter(ctx: Context, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve ``GET /metrics`` (same token rule) on ``host:port`` from a thread, for a
    process that has no web app: ``otpgate pam-daemon``. Stop it with ``shutdown()``."""
    install(ctx)
    token = ctx.settings.metrics_token

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/metrics":
                self._answer(404, b"not found\n", "text/plain")
            elif not _bearer_matches(self.headers.get("Authorization", ""), token):
                self._answer(401, _REFUSAL, "text/plain", {"WWW-Authenticate": _CHALLENGE})
            else:
                self._answer(200, _exposition(ctx), CONTENT_TYPE_LATEST)

        def _answer(
            self, status: int, body: bytes, media_type: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": media_type, **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every few seconds is not worth a line

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
