"""Health checks, request ids, the metrics endpoint's access rule, and the log formats,
on the app itself (a real database; the multi-worker server is in test_observability_serve)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from test_api_support import ApiHarness, api_harness

from live_server import free_port
from otpgate import logs
from otpgate.config import ConfigError, Settings
from otpgate.store.db import make_engine
from otpgate.web.app import OtpgateApp
from otpgate.web.request_id import request_id_from

METRICS_TOKEN = "scrape-me-please-0123456789"
HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(engine, tmp_path, metrics_token=METRICS_TOKEN) as harness:
        yield harness


# -- request ids -------------------------------------------------------------------------


@pytest.mark.parametrize("sent", ["abc-123", "Req.1:2_3", "x" * 128])
def test_a_sane_request_id_is_echoed(api: ApiHarness, sent: str) -> None:
    """A caller's X-Request-ID of 1-128 safe characters comes back unchanged."""
    r = api.client.get("/healthz", headers={"X-Request-ID": sent})
    assert r.headers["x-request-id"] == sent


@pytest.mark.parametrize("sent", ["x" * 129, "a b", 'a"b', "a\tb", "", "id;rm -rf"])
def test_an_unsafe_request_id_is_replaced(api: ApiHarness, sent: str) -> None:
    """Too long, spaces, quotes, control characters or empty: a new id instead."""
    r = api.client.get("/healthz", headers={"X-Request-ID": sent})
    assert HEX_ID.fullmatch(r.headers["x-request-id"])


def test_non_ascii_request_ids_are_replaced() -> None:
    """Bytes outside ASCII (latin-1 in a raw header) are refused before decoding."""
    assert HEX_ID.fullmatch(request_id_from([(b"x-request-id", "é".encode("latin-1"))]))


def test_each_request_gets_its_own_id(api: ApiHarness) -> None:
    """Without the header, every response has a new random id, API errors included."""
    ids = {api.client.post("/api/v1/verify", json={}).headers["x-request-id"] for _ in range(3)}
    ids.add(api.client.get("/no-such-page").headers["x-request-id"])
    assert len(ids) == 4 and all(HEX_ID.fullmatch(i) for i in ids)


