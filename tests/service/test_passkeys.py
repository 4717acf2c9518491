"""Passkeys in the service: the rules around the WebAuthn ceremonies (step-up, challenges
bound to the session and used once, policy, removal proofs, clone guard, reset).

Real signatures come from Chromium's virtual authenticator in tests/browser/test_passkeys.py;
here the answers are refused ones, and stored keys are written through the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import select

from db_support import Dump
from otpgate.relying_party import RelyingParty
from otpgate.service import admin, audit, passkey_login, passkey_removal, passkeys, web_sessions
from otpgate.service._passkey_check import key_context
from otpgate.service._webauthn import TIMEOUT_SECONDS
from otpgate.service.context import Context, Origin
from otpgate.service.errors import (
    CodeRejected,
    InvalidInput,
    LastAuthenticator,
    NotFound,
    PasskeyReason,
    PasskeyRejected,
    StepUpRequired,
)
from otpgate.service.views import UserView
from otpgate.store import repositories as repo
from otpgate.store.db import transaction
from otpgate.store.models import WebAuthnUser

from .passkey_support import stored_passkey
from .twofa import clock_of, enrol

MakeUser = Callable[..., UserView]
RP = RelyingParty(rp_id="localhost", origin="http://localhost:8000")


@pytest.fixture
def pk(ctx: Context) -> Context:
    """The context with passkeys on (RP ID localhost)."""
    return replace(ctx, settings=replace(ctx.settings, passkeys=RP))


def _session(ctx: Context, web: Origin) -> str:
    return web_sessions.start_session(ctx, web)[1].id_hash


def test_passkeys_are_refused_while_the_portal_address_does_not_allow_them(
    ctx: Context, web: Origin, make_user: MakeUser
) -> None:
    """Without a usable OTPGATE_BASE_URL, every ceremony is NOT_ALLOWED."""
    user = make_user("ann")
    sid = _session(ctx, web)
    with pytest.raises(PasskeyRejected) as refused:
        passkeys.registration_options(ctx, user.id, sid, step_up_at=ctx.now_dt())
    assert refused.value.reason is PasskeyReason.NOT_ALLOWED
    assert passkey_login.passwordless_allowed(ctx) is False


def test_registration_needs_a_fresh_step_up_and_uses_a_random_user_handle(
    pk: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump]
) -> None:
    """No step-up, no options; with one, the options carry a random 32-byte user handle
    (kept for the user, never the username) and exclude nothing yet."""
    user = make_user("ann")
    sid = _session(pk, web)
    before = dump()
    with pytest.raises(StepUpRequired):
        passkeys.registration_options(pk, user.id, sid, step_up_at=None)
    assert dump() == before
    first = json.loads(passkeys.registration_options(pk, user.id, sid, step_up_at=pk.now_dt()))
    again = json.loads(passkeys.registration_options(pk, user.id, sid, step_up_at=pk.now_dt()))
    assert first["rp"]["id"] == "localhost"
    assert first["user"]["name"] == "ann"
    assert first["user"]["id"] == again["user"]["id"]
    assert first["challenge"] != again["challenge"]
    assert first["excludeCredentials"] == []
    assert first["authenticatorSelection"]["residentKey"] == "preferred"
    with transaction(pk.session_factory) as s:
        handle = s.scalars(select(WebAuthnUser.user_handle)).one()
    assert len(handle) == 32 and b"ann" not in handle


def test_a_refused_answer_uses_the_challenge_up(
    pk: Context, web: Origin, make_user: MakeUser
) -> None:
    """A bad answer is INVALID and spends the challenge: the next try is EXPIRED, and no
    passkey is stored."""
    user = make_user("ann")
    sid = _session(pk, web)
    passkeys.registration_options(pk, user.id, sid, step_up_at=pk.now_dt())
    for answer, reason in (('{"id": "x"}', PasskeyReason.INVALID),
                           ('{"id": "x"}', PasskeyReason.EXPIRED)):
        with pytest.raises(PasskeyRejected) as refused:
            passkeys.register_passkey(pk, web, user.id, sid, answer, "Key",
                                      step_up_at=pk.now_dt())
        assert refused.value.reason is reason
    assert passkeys.list_passkeys(pk, user.id) == []


@pytest.mark.parametrize("answer", ["", "[1]", "not json", "{" * 20_000, None, 7])
def test_malformed_answers_are_invalid(
    pk: Context, web: Origin, make_user: MakeUser, answer: object
) -> None:
    """Anything but a JSON object of sane size is refused before any verification."""
    user = make_user("ann")
    sid = _session(pk, web)
    passkeys.registration_options(pk, user.id, sid, step_up_at=pk.now_dt())
    with pytest.raises(PasskeyRejected) as refused:
        passkeys.register_passkey(pk, web, user.id, sid, answer, "Key", step_up_at=pk.now_dt())
    assert refused.value.reason is PasskeyReason.INVALID


def test_a_challenge_belongs_to_its_session_purpose_and_time(
    pk: Context, web: Origin, make_user: MakeUser
) -> None:
    """Another session, another purpose, or a challenge older than the timeout: EXPIRED."""
    user = make_user("ann")
    stored_passkey(pk, user.id)
    mine, other = _session(pk, web), _session(pk, web)
    passkeys.registration_options(pk, user.id, mine, step_up_at=pk.now_dt())
    with pytest.raises(PasskeyRejected) as refused:
        passkey_login.verify_passkey(pk, web, user.id, mine, '{"id": "x"}')
    assert refused.value.reason is PasskeyReason.EXPIRED  # a registration challenge
    passkey_login.second_step_options(pk, user.id, mine)
    with pytest.raises(PasskeyRejected) as refused:
        passkey_login.verify_passkey(pk, web, user.id, other, '{"id": "x"}')
    assert refused.value.reason is PasskeyReason.EXPIRED  # not this session's
    clock_of(pk).advance(TIMEOUT_SECONDS + 1)
    with pytest.raises(PasskeyRejected) as refused:
        passkey_login.verify_passkey(pk, web, user.id, mine, '{"id": "x"}')
    assert refused.value.reason is PasskeyReason.EXPIRED  # too old
    failed = audit.query_audit(pk, kind="login.passkey_failed")
    assert {e.detail["reason"] for e in failed} == {"expired"}


def test_second_step_options_list_the_users_keys(
    pk: Context, web: Origin, make_user: MakeUser
) -> None:
    """A user without passkeys gets UNKNOWN; with one, the options allow just that key."""
    user = make_user("ann")
    sid = _session(pk, web)
    with pytest.raises(PasskeyRejected) as refused:
        passkey_login.second_step_options(pk, user.id, sid)
    assert refused.value.reason is PasskeyReason.UNKNOWN
    stored_passkey(pk, user.id)
    options = json.loads(passkey_login.second_step_options(pk, user.id, sid))
    assert [c["transports"] for c in options["allowCredentials"]] == [["internal"]]
    assert options["rpId"] == "localhost"


def test_passwordless_sign_in_follows_the_policy(
    pk: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """Off by default; once allowed, the options ask for user verification and any
    discoverable key; the change is audited."""
    sid = _session(pk, web)
    with pytest.raises(PasskeyRejected) as refused:
        passkey_login.passwordless_options(pk, sid)
    assert refused.value.reason is PasskeyReason.NOT_ALLOWED
    admin.set_policy(pk, cli, None, require_all=False, require_admins=False,
                     issuer="otpgate", passwordless=True)
    assert passkey_login.passwordless_allowed(pk)
    options = json.loads(passkey_login.passwordless_options(pk, sid))
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == []
    [changed] = audit.query_audit(pk, kind="policy.changed")
    assert changed.detail["new"]["passwordless"] is True
    # Saving the policy without the flag keeps it.
    admin.set_policy(pk, cli, None, require_all=True, require_admins=False, issuer="otpgate")
    assert admin.get_policy(pk).passwordless is True


def test_a_passkey_turns_2fa_on_and_counts_for_the_policy(
    pk: Context, web: Origin, make_user: MakeUser
) -> None:
    """A user whose only second factor is a passkey has 2FA on."""
    user = make_user("ann")
    stored_passkey(pk, user.id)
    from otpgate.service import users

    assert users.get_user(pk, user.id).has_2fa


def test_rename_a_passkey(pk: Context, web: Origin, make_user: MakeUser) -> None:
    """A new name is stored and audited; an empty name or another user's key is refused."""
    ann, bob = make_user("ann"), make_user("bob")
    key = stored_passkey(pk, ann.id)
    view = passkeys.rename_passkey(pk, web, ann.id, key, "  Office   key ")
    assert view.name == "Office key" and view.kind == "security_key"
    with pytest.raises(InvalidInput):
        passkeys.rename_passkey(pk, web, ann.id, key, "   ")
    with pytest.raises(NotFound):
        passkeys.rename_passkey(pk, web, bob.id, key, "Mine now")
    [renamed] = audit.query_audit(pk, kind="passkey.renamed")
    assert renamed.detail == {"passkey_id": key, "old": "Laptop", "name": "Office key"}


