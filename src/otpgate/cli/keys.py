"""``otpgate keys rotate``: seal every stored OTP secret under the newest key."""

from __future__ import annotations

import argparse
import dataclasses

from otpgate.cli._context import operator_context, operator_origin, read_settings
from otpgate.cli._errors import EXIT_BAD_INPUT, CliError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate keys …``."""
    keys = subparsers.add_parser("keys", help="manage the keys that encrypt OTP secrets")
    commands = keys.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    rotate = commands.add_parser(
        "rotate",
        help="add a new primary key and re-encrypt every secret under it",
        description="With the key file (no OTPGATE_SECRET_KEYS): add a new key at the top "
        "of the file, keeping the old ones, and re-encrypt every stored secret under it. "
        "With OTPGATE_SECRET_KEYS: put the new key first in the variable yourself, then "
        "run this to re-encrypt under it. Remove an old key only after a rotation; "
        "restart running `otpgate serve` processes so they load the new key.",
    )
    rotate.add_argument(
        "--no-new-key", action="store_true",
        help="do not add a key to the key file: finish an interrupted rotation, or catch "
        "secrets sealed under an older key since",
    )
    rotate.add_argument(
        "--batch-size", type=int, default=200, metavar="N",
        help="secrets re-encrypted per transaction (default 200)",
    )
    rotate.set_defaults(handler=_rotate)


def _rotate(args: argparse.Namespace) -> int:
    from otpgate.security.secretbox import add_key_to_file, load_keyring
    from otpgate.service import keys

    if not 1 <= args.batch_size <= 10_000:
        raise CliError("--batch-size must be between 1 and 10000", EXIT_BAD_INPUT)
    settings = read_settings()
    add_key = not settings.secret_keys and not args.no_new_key
    with operator_context(settings) as opened:
        ctx = opened
        # The context is open first: a database we cannot reach or a schema that is not
        # current stops us before the key file changes.
        old_primary = ctx.keyring.primary_id
        if add_key:
            new_primary = add_key_to_file(settings.key_file)
            ctx = dataclasses.replace(
                ctx, keyring=load_keyring(settings.secret_keys, settings.key_file)
            )
            print(f"Added key {new_primary} to {settings.key_file} as the primary key "
                  f"(the previous primary was {old_primary}; older keys are kept).")
        else:
            source = "OTPGATE_SECRET_KEYS" if settings.secret_keys else str(settings.key_file)
            print(f"Primary key {old_primary} from {source} "
                  f"({len(ctx.keyring.ids)} keys configured).")
        count = keys.rotate_keys(ctx, operator_origin(), batch_size=args.batch_size)
        codes = keys.recovery_codes_under_older_keys(ctx)
    print(f"Re-encrypted {count} secret{'s' if count != 1 else ''} "
          f"under key {ctx.keyring.primary_id}.")
    others = [kid for kid in ctx.keyring.ids if kid != ctx.keyring.primary_id]
    if others:
        again = "otpgate keys rotate" + ("" if settings.secret_keys else " --no-new-key")
        reload = (
            "Restart running otpgate processes so they use the new OTPGATE_SECRET_KEYS"
            if settings.secret_keys
            else "Running otpgate processes that read this key file pick up the new key "
            "within seconds (copy the file to other hosts first)"
        )
        print(f"Older keys still configured: {', '.join(others)}. {reload}; then run "
              f"`{again}` (it should re-encrypt 0 secrets) and you may remove the older keys.")
    if codes:
        print(f"{codes} unused recovery code{'s are' if codes != 1 else ' is'} hashed under "
              "an older key (a hash cannot be redone): removing that key makes them stop "
              "working, so have their users regenerate recovery codes first.")
    return 0