def test_a_crash_keeps_its_request_id(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected error: the 500 page carries the request id, and so does the log line
    of the crash (the id is set outside Starlette's error middleware)."""
    with api_harness(engine, tmp_path) as harness:
        app = harness.client.app
        assert isinstance(app, OtpgateApp)

        def boom() -> None:
            raise RuntimeError("bug")

        app.portal.add_api_route("/boom", boom)
        seen: list[str | None] = []
        handler = _RequestIds(seen)
        logging.getLogger("otpgate.web").addHandler(handler)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                r = client.get("/boom", headers={"X-Request-ID": "crash-1"})
        finally:
            logging.getLogger("otpgate.web").removeHandler(handler)
    assert (r.status_code, r.headers["x-request-id"]) == (500, "crash-1")
    assert seen == ["crash-1"]


class _JsonLines(logging.Handler):
    """Keeps each record as the JSON line it would be written as."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class _RequestIds(logging.Handler):
    """Keeps the request id in force when each record is logged."""

    def __init__(self, seen: list[str | None]) -> None:
        super().__init__()
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        info = logs.current_request()
        self.seen.append(info.request_id if info is not None else None)


def test_access_lines_name_the_user_without_metrics(engine: Engine, tmp_path: Path) -> None:
    """The user a code check concerns shows in the request's line, metrics on or off; the
    code does not."""
    handler = _JsonLines()
    lines = handler.lines
    access = logging.getLogger("otpgate.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        with api_harness(engine, tmp_path) as harness:
            _, secret = harness.enrolled("alice")
            code = harness.code(secret)
            r = harness.client.post("/api/v1/verify", json={"username": "ALICE", "code": code},
                                    headers={**harness.auth("verify"), "X-Request-ID": "r-42"})
            assert r.status_code == 200, r.text
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    [line] = [json.loads(text) for text in lines if '"r-42"' in text]
    assert (line["user"], line["route"], line["status"]) == ("alice", "/api/v1/verify", 200)
    assert code not in "".join(lines)


# -- health ------------------------------------------------------------------------------


def test_healthz_and_readyz_on_a_working_service(api: ApiHarness) -> None:
    """Alive, and ready: database reachable, schema current, key loaded."""
    assert api.client.get("/healthz").json() == {"status": "ok"}
    r = api.client.get("/readyz")
    assert (r.status_code, r.json()) == (200, {"status": "ready"})
    assert r.headers["cache-control"] == "no-store"


def test_readyz_on_an_outdated_schema_says_only_unavailable(
    api: ApiHarness, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A schema that is not current: 503 and one word; the reason is in the log only."""
    with engine.begin() as conn:
        (revision,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        with caplog.at_level(logging.WARNING, "otpgate.web.health"):
            r = api.client.get("/readyz")
        assert (r.status_code, r.text) == (503, '{"status":"unavailable"}')
        assert "schema at 0001" in caplog.text
        assert api.client.get("/healthz").status_code == 200
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_readyz_without_a_database_is_503_without_details(tmp_path: Path) -> None:
    """A database nobody listens on: 503 {"status":"unavailable"}, no DSN, no trace."""
    engine = make_engine(f"postgresql+psycopg://otpgate:hunter2@127.0.0.1:{free_port()}/otpgate")
    try:
        with api_harness(engine, tmp_path) as harness:
            r = harness.client.get("/readyz")
            assert (r.status_code, r.text) == (503, '{"status":"unavailable"}')
            assert harness.client.get("/healthz").status_code == 200
    finally:
        engine.dispose()


# -- metrics endpoint --------------------------------------------------------------------


def test_metrics_need_the_token(api: ApiHarness) -> None:
    """No token or a wrong one: 401; the right one: the Prometheus text format."""
    assert api.client.get("/metrics").status_code == 401
    wrong = api.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "otpgate_" not in wrong.text
    r = api.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(r.text)}
    assert {"otpgate_http_requests", "otpgate_code_checks", "otpgate_mail_outbox_messages",
            "otpgate_db_pool_connections"} <= names


def test_unknown_methods_share_one_label(api: ApiHarness) -> None:
    """Methods a client makes up are counted as OTHER: no series per invented method."""

    def others() -> float:
        r = api.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        return sum(
            sample.value
            for family in text_string_to_metric_families(r.text)
            for sample in family.samples
            if sample.name == "otpgate_http_requests_total"
            and sample.labels["method"] == "OTHER"
        )

    before = others()
    for method in ("FOO1", "FOO2", "BREW"):
        api.client.request(method, "/healthz")
    r = api.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert others() - before == 3 and "FOO1" not in r.text


def test_without_a_token_there_is_no_metrics_endpoint(engine: Engine, tmp_path: Path) -> None:
    """Metrics are off by default: /metrics does not exist."""
    with api_harness(engine, tmp_path) as harness:
        assert harness.client.get("/metrics").status_code == 404


@pytest.mark.parametrize("token", ["short", "sixteen chars ok\x00", "é" * 20])
def test_a_weak_metrics_token_stops_start_up(token: str) -> None:
    """Fewer than 16 printable ASCII characters is a configuration error naming the variable."""
    with pytest.raises(ConfigError, match="OTPGATE_METRICS_TOKEN"):
        Settings.from_env({"OTPGATE_METRICS_TOKEN": token})


# -- log formats -------------------------------------------------------------------------


def _record(message: str, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord("otpgate.test", logging.INFO, __file__, 1, message, (), None)
    record.fields = fields
    return record


def test_json_lines_carry_the_request_context() -> None:
    """Inside a request: time, level, event, request id, user, client and the fields."""
    token = logs.begin_request(logs.RequestInfo("rid-1", lambda: "192.0.2.9"))
    try:
        logs.note_user("alice")
        logs.note_user("mallory")  # the first name given stays
        line = json.loads(logs.JsonFormatter().format(_record("request", status=200)))
    finally:
        logs.end_request(token)
    assert line.pop("time").endswith("+00:00")
    assert line == {"level": "info", "event": "request", "logger": "otpgate.test",
                    "request_id": "rid-1", "user": "alice", "client": "192.0.2.9",
                    "status": 200}
    outside = json.loads(logs.JsonFormatter().format(_record("idle")))
    assert "request_id" not in outside


def test_text_lines_end_with_the_fields() -> None:
    """The text format keeps the classic line and appends key=value pairs."""
    token = logs.begin_request(logs.RequestInfo("rid-2", lambda: "192.0.2.9"))
    try:
        line = logs.TextFormatter().format(_record("request", status=401))
    finally:
        logs.end_request(token)
    assert re.fullmatch(
        r"\S+ \S+ INFO otpgate.test: request status=401 request_id=rid-2 client=192.0.2.9", line
    ), line
    forged = logs.TextFormatter().format(_record("request", user="x\nINFO fake line a=b"))
    assert forged.endswith(' user="x\\nINFO fake line a=b"') and "\n" not in forged
