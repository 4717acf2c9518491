"""Schemathesis against a real ``otpgate serve``: property-based requests generated from the
OpenAPI document, valid and invalid, on SQLite and PostgreSQL.

Every response must be a non-5xx status the operation declares, with the declared content
type and a body matching the declared schema. The run is bounded (examples per operation,
a fixed seed) and prints how many cases it sent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from db_support import new_postgres_database
from live_server import live_server, seed, server_env

pytestmark = pytest.mark.slow

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
MAX_EXAMPLES = 40
SEED = 20261206
# Known names and ids most of the time, so that requests reach past "no such user" into
# enrolment, reset, bypass and verification; random ones the rest of the time.
CONFIG = """
[dictionaries.users]
values = ["alice", "ALICE", "nobody"]
[dictionaries.ids]
values = [1, 2]
[parameters]
"path.username" = { dictionary = "users", probability = 0.7 }
"path.credential_id" = { dictionary = "ids", probability = 0.7 }
"body.username" = { dictionary = "users", probability = 0.7 }
"""


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    assert found, "schemathesis is part of the test extra"
    return found


def _fuzz(home: Path, database_url: str = "") -> dict[str, object]:
    env = server_env(home / "data", database_url)
    token = seed(env).token
    config = home / "schemathesis.toml"
    config.write_text(CONFIG)
    report = home / "report.json"
    with live_server(env) as server:
        run = subprocess.run(
            [
                _st(), "--config-file", str(config), "run", f"{server.base}/openapi.json",
                "--header", f"Authorization: Bearer {token}",
                "--checks", ",".join(CHECKS),
                "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
                "--workers", "1", "--request-timeout", "10", "--continue-on-failure",
                "--report", "json", "--report-json-path", str(report), "--no-color",
            ],
            # In the test's directory: schemathesis keeps a cache where it runs.
            capture_output=True, text=True, timeout=300, check=False, cwd=home,
        )
        crashes = [line for line in server.stderr if "Traceback" in line]
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert not crashes, "".join(server.stderr)[-4000:]
    result: dict[str, object] = json.loads(report.read_text())
    return result


def _check_report(result: dict[str, object], backend: str) -> None:
    operations = result["operations"]
    cases = result["test_cases"]
    assert isinstance(operations, dict) and isinstance(cases, dict)
    assert result["failures"] == [] and result["errors"] == []
    # Every operation of the document was exercised (8 today: verify, enrolment start and
    # confirm, status, reset, bypass, resync, audit).
    assert operations["tested"] == operations["total"] >= 8
    assert cases["with_failures"] == 0 and cases["errored"] == 0
    assert isinstance(cases["generated"], int) and cases["generated"] >= 200
    print(f"\nschemathesis on {backend}: {cases['generated']} cases over "
          f"{operations['tested']} operations, 0 failures")


def test_api_fuzz_sqlite(tmp_path: Path) -> None:
    """Generated requests on SQLite get no 5xx and only declared statuses, types, bodies."""
    _check_report(_fuzz(tmp_path), "SQLite")


@pytest.mark.postgres
def test_api_fuzz_postgres(tmp_path: Path, pg_server_url: str) -> None:
    """The same on PostgreSQL (a database of its own: the run changes what it holds)."""
    admin = make_url(pg_server_url).set(database="postgres")
    with new_postgres_database(admin, "otpgate_fuzz") as url:
        _check_report(_fuzz(tmp_path, url), "PostgreSQL")
