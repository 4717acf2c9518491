"""QR codes: PNG decoded by zbarimg to the exact URI; inline SVG; terminal half-blocks."""

from __future__ import annotations

import re
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import need_tool
from otpgate.otp import InvalidParameter, build_uri, qr_png, qr_svg, qr_terminal

KEY = b"12345678901234567890"
URIS = [
    build_uri(KEY, account="alice@example.com", issuer="ACME Co"),
    build_uri(bytes(range(64)), account="bob+ops #2@example.org", issuer="Bäckerei Müller",
              kind="hotp", algorithm="SHA512", digits=8, counter=12345),
    build_uri(bytes(32), account="x", algorithm="SHA256", period=60,
              image="https://example.com/logo.png"),
]
SVG_NS = "{http://www.w3.org/2000/svg}"


def zbar(path: Path) -> str:
    """The text zbarimg reads from an image file."""
    tool = need_tool("zbarimg")
    done = subprocess.run([tool, "--raw", "-q", str(path)], capture_output=True, check=True,
                          text=True, timeout=60)
    return done.stdout.rstrip("\n")


@pytest.mark.parametrize("uri", URIS, ids=["totp", "hotp-sha512", "sha256-image"])
def test_png_decodes_to_the_exact_uri(uri: str, tmp_path: Path) -> None:
    """zbarimg reads our PNG back to exactly the URI it encodes."""
    path = tmp_path / "qr.png"
    path.write_bytes(qr_png(uri))
    assert zbar(path) == uri


def test_png_geometry() -> None:
    """The PNG has scale pixels per module and a 4-module quiet zone on each side."""
    png = qr_png(URIS[0], scale=3)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert width == height
    assert width % 3 == 0
    modules = width // 3 - 8
    assert (modules - 17) % 4 == 0  # a regular QR symbol of version (modules - 17) / 4
    assert len(qr_png(URIS[0], scale=6)) > 0


@pytest.mark.parametrize("scale", [0, 1, 2, 51, 3.0])
def test_png_scale_limits(scale: object) -> None:
    """Fewer than 3 pixels per module (too fine for decoders) is refused."""
    with pytest.raises(InvalidParameter):
        qr_png(URIS[0], scale=scale)  # type: ignore[arg-type]


def test_svg_is_inline_and_accessible() -> None:
    """The SVG has no XML declaration, a viewBox, a size, role=img and a title."""
    svg = qr_svg(URIS[0])
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("role") == "img"
    view = [int(v) for v in root.get("viewBox", "").split()]
    assert view[:2] == [0, 0]
    assert view[2] == view[3]
    assert root.get("width") == root.get("height") == str(view[2] * 5)
    title = root.find(f"{SVG_NS}title")
    assert title is not None
    assert title.text == "QR code to scan with an authenticator app"


def test_svg_title_is_escaped() -> None:
    """A custom title is XML-escaped, so markup in it cannot break the page."""
    svg = qr_svg(URIS[0], title='Scan <b>"me"</b> & go', module_px=3)
    title = ET.fromstring(svg).find(f"{SVG_NS}title")
    assert title is not None
    assert title.text == 'Scan <b>"me"</b> & go'
    assert "<b>" not in svg


def test_svg_has_white_background() -> None:
    """The light modules are painted white, so a dark page cannot invert the code."""
    assert 'fill="#fff"' in qr_svg(URIS[0])


def terminal_matrix(text: str) -> list[list[int]]:
    """Module rows (1 = dark) read back from half-block terminal output."""
    rows: list[list[int]] = []
    for line in text.splitlines():
        cells = re.sub(r"\x1b\[[0-9;]*m", "", line)
        top = [0 if ch in "\u2588\u2580" else 1 for ch in cells]
        bottom = [0 if ch in "\u2588\u2584" else 1 for ch in cells]
        rows += [top, bottom]
    return rows


@pytest.mark.parametrize("ansi", [True, False])
def test_terminal_drawing_decodes(ansi: bool, tmp_path: Path) -> None:
    """The half-block drawing, turned back into an image, decodes to the URI."""
    text = qr_terminal(URIS[1], ansi=ansi)
    assert ("\x1b[" in text) is ansi
    rows = terminal_matrix(text)
    scale = 4
    pixels = [[v for v in row for _ in range(scale)] for row in rows for _ in range(scale)]
    image = tmp_path / "terminal.pbm"
    body = "\n".join(" ".join(map(str, row)) for row in pixels)
    image.write_text(f"P1\n{len(pixels[0])} {len(pixels)}\n{body}\n")
    assert zbar(image) == URIS[1]


def test_terminal_quiet_zone() -> None:
    """Two text lines (four module rows) of light quiet zone come first."""
    lines = qr_terminal(URIS[0], ansi=False).splitlines()
    assert lines[0] == lines[1] == "\u2588" * len(lines[0])
    assert lines[2].startswith("\u2588" * 4)


@pytest.mark.parametrize("content", ["", None, "x" * 5000])
def test_bad_content(content: object) -> None:
    """Empty, non-text or oversized content raises InvalidParameter."""
    for render in (qr_png, qr_svg, qr_terminal):
        with pytest.raises(InvalidParameter):
            render(content)  # type: ignore[arg-type]
