"""Small, reviewed wrappers of argon2-cffi and cryptography.

Passwords (argon2id), the secret box (AES-256-GCM under a rotatable key ring) and random
tokens with their hashes. Replay protection, throttling and single use are the callers'
job: this layer has no state besides the key file.
"""

from __future__ import annotations

from otpgate.security.errors import (
    DecryptionFailed,
    InvalidKeyConfig,
    InvalidPasswordHash,
    MalformedToken,
    PasswordMismatch,
    SecurityError,
    WeakPassword,
)
from otpgate.security.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PasswordHasher,
    check_password_strength,
)
from otpgate.security.secretbox import KEY_BYTES, KeyRing, add_key_to_file, load_keyring, new_key
from otpgate.security.tokens import (
    RECOVERY_ALPHABET,
    RECOVERY_CODE_BITS,
    hash_recovery_code,
    hash_token,
    keyed_recovery_hash,
    new_recovery_code,
    new_token,
    normalise_recovery_code,
    tokens_equal,
)

__all__ = [
    "KEY_BYTES",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "RECOVERY_ALPHABET",
    "RECOVERY_CODE_BITS",
    "DecryptionFailed",
    "InvalidKeyConfig",
    "InvalidPasswordHash",
    "KeyRing",
    "MalformedToken",
    "PasswordHasher",
    "PasswordMismatch",
    "SecurityError",
    "WeakPassword",
    "add_key_to_file",
    "check_password_strength",
    "hash_recovery_code",
    "hash_token",
    "keyed_recovery_hash",
    "load_keyring",
    "new_key",
    "new_recovery_code",
    "new_token",
    "normalise_recovery_code",
    "tokens_equal",
]
