"""Text people type for other people to read: names and notes hold no control characters.

Authenticator, device, token and display names and identity-check notes are shown on
admin pages, in the audit log, in CLI listings and in e-mails. A C0/C1 control there
(an escape sequence repaints the terminal that lists it, a NUL cuts a C string) or a
bidirectional embedding, override or isolate (U+202A to U+202E, U+2066 to U+2069: "Trojan
Source", a name that reads other than it is) would let one person disguise what another
reads. Typed text that holds one is *refused* with a message naming the character, never
silently altered: a note that changed between typing and the audit log would be worse.
Tab, line feed and carriage return are whitespace: names fold every run of whitespace into
one space, notes keep their line breaks. Only names otpgate makes itself (a device named
after its User-Agent) are cleaned with :func:`strip_controls` instead.
"""

from __future__ import annotations

import re
import unicodedata

from otpgate.service.errors import InvalidInput

__all__ = ["first_control", "name_text", "note_text", "refuse_controls", "strip_controls"]

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_WHITESPACE_CONTROLS = frozenset("\t\n\r")
_LINE_BREAKS = re.compile(r"\r\n?")


def _is_control(ch: str) -> bool:
    return ch in _BIDI_CONTROLS or (
        ch not in _WHITESPACE_CONTROLS and unicodedata.category(ch) == "Cc"
    )


def first_control(text: str) -> str | None:
    """The first control or bidi character of ``text`` (tab, LF, CR aside), or None."""
    return next((ch for ch in text if _is_control(ch)), None)


def refuse_controls(text: str, what: str) -> None:
    """:class:`InvalidInput` naming the first control or bidi character of ``text``."""
    found = first_control(text)
    if found is not None:
        raise InvalidInput(
            f"The {what} must not contain control characters or text-direction "
            f"overrides (found U+{ord(found):04X})."
        )


def name_text(value: object, what: str, maximum: int, *, required: bool = False) -> str:
    """A one-line name: text without controls, whitespace runs folded to one space, at most
    ``maximum`` characters (and not empty if ``required``); else :class:`InvalidInput`."""
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text.")
    refuse_controls(value, what)
    name = " ".join(value.split())
    if required and not name:
        raise InvalidInput(f"The {what} cannot be empty.")
    if len(name) > maximum:
        raise InvalidInput(f"The {what} must have at most {maximum} characters.")
    return name


def note_text(value: object, what: str) -> str:
    """Free text without controls; line breaks kept (as ``\\n``), ends stripped; else
    :class:`InvalidInput`. Length rules are the caller's."""
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text.")
    refuse_controls(value, what)
    return _LINE_BREAKS.sub("\n", value).strip()


def strip_controls(text: str) -> str:
    """``text`` without its control and bidi characters (for names otpgate derives)."""
    return "".join(ch for ch in text if not _is_control(ch))
