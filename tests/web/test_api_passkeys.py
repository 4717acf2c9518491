"""JSON API: passkeys in a user's 2FA status, and removed by an admin reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_api_support import ApiHarness, api_harness

from otpgate.service._passkey_check import key_context
from otpgate.store import repositories as repo
from otpgate.store.db import transaction


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(engine, tmp_path) as harness:
        yield harness


def test_passkeys_are_listed_in_the_status_and_removed_by_a_reset(api: ApiHarness) -> None:
    """GET …/2fa lists the passkey (type, transports, backup flags, dates, no key material);
    POST …/2fa/reset removes it and 2FA is off."""
    user = api.user("alice")
    cred = b"credential-of-alice"
    key_id, sealed = api.ctx.keyring.seal(b"cose", context=key_context(user.id, cred))
    with transaction(api.ctx.session_factory) as s:
        repo.add_passkey(
            s, user_id=user.id, credential_id=cred, public_key_sealed=sealed, key_id=key_id,
            sign_count=3, transports="hybrid,internal", aaguid="", backup_eligible=True,
            backed_up=True, name="Phone passkey", created_at=api.ctx.now_dt(),
        )
    status = api.client.get("/api/v1/users/alice/2fa", headers=api.auth("verify")).json()
    assert status["enabled"] is True and status["authenticators"] == []
    [listed] = status["passkeys"]
    assert listed["name"] == "Phone passkey" and listed["kind"] == "passkey"
    assert listed["transports"] == ["hybrid", "internal"]
    assert listed["backup_eligible"] is True and listed["backed_up"] is True
    assert listed["last_used_at"] is None
    assert set(listed) == {"id", "name", "kind", "transports", "backup_eligible", "backed_up",
                           "created_at", "last_used_at"}
    r = api.client.post("/api/v1/users/alice/2fa/reset", headers=api.auth("admin"),
                        json={"note": "Video call, badge shown to the camera."})
    assert r.status_code == 200, r.text
    status = api.client.get("/api/v1/users/alice/2fa", headers=api.auth("verify")).json()
    assert status["passkeys"] == [] and status["enabled"] is False