def test_removing_a_passkey_needs_another_factor(
    pk: Context, web: Origin, make_user: MakeUser
) -> None:
    """With an authenticator too: a step-up and a code from it; a wrong code keeps the key."""
    user = make_user("ann")
    key = stored_passkey(pk, user.id)
    phone = enrol(pk, web, user.id)
    sid = _session(pk, web)
    with pytest.raises(StepUpRequired):
        passkey_removal.remove_passkey(pk, web, user.id, sid, key, step_up_at=None,
                                       code=phone.code(pk))
    with pytest.raises(InvalidInput):
        passkey_removal.remove_passkey(pk, web, user.id, sid, key, step_up_at=pk.now_dt())
    with pytest.raises(CodeRejected):
        passkey_removal.remove_passkey(pk, web, user.id, sid, key, step_up_at=pk.now_dt(),
                                code="000000" if phone.code(pk) != "000000" else "111111")
    assert len(passkeys.list_passkeys(pk, user.id)) == 1
    passkey_removal.remove_passkey(pk, web, user.id, sid, key, step_up_at=pk.now_dt(),
                            code=phone.code(pk))
    assert passkeys.list_passkeys(pk, user.id) == []
    [removed] = audit.query_audit(pk, kind="passkey.removed")
    assert removed.detail == {"passkey_id": key, "name": "Laptop"}


