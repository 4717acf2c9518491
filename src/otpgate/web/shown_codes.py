"""Recovery codes between the POST that made them and the page that shows them.

The page that shows codes is reached by a redirect (post/redirect/get), so reloading it
shows the same codes instead of sending the form again. Until the person says they
saved them, the codes wait in their server-side session, sealed with the secret key
ring (the database keeps recovery codes as hashes only, and a dump must not reveal them).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from otpgate.security.errors import DecryptionFailed

if TYPE_CHECKING:
    from otpgate.web.deps import Page

__all__ = ["ShownCodes", "forget", "keep", "take"]

_KEY = "shown_codes"


@dataclass(frozen=True)
class ShownCodes:
    codes: list[str]
    first: bool
    done: str


def _context(page: Page) -> bytes:
    return f"otpgate recovery codes shown to user {page.user_id}".encode()


def keep(page: Page, codes: list[str], *, first: bool, done: str) -> None:
    """Seal ``codes`` into the session until :func:`forget`."""
    payload = json.dumps({"codes": codes, "first": first, "done": done}).encode()
    key_id, sealed = page.ctx.keyring.seal(payload, context=_context(page))
    page.session.update(**{_KEY: {"kid": key_id, "box": base64.b64encode(sealed).decode()}})


def take(page: Page) -> ShownCodes | None:
    """The codes waiting to be shown, or None (none, or not readable any more)."""
    item = page.view.data.get(_KEY)
    if not isinstance(item, dict):
        return None
    try:
        payload = page.ctx.keyring.open(
            str(item["kid"]), base64.b64decode(str(item["box"])), context=_context(page)
        )
        data = json.loads(payload)
        return ShownCodes([str(c) for c in data["codes"]], bool(data["first"]), str(data["done"]))
    except (KeyError, ValueError, TypeError, DecryptionFailed):
        # A key rotated away or a damaged value: the codes are gone, as after "saved".
        return None


def forget(page: Page) -> None:
    if _KEY in page.view.data:
        page.session.update(**{_KEY: None})
