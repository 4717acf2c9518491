"""``otpgate serve --workers 2 --log-format json --access-log`` with metrics on: real
requests, a real scrape parsed by prometheus_client, and every log line parsed as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx2
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from db_support import new_postgres_database
from live_server import PASSWORD, LiveServer, Seed, live_server, seed, server_env

pytestmark = pytest.mark.slow

METRICS_TOKEN = "scraper-token-0123456789abcdef"
POSTGRES = pytest.mark.postgres
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=POSTGRES)])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Seed, Path]]:
    home = tmp_path_factory.mktemp("observed")
    metrics_dir = home / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")
    with ExitStack() as stack:
        database_url = ""
        if request.param == "postgres":
            admin = make_url(request.getfixturevalue("pg_server_url")).set(database="postgres")
            database_url = stack.enter_context(new_postgres_database(admin, "otpgate_obs"))
        env = server_env(
            home / "data",
            database_url,
            OTPGATE_METRICS_TOKEN=METRICS_TOKEN,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )
        user = seed(env)
        server = stack.enter_context(live_server(
            env, "--workers", "2", "--log-format", "json", "--access-log", ready_path="/healthz"
        ))
        yield server, user, metrics_dir


def _scrape(server: LiveServer) -> Samples:
    r = httpx2.get(f"{server.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _verify(server: LiveServer, user: Seed, body: dict[str, str]) -> httpx2.Response:
    # A new connection per request: the kernel hands connections to either worker.
    return httpx2.post(
        f"{server.base}/api/v1/verify", json=body,
        headers={"Authorization": f"Bearer {user.token}", "X-Request-ID": "fuzz-me-not.1"},
    )


def test_counters_add_up_across_workers(served: tuple[LiveServer, Seed, Path]) -> None:
    """Code checks by outcome, lockouts, requests by route template and status, latency and
    pool gauges, summed over both workers, move by exactly what was sent."""
    server, user, metrics_dir = served
    assert not (metrics_dir / "counter_1.db").exists()  # emptied at start
    before = _scrape(server)

    statuses = [_verify(server, user, {"username": "alice", "code": user.code()}).status_code]
    for bad in ("12a456", "12345", "١٢٣٤٥٦"):
        statuses.append(_verify(server, user, {"username": "alice", "code": bad}).status_code)
    wrong = f"{(int(user.code()) + 500_000) % 1_000_000:06d}"
    for _ in range(8):
        statuses.append(_verify(server, user, {"username": "alice", "code": wrong}).status_code)
        if statuses[-1] == 423:
            break
    with ThreadPoolExecutor(8) as pool:
        health = list(pool.map(lambda _: httpx2.get(f"{server.base}/healthz"), range(40)))
    after = _scrape(server)

    assert statuses[:4] == [200, 400, 400, 400] and statuses[-1] == 423, statuses
    wrongs = statuses.count(401)
    assert wrongs == 3  # three free failures per (account, address), then the lock

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    checks = "otpgate_code_checks_total"
    assert delta(checks, channel="api", outcome="ok") == 1
    assert delta(checks, channel="api", outcome="malformed") == 3
    assert delta(checks, channel="api", outcome="wrong") == wrongs
    assert delta(checks, channel="api", outcome="locked") == 1
    assert delta("otpgate_lockouts_total", step="code", scope="address") == 1
    requests = "otpgate_http_requests_total"
    route = "/api/v1/verify"
    for status, count in ((200, 1), (400, 3), (401, wrongs), (423, 1)):
        assert delta(requests, method="POST", route=route, status=str(status)) == count
    assert delta(requests, method="GET", route="/healthz", status="200") == len(health) == 40
    latency = "otpgate_http_request_duration_seconds_count"
    assert delta(latency, route=route) == len(statuses)
    assert _value(after, "otpgate_http_request_duration_seconds_bucket", route=route,
                  le="+Inf") == _value(after, latency, route=route)
    # Each worker keeps 8 connections: the live workers' gauges are added up.
    assert _value(after, "otpgate_db_pool_connections", state="kept") == 16
    assert _value(after, "otpgate_mail_outbox_messages", status="queued") == 0

    # Both workers answered some of these requests, and the scrape added both up.
    per_worker = {
        path.name: sum(
            value for key, value, *_ in MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
            # Scrapes are left out: each is counted just after it is answered.
            if key.startswith('["otpgate_http_requests", ') and '"/metrics"' not in key
        )
        for path in metrics_dir.glob("counter_*.db")
    }
    assert len([n for n in per_worker.values() if n > 0]) == 2, per_worker
    total = sum(
        v for (name, labels), v in after.items()
        if name == requests and ("route", "/metrics") not in labels
    )
    assert sum(per_worker.values()) == total


def test_log_lines_are_json_with_context_and_no_secrets(
    served: tuple[LiveServer, Seed, Path],
) -> None:
    """Every standard-error line is one JSON object; request lines carry the request id
    (the caller's, or a new one for an unsafe id), user and client address; no code,
    password or token that was sent shows anywhere."""
    server, user, _ = served
    code = user.code(1)
    sent = [
        _verify(server, user, {"username": "alice", "password": PASSWORD, "code": code}),
        httpx2.get(f"{server.base}/readyz", headers={"X-Request-ID": "bad id with spaces"}),
        httpx2.get(f"{server.base}/setup", params={"token": "one-time-setup-token-xyz"}),
    ]
    server.proc.terminate()  # flush and close: every line is written
    server.proc.wait(timeout=15)
    lines = [json.loads(line) for line in server.stderr]  # each line is JSON
    assert all({"time", "level", "event", "logger"} <= set(line) for line in lines)
    requests = [line for line in lines if line["event"] == "request"]
    verify = [line for line in requests if line["request_id"] == "fuzz-me-not.1"]
    assert verify and all(
        line["user"] == "alice" and line["client"] == "127.0.0.1"
        and line["route"] == "/api/v1/verify" for line in verify
    )
    readyz = [line for line in requests if line["route"] == "/readyz"]
    assert readyz[-1]["request_id"] == sent[1].headers["x-request-id"] != "bad id with spaces"
    assert sent[0].headers["x-request-id"] == "fuzz-me-not.1"
    text = "".join(server.stderr)
    for secret in (PASSWORD, code, user.token, METRICS_TOKEN, user.secret,
                   "one-time-setup-token-xyz", "12a456"):
        assert secret not in text, secret
