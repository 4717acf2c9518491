"""Checks of the free-text parts of an ``otpauth://`` URI (private)."""

from __future__ import annotations

from typing import Final

from otpgate.otp.errors import InvalidParameter

__all__ = ["check_image", "check_label_part"]

MAX_LABEL_PART: Final = 256
MAX_IMAGE_URL: Final = 2048


def check_label_part(text: object, name: str) -> str:
    """An issuer or account name that every app can show and split back unchanged."""
    if not isinstance(text, str):
        raise InvalidParameter(f"the {name} must be text, not {type(text).__name__}")
    if not text:
        raise InvalidParameter(f"the {name} is empty")
    if len(text) > MAX_LABEL_PART:
        raise InvalidParameter(f"the {name} is longer than {MAX_LABEL_PART} characters")
    if ":" in text:
        raise InvalidParameter(
            f"the {name} may not contain ':' (apps split 'Issuer:account' at the colon)"
        )
    if not text.isprintable():
        raise InvalidParameter(f"the {name} contains a control character")
    if text != text.strip():
        raise InvalidParameter(f"the {name} may not start or end with a space")
    return text


def check_image(url: object) -> str:
    """An ``image`` parameter: an http(s) URL of reasonable length."""
    if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")):
        raise InvalidParameter("the image must be an https:// URL")
    if len(url) > MAX_IMAGE_URL or not url.isprintable() or " " in url:
        raise InvalidParameter("the image URL is too long or contains spaces or control codes")
    return url
