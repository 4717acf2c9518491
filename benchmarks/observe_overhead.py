"""What the observability middleware adds to each request (not a test).

Run: ``.venv/bin/python benchmarks/observe_overhead.py [--requests N] [--repeats R]``.

A trivial ASGI endpoint (it answers 200 with a 2-byte body, as a routed request would
leave ``scope["route"]``) is called directly, then through
:class:`otpgate.web.observe.ObserveMiddleware` without metrics (request id, log context,
the response header), with metrics kept in memory (one worker), and with metrics kept in
``PROMETHEUS_MULTIPROC_DIR`` files (several workers; measured in a child process, since
prometheus_client chooses its storage when first imported). The access log is off, as by
default. Prints microseconds per request (median of the repeats) and the difference to
the bare endpoint. Nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otpgate.web.observe import ObserveMiddleware


class _Route:
    path = "/api/v1/verify"


async def _endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = _Route
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _scope() -> dict[str, Any]:
    return {
        "type": "http", "method": "POST", "path": "/api/v1/verify", "client": ("127.0.0.1", 1),
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                    (b"authorization", b"Bearer otpg_x"), (b"content-length", b"40")],
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


async def _loop(app: ASGIApp, requests: int) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        await app(_scope(), _receive, _send)
    return (time.perf_counter() - started) / requests * 1e6


def _measure(app: ASGIApp, requests: int, repeats: int) -> float:
    return statistics.median(asyncio.run(_loop(app, requests)) for _ in range(repeats))


def _apps(with_metrics: bool) -> dict[str, ASGIApp]:
    apps: dict[str, ASGIApp] = {"bare endpoint": _endpoint}
    if not with_metrics:
        apps["request id + log context"] = ObserveMiddleware(_endpoint, trust_proxy_headers=False)
    from otpgate.web.metrics import metrics

    label = "multiprocess files" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "in memory"
    apps[f"+ metrics ({label})"] = ObserveMiddleware(
        _endpoint, trust_proxy_headers=False, metrics=metrics()
    )
    return apps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    results = {name: _measure(app, args.requests, args.repeats)
               for name, app in _apps(args.child).items()}
    base = results.pop("bare endpoint")
    if not args.child:
        print(f"{'path':<36} {'µs/request':>10} {'added µs':>9}")
        print(f"{'bare endpoint':<36} {base:>10.2f} {'':>9}")
    for name, micros in results.items():
        print(f"{name:<36} {micros:>10.2f} {micros - base:>9.2f}")
    if not args.child:
        with tempfile.TemporaryDirectory() as directory:
            env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
            subprocess.run(
                [sys.executable, __file__, "--child", "--requests", str(args.requests),
                 "--repeats", str(args.repeats)],
                env=env, check=True,
            )


if __name__ == "__main__":
    main()