def test_the_last_factor_goes_only_with_the_password_and_the_key(
    pk: Context, web: Origin, make_user: MakeUser
) -> None:
    """The only passkey of an account without authenticators: LastAuthenticator without the
    password and the key's answer; a bad answer keeps it."""
    user = make_user("ann")
    key = stored_passkey(pk, user.id)
    sid = _session(pk, web)
    with pytest.raises(LastAuthenticator):
        passkey_removal.remove_passkey(pk, web, user.id, sid, key, step_up_at=pk.now_dt(),
                                code="123456")
    options = json.loads(passkey_removal.removal_options(pk, user.id, sid, key, step_up_at=None))
    assert len(options["allowCredentials"]) == 1
    with pytest.raises(PasskeyRejected):
        passkey_removal.remove_passkey(pk, web, user.id, sid, key, step_up_at=None,
                                password="correct horse battery", response='{"id": "x"}')
    assert len(passkeys.list_passkeys(pk, user.id)) == 1


def test_sign_count_guard(pk: Context, make_user: MakeUser) -> None:
    """The counter only grows (0 after 0 is a key without a counter); one UPDATE decides."""
    user = make_user("ann")
    key = stored_passkey(pk, user.id, count=5)
    zero = stored_passkey(pk, user.id, name="Synced", count=0)
    now = pk.now_dt()
    with transaction(pk.session_factory) as s:
        assert repo.advance_sign_count(s, key, 6, now=now, backed_up=False)
        assert not repo.advance_sign_count(s, key, 6, now=now, backed_up=False)
        assert not repo.advance_sign_count(s, key, 0, now=now, backed_up=False)
        assert not repo.advance_sign_count(s, key, 3, now=now, backed_up=False)
        assert repo.advance_sign_count(s, zero, 0, now=now, backed_up=True)
        assert repo.advance_sign_count(s, zero, 0, now=now, backed_up=True)
        assert not repo.advance_sign_count(s, 10_000, 9, now=now, backed_up=False)


