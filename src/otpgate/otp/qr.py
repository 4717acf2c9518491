"""QR codes of an ``otpauth://`` URI, as inline SVG, PNG bytes or terminal text.

Choices that phone cameras read reliably: error correction at least ``M`` (15 %
recoverable; segno raises it further when that costs no extra size), which tolerates
glare on a screen without making the code denser than needed; a quiet zone of 4
modules, as ISO/IEC 18004 requires; dark modules on an explicitly white background so a
dark page or terminal theme cannot invert the code; and at least 3 pixels per module in
raster output (1-pixel modules are too fine for many decoders).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Final

from otpgate.otp.errors import InvalidParameter

if TYPE_CHECKING:
    import segno

__all__ = ["QR_BORDER", "QR_ERROR", "qr_png", "qr_svg", "qr_terminal"]

QR_ERROR: Final = "M"
QR_BORDER: Final = 4
_MAX_URI: Final = 4096
_DEFAULT_TITLE: Final = "QR code to scan with an authenticator app"
# Half blocks: one character cell shows two modules stacked vertically.
_UPPER, _LOWER, _FULL, _EMPTY = "\u2580", "\u2584", "\u2588", " "
# Bright white foreground on black background: "full block" is light, "space" is dark.
_ANSI_START, _ANSI_RESET = "\x1b[97;40m", "\x1b[0m"


def _make(uri: str) -> segno.QRCode:
    # Imported here: loading segno costs more than a verification's whole budget, and
    # the login path (web, PAM) imports otpgate.otp without ever drawing a QR code.
    import segno

    if not isinstance(uri, str) or not uri:
        raise InvalidParameter("the QR code content must be a non-empty string")
    if len(uri) > _MAX_URI:
        raise InvalidParameter(f"the QR code content is longer than {_MAX_URI} characters")
    # micro=False: Micro QR codes are not read by phone cameras.
    return segno.make(uri, error=QR_ERROR.lower(), micro=False)


def qr_svg(uri: str, *, module_px: int = 5, title: str = _DEFAULT_TITLE) -> str:
    """An ``<svg>`` element (no XML declaration) to inline in an HTML page.

    It has a ``viewBox`` in modules, a ``width``/``height`` of ``module_px`` pixels per
    module (CSS may scale it), ``role="img"`` and a ``<title>`` for screen readers.
    """
    if not isinstance(module_px, int) or not 1 <= module_px <= 50:
        raise InvalidParameter("module_px must be a whole number from 1 to 50")
    qr = _make(uri)
    size = (qr.symbol_size(border=QR_BORDER)[0]) * module_px
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", xmldecl=False, svgns=True, nl=False, border=QR_BORDER,
            scale=1, omitsize=True, dark="#000", light="#fff", title=title,
            svgclass="otp-qr", lineclass=None)
    svg = buffer.getvalue().decode("utf-8")
    head = f'<svg width="{size}" height="{size}" role="img" shape-rendering="crispEdges" '
    return head + svg.removeprefix("<svg ")


def qr_png(uri: str, *, scale: int = 6) -> bytes:
    """PNG bytes of the QR code, ``scale`` pixels per module (at least 3)."""
    if not isinstance(scale, int) or not 3 <= scale <= 50:
        raise InvalidParameter("scale must be a whole number from 3 to 50 pixels per module")
    buffer = io.BytesIO()
    _make(uri).save(buffer, kind="png", scale=scale, border=QR_BORDER, dark="#000",
                    light="#fff")
    return buffer.getvalue()


def qr_terminal(uri: str, *, ansi: bool = True) -> str:
    """The QR code drawn with half-block characters, two module rows per text line.

    With ``ansi`` (the default) each line sets white-on-black colours, so the code
    reads the same on light and dark terminal themes. Without it, light modules are
    drawn as blocks, which suits the usual light-text-on-dark terminal.
    """
    matrix = [list(row) for row in _make(uri).matrix_iter(scale=1, border=QR_BORDER)]
    if len(matrix) % 2:
        matrix.append([0] * len(matrix[0]))  # light padding row below the quiet zone
    lines = []
    for top, bottom in zip(matrix[::2], matrix[1::2], strict=True):
        cells = "".join(_cell(not t, not b) for t, b in zip(top, bottom, strict=True))
        lines.append(f"{_ANSI_START}{cells}{_ANSI_RESET}" if ansi else cells)
    return "\n".join(lines) + "\n"


def _cell(top_light: bool, bottom_light: bool) -> str:
    if top_light:
        return _FULL if bottom_light else _UPPER
    return _LOWER if bottom_light else _EMPTY
