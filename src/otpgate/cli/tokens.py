"""``otpgate token create|list|revoke``: API tokens for other systems (``/api/v1``)."""

from __future__ import annotations

import argparse
import sys

from otpgate.cli._context import ACTOR, operator_context, operator_origin
from otpgate.cli._format import clean, table, when

__all__ = ["register"]

_SCOPES = ("verify", "enrol", "admin")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``otpgate token …``."""
    token = subparsers.add_parser("token", help="create, list and revoke API tokens")
    commands = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)

    create = commands.add_parser("create", help="create a token; it is printed once")
    create.add_argument("name", help="what the token is for, e.g. 'intranet portal'")
    create.add_argument(
        "--scope",
        action="append",
        choices=_SCOPES,
        default=None,
        help="what the token may do; repeat for several (default: verify)",
    )
    create.set_defaults(handler=_create)

    lst = commands.add_parser("list", help="list tokens (never the tokens themselves)")
    lst.set_defaults(handler=_list)

    revoke = commands.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("token_id", type=int, metavar="ID")
    revoke.set_defaults(handler=_revoke)


def _create(args: argparse.Namespace) -> int:
    from otpgate.service import api_tokens

    scopes = set(args.scope or ["verify"])
    with operator_context() as ctx:
        token = api_tokens.create_api_token(ctx, operator_origin(), ACTOR, args.name, scopes)
    print(token)
    print(
        f"Created API token {clean(args.name)!r} with scopes {', '.join(sorted(scopes))}. "
        "It is shown only this once; store it now.",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from otpgate.service import api_tokens

    with operator_context() as ctx:
        views = api_tokens.list_api_tokens(ctx)
    rows = [
        [str(v.id), v.name, " ".join(sorted(v.scopes)), when(v.created_at),
         when(v.last_used_at, "never"), when(v.revoked_at, "active")]
        for v in views
    ]
    print(table(["ID", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED"], rows))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from otpgate.service import api_tokens

    with operator_context() as ctx:
        api_tokens.revoke_api_token(ctx, operator_origin(), ACTOR, args.token_id)
    print(f"API token {args.token_id} is revoked.")
    return 0
