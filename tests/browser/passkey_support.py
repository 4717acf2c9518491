"""Chromium's virtual authenticator (WebAuthn domain of the DevTools protocol) for the
passkey tests: real keys and real signatures made by the browser, never by our code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, CDPSession, Page

__all__ = ["VirtualAuthenticator", "audit_rows", "otpgate_cli"]

_CREDENTIAL_FIELDS = (
    "credentialId", "isResidentCredential", "rpId", "privateKey", "userHandle", "signCount",
)


@dataclass
class VirtualAuthenticator:
    """A CTAP2 platform authenticator (internal transport) with resident keys and user
    verification, attached to one page."""

    cdp: CDPSession
    authenticator_id: str

    @classmethod
    def attach(cls, context: BrowserContext, page: Page) -> VirtualAuthenticator:
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }})
        return cls(cdp, added["authenticatorId"])

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})
        return list(found["credentials"])

    def add(self, credential: dict[str, Any], **changes: Any) -> None:
        """Store a copy of ``credential`` (private key included), with ``changes``."""
        fields = {k: credential[k] for k in _CREDENTIAL_FIELDS if k in credential}
        self.cdp.send("WebAuthn.addCredential", {
            "authenticatorId": self.authenticator_id, "credential": {**fields, **changes},
        })

    def remove(self, credential: dict[str, Any]) -> None:
        self.cdp.send("WebAuthn.removeCredential", {
            "authenticatorId": self.authenticator_id, "credentialId": credential["credentialId"],
        })


def otpgate_cli(home: Path, *args: str, stdin: str = "") -> str:
    """Run ``otpgate`` on the test portal's data directory; its standard output."""
    env = {**os.environ, "OTPGATE_HOME": str(home), "OTPGATE_ARGON2_TIME_COST": "1",
           "OTPGATE_ARGON2_MEMORY_KIB": "8", "OTPGATE_ARGON2_PARALLELISM": "1"}
    for name in ("OTPGATE_DATABASE_URL", "OTPGATE_SECRET_KEYS", "OTPGATE_BASE_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "otpgate", *args], input=stdin, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def audit_rows(home: Path, user: str | None, kind: str) -> list[dict[str, Any]]:
    """The audit events of this kind (about ``user``), newest first (``otpgate audit``)."""
    about = ("--user", user) if user else ()
    out = otpgate_cli(home, "audit", *about, "--kind", kind, "--json")
    return [json.loads(line) for line in out.splitlines() if line.strip()]
