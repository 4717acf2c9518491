"""Names and notes with control characters or bidi overrides, through the web pages and the
JSON API: a 400 with a one-line message naming the character, and nothing stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_api_support import ApiHarness, api_harness
from web_pages_support import Portal, csrf_of, portal, text_of

from db_support import Dump
from otpgate.service import enrolment

OVERRIDE = "gpj.\u202eexe"  # shows as "exe.gpj" reversed: a name that reads other than it is
ESCAPE = "checked ID card\x1b[2J\x1b[H by video call"


def _data(dump: Callable[[], Dump]) -> Dump:
    """Every table but web sessions and API tokens, whose last-use time a request moves."""
    return {t: rows for t, rows in dump().items() if t not in {"sessions", "api_tokens"}}


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(engine, tmp_path) as harness:
        yield harness


def test_security_page_refuses_a_name_with_an_override(
    web: Portal, dump: Callable[[], Dump]
) -> None:
    """Renaming an authenticator from the security page: 400, the message, no change."""
    user, _ = web.enrolled("amy")
    web.full_login("amy")
    [cred] = enrolment.list_credentials(web.ctx, user.id)
    before = _data(dump)
    page = web.submit("/security", f"/security/authenticators/{cred.id}/rename",
                      {"name": OVERRIDE})
    assert page.status_code == 400
    assert "must not contain control characters or text-direction overrides (found U+202E)" in (
        text_of(page.text)
    )
    assert _data(dump) == before


def test_admin_page_refuses_a_note_with_an_escape_sequence(
    web: Portal, dump: Callable[[], Dump]
) -> None:
    """The admin's reset form with a note holding ESC: refused at once (400, the message,
    no confirmation page), and refused too when posted as if confirmed; 2FA still on."""
    web.admin_ready()
    user, _ = web.enrolled("amy")
    before = _data(dump)
    page, action = f"/admin/users/{user.id}", f"/admin/users/{user.id}/reset-2fa"
    refused = web.submit(page, action, {"note": ESCAPE})
    assert refused.status_code == 400
    assert "(found U+001B)" in text_of(refused.text)
    assert 'id="confirm-form"' not in refused.text
    forged = web.client.post(action, data={"csrf_token": csrf_of(refused.text),
                                           "note": ESCAPE, "confirmed": "yes"})
    assert forged.status_code == 400 and "(found U+001B)" in text_of(forged.text)
    assert _data(dump) == before


def test_api_refuses_control_characters(api: ApiHarness, dump: Callable[[], Dump]) -> None:
    """Enrolment name and reset note through the JSON API: 400 invalid_input, no change."""
    api.enrolled("alice")
    admin, enrol = api.auth("admin"), api.auth("enrol")
    before = _data(dump)
    named = api.client.post("/api/v1/users/alice/enrolments", json={"name": OVERRIDE},
                            headers=enrol)
    reset = api.client.post("/api/v1/users/alice/2fa/reset", json={"note": ESCAPE},
                            headers=admin)
    for answer, found in ((named, "U+202E"), (reset, "U+001B")):
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert body["error"] == "invalid_input" and f"(found {found})" in body["message"]
    assert _data(dump) == before
