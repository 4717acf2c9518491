"""The operator's branding: product name, accent colour and logo (``OTPGATE_PRODUCT_NAME``,
``OTPGATE_ACCENT_COLOR``, ``OTPGATE_LOGO_FILE``, checked when the settings are read).

The colour reaches the pages through a small generated stylesheet (the CSP allows no
inline style), and the logo is served from memory with its checked content type.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import Response

from otpgate.config import Settings, logo_type

__all__ = ["Brand", "brand_of", "install"]

# A logo response is an image only: nothing in it may run or load anything.
_LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@dataclass(frozen=True)
class Brand:
    """What the page templates need: the name, and whether a logo or colour is set."""

    name: str
    has_logo: bool
    has_accent: bool


def brand_of(settings: Settings) -> Brand:
    return Brand(
        name=settings.product_name,
        has_logo=settings.logo_file is not None,
        has_accent=bool(settings.accent_color),
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Add ``/branding.css`` (when a colour is set) and ``/branding/logo`` (when a logo is)."""
    if settings.accent_color:
        css = _stylesheet(settings.accent_color)

        @app.get("/branding.css", include_in_schema=False)
        def branding_css() -> Response:
            return Response(css, media_type="text/css")

    if settings.logo_file is not None:
        media_type = logo_type(settings.logo_file)
        data = settings.logo_file.read_bytes()

        @app.get("/branding/logo", include_in_schema=False)
        def branding_logo() -> Response:
            return Response(
                data, media_type=media_type, headers={"Content-Security-Policy": _LOGO_CSP}
            )


def _stylesheet(colour: str) -> str:
    # The colour was checked (#rrggbb, 4.5:1 against white) when the settings were read.
    return f":root {{ --accent: {colour}; --accent-fg: #fff; }}\n"