def test_reset_and_switch_off_remove_passkeys(
    pk: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """An admin reset removes the user's passkeys and says how many in the audit row."""
    user = make_user("ann")
    stored_passkey(pk, user.id)
    stored_passkey(pk, user.id, name="Phone")
    admin.reset_2fa(pk, cli, None, user.id, "Checked the passport at the desk.")
    assert passkeys.list_passkeys(pk, user.id) == []
    [reset] = audit.query_audit(pk, kind="2fa.reset")
    assert reset.detail["passkeys"] == 2


def test_a_public_key_moved_to_another_user_does_not_open(
    pk: Context, web: Origin, make_user: MakeUser
) -> None:
    """The sealed public key is bound to its owner and credential id."""
    ann, bob = make_user("ann"), make_user("bob")
    key = stored_passkey(pk, ann.id)
    with transaction(pk.session_factory) as s:
        row = repo.get_passkey(s, key)
        assert row is not None
        assert b"cose-key" not in row.public_key_sealed
        opened = pk.keyring.open(row.key_id, row.public_key_sealed,
                                 context=key_context(ann.id, row.credential_id))
        assert opened == b"cose-key"
        from otpgate.security.errors import DecryptionFailed

        with pytest.raises(DecryptionFailed):
            pk.keyring.open(row.key_id, row.public_key_sealed,
                            context=key_context(bob.id, row.credential_id))


def test_key_rotation_reseals_passkey_public_keys(
    pk: Context, cli: Origin, make_user: MakeUser
) -> None:
    """``keys rotate`` moves passkeys to the new primary key too; they still open for
    their owner, so the old key can go."""
    from otpgate.security.secretbox import KeyRing
    from otpgate.service import keys

    from .conftest import TEST_KEY, TEST_KEY_ID

    user = make_user("ann")
    key = stored_passkey(pk, user.id)
    rotated = replace(pk, keyring=KeyRing([("k2", bytes(32)), (TEST_KEY_ID, TEST_KEY)]))
    assert keys.rotate_keys(rotated, cli) == 1
    only_new = KeyRing([("k2", bytes(32))])
    with transaction(pk.session_factory) as s:
        row = repo.get_passkey(s, key)
        assert row is not None and row.key_id == "k2"
        assert only_new.open("k2", row.public_key_sealed,
                             context=key_context(user.id, row.credential_id)) == b"cose-key"


def test_forward_auth_and_the_policy_take_a_passkey_as_the_second_factor(
    pk: Context, web: Origin, cli: Origin, make_user: MakeUser
) -> None:
    """A full session of a passkey-only user passes a site that requires 2FA, and the
    "2FA for everyone" policy does not send them to enrol."""
    from otpgate.service import login, site_access

    user = make_user("ann")
    stored_passkey(pk, user.id)
    admin.set_policy(pk, cli, None, require_all=True, require_admins=True, issuer="otpgate")
    step = login.check_password(pk, web, "ann", "correct horse battery")
    assert step.needs_second_factor and not step.must_enrol
    token, _ = web_sessions.rotate_session(pk, web, None, level="full", user_id=user.id)
    identity = site_access.session_identity(pk, token, require_2fa=True)
    assert identity is not None and identity.user.username == "ann"


@pytest.mark.parametrize("bad_id", [True, "1", 0, -3, 2**63, None])
def test_bad_ids_and_names_are_invalid_input_and_change_nothing(
    pk: Context, web: Origin, make_user: MakeUser, dump: Callable[[], Dump], bad_id: object
) -> None:
    """A passkey id that is not a positive integer, a name that is not text, or a missing
    web session: InvalidInput, and the database stays as it was."""
    user = make_user("ann")
    stored_passkey(pk, user.id)
    before = dump()
    with pytest.raises(InvalidInput):
        passkeys.rename_passkey(pk, web, user.id, bad_id, "New")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        passkey_removal.removal_options(pk, user.id, "sid", bad_id,  # type: ignore[arg-type]
                                 step_up_at=pk.now_dt())
    if not isinstance(bad_id, str):  # any text is a name, or the id of an unknown session
        with pytest.raises(InvalidInput):
            passkeys.register_passkey(pk, web, user.id, "sid", "{}", bad_id,
                                      step_up_at=pk.now_dt())
        with pytest.raises(InvalidInput):
            passkey_login.second_step_options(pk, user.id, bad_id)  # type: ignore[arg-type]
    assert dump() == before


def test_racing_assertions_with_one_counter_are_accepted_once(
    pk: Context, make_user: MakeUser
) -> None:
    """Eight transactions, in eight threads, record the same counter: exactly one wins."""
    from concurrent.futures import ThreadPoolExecutor

    user = make_user("ann")
    key = stored_passkey(pk, user.id, count=5)

    def attempt(_: int) -> bool:
        with transaction(pk.session_factory) as s:
            return repo.advance_sign_count(s, key, 9, now=pk.now_dt(), backed_up=False)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8), timeout=60))
    assert results.count(True) == 1
