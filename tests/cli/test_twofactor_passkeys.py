"""``otpgate 2fa status|reset`` with passkeys."""

from __future__ import annotations

from collections.abc import Callable

from otpgate.service import passkeys, users
from otpgate.service.context import Context
from service.passkey_support import stored_passkey

from .conftest import PASSWORD, Run


def test_status_lists_passkeys_and_reset_removes_them(
    run: Run, service_ctx: Callable[[], Context]
) -> None:
    """A passkey-only account shows 2FA on with its passkey; a reset removes it."""
    run("user", "add", "bob", stdin=PASSWORD + "\n")
    ctx = service_ctx()
    bob = users.find_user(ctx, "bob")
    stored_passkey(ctx, bob.id, name="YubiKey 5")
    result = run("2fa", "status", "bob")
    assert result.code == 0, result.err
    assert "Two-factor:      on" in result.out
    assert "PASSKEY" in result.out and "YubiKey 5" in result.out
    assert "security key" in result.out and "this device" in result.out
    reset = run("2fa", "reset", "bob", "--note", "called back on the phone number on file")
    assert reset.code == 0 and "passkeys" in reset.out
    assert passkeys.list_passkeys(ctx, bob.id) == []
