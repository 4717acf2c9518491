"""The WebAuthn ceremonies through py_webauthn: options for the browser, checks of its answers.

Nothing here parses CBOR or COSE by hand, keeps state or touches the database: the
callers (:mod:`otpgate.service.passkeys`, :mod:`otpgate.service.passkey_login`) keep the
challenge, the stored key and the counter, and decide what a result means.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from otpgate.relying_party import RelyingParty
from otpgate.service.errors import PasskeyReason, PasskeyRejected

__all__ = [
    "MAX_RESPONSE_CHARS",
    "TIMEOUT_SECONDS",
    "Assertion",
    "KnownKey",
    "NewKey",
    "Verified",
    "assertion_options",
    "parse_assertion",
    "registration_options",
    "verify_assertion",
    "verify_new_key",
]

TIMEOUT_SECONDS = 180
# A browser's answer is a few hundred bytes (attestation "none"); far more is not one.
MAX_RESPONSE_CHARS = 16_000
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


@dataclass(frozen=True)
class KnownKey:
    """A stored credential, as the options name it (exclude / allow lists)."""

    credential_id: bytes
    transports: tuple[str, ...]


@dataclass(frozen=True)
class NewKey:
    """A verified registration: what is stored of the new credential."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: tuple[str, ...]
    aaguid: str
    backup_eligible: bool
    backed_up: bool


@dataclass(frozen=True)
class Assertion:
    """A browser's answer to a sign-in challenge, parsed but not yet verified."""

    credential_id: bytes
    user_handle: bytes | None
    parsed: AuthenticationCredential


@dataclass(frozen=True)
class Verified:
    """What a verified assertion says: its counter and the key's backup state."""

    sign_count: int
    backed_up: bool


def _descriptors(keys: Sequence[KnownKey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=k.credential_id,
            transports=[AuthenticatorTransport(t) for t in k.transports if t in _TRANSPORTS],
        )
        for k in keys
    ]


def registration_options(  # noqa: PLR0917
    rp: RelyingParty,
    rp_name: str,
    user_handle: bytes,
    username: str,
    display_name: str,
    existing: Sequence[KnownKey],
) -> tuple[str, bytes]:
    """``navigator.credentials.create`` options as JSON, and their challenge.

    Discoverable credentials (passkeys) are preferred, so the key can also sign in
    without the password; the key's own user verification is preferred, and required
    only where it replaces the password. Keys already registered are excluded.
    """
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp_name,
        user_name=username,
        user_id=user_handle,
        user_display_name=display_name or username,
        timeout=TIMEOUT_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return options_to_json(options), options.challenge


def assertion_options(
    rp: RelyingParty, allowed: Sequence[KnownKey], *, verify_user: bool
) -> tuple[str, bytes]:
    """``navigator.credentials.get`` options as JSON, and their challenge.

    An empty ``allowed`` asks for any discoverable credential of this RP (sign-in
    without a username); ``verify_user`` then requires the key's PIN or biometrics.
    """
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        timeout=TIMEOUT_SECONDS * 1000,
        allow_credentials=_descriptors(allowed),
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if verify_user
            else UserVerificationRequirement.PREFERRED
        ),
    )
    return options_to_json(options), options.challenge


def _json_object(text: object) -> str:
    if not isinstance(text, str) or not text or len(text) > MAX_RESPONSE_CHARS:
        raise PasskeyRejected(PasskeyReason.INVALID)
    try:
        if not isinstance(json.loads(text), dict):
            raise PasskeyRejected(PasskeyReason.INVALID)
    except ValueError:
        raise PasskeyRejected(PasskeyReason.INVALID) from None
    return text


def verify_new_key(
    rp: RelyingParty, response: object, challenge: bytes, *, verify_user: bool = False
) -> NewKey:
    """Check a ``navigator.credentials.create`` answer against the challenge, origin and
    RP ID; :class:`PasskeyRejected` (``INVALID``) if any check fails."""
    text = _json_object(response)
    try:
        parsed = parse_registration_credential_json(text)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            require_user_verification=verify_user,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyRejected(PasskeyReason.INVALID) from None
    transports = tuple(str(t.value) for t in (parsed.response.transports or []))
    return NewKey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
        aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type is CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
    )


def parse_assertion(response: object) -> Assertion:
    """The credential id and user handle of a ``navigator.credentials.get`` answer, to
    find the stored key; :class:`PasskeyRejected` (``INVALID``) if it is not one."""
    text = _json_object(response)
    try:
        parsed = parse_authentication_credential_json(text)
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyRejected(PasskeyReason.INVALID) from None
    return Assertion(parsed.raw_id, parsed.response.user_handle, parsed)


def verify_assertion(
    rp: RelyingParty,
    assertion: Assertion,
    challenge: bytes,
    public_key: bytes,
    *,
    verify_user: bool,
) -> Verified:
    """Check the assertion's challenge, origin, RP ID, flags and signature.

    The signature counter is *not* compared here (the library would compare it before
    the signature): the caller compares it, atomically, once the signature is known to
    be the key's, so that only a genuine signature can report a cloned key.
    """
    try:
        verified = verify_authentication_response(
            credential=assertion.parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=0,
            require_user_verification=verify_user,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyRejected(PasskeyReason.INVALID) from None
    return Verified(sign_count=verified.new_sign_count, backed_up=verified.credential_backed_up)
