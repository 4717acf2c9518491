"""The WebAuthn relying party (passkeys) derived from the portal's public address.

Browsers sign the page's origin and the RP ID into every passkey ceremony, so both must
be the portal's real address: they come from ``OTPGATE_BASE_URL`` (and, to share passkeys
with sibling subdomains, ``OTPGATE_WEBAUTHN_RP_ID``, a domain the portal's host is under).
A value that cannot work stops the program at start-up, naming the variable; without a
usable address passkeys are simply off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["RelyingParty", "relying_party"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RelyingParty:
    """Where passkey ceremonies happen: the RP ID and the one origin accepted."""

    rp_id: str = ""
    origin: str = ""
    # Why passkeys are off, for the start-up log ("" when they are on).
    off_reason: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.rp_id)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _secure_context(scheme: str, host: str) -> bool:
    # Browsers offer WebAuthn on https, and on http only for localhost.
    return scheme == "https" or host == "localhost" or host.endswith(".localhost")


def relying_party(env: Mapping[str, str], base_url: str) -> RelyingParty:
    """The relying party of ``base_url``; ValueError naming the variable at fault."""
    wanted = env.get("OTPGATE_WEBAUTHN_RP_ID", "").strip().lower().removeprefix(".")
    if not base_url:
        if wanted:
            raise ValueError(
                "OTPGATE_WEBAUTHN_RP_ID needs OTPGATE_BASE_URL, the portal's public address"
            )
        return RelyingParty(off_reason="OTPGATE_BASE_URL is not set")
    parts = urlsplit(base_url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(
            f"OTPGATE_BASE_URL must be an http:// or https:// address, got {base_url!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"OTPGATE_BASE_URL has a bad port: {base_url!r}") from None
    problem = _problem(scheme, host)
    if problem:
        if wanted:
            raise ValueError(f"OTPGATE_WEBAUTHN_RP_ID is set but {problem} ({base_url})")
        return RelyingParty(off_reason=problem)
    rp_id = wanted or host
    if host != rp_id and not host.endswith("." + rp_id):
        raise ValueError(
            f"OTPGATE_WEBAUTHN_RP_ID {rp_id!r} does not match the portal's address "
            f"{base_url} (OTPGATE_BASE_URL): it must be {host!r} or a domain above it"
        )
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return RelyingParty(rp_id=rp_id, origin=f"{scheme}://{netloc}")


def _problem(scheme: str, host: str) -> str:
    if _is_ip(host):
        return "passkeys need a host name in OTPGATE_BASE_URL, not an IP address"
    if not _secure_context(scheme, host):
        return "passkeys need an https:// OTPGATE_BASE_URL (or http://localhost)"
    return ""
