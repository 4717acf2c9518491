"""Branding: the operator's product name, accent colour and logo, checked at start-up and
served under the CSP (a generated stylesheet, a logo with its own content type)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from web_pages_support import Portal, portal

from otpgate.config import ConfigError, Settings
from otpgate.otp import qr_png

SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
       b'<rect width="10" height="10"/></svg>')


@pytest.fixture
def logo(tmp_path: Path) -> Path:
    path = tmp_path / "logo.png"
    path.write_bytes(qr_png("ACME"))
    return path


@pytest.fixture
def branded(engine: Engine, tmp_path: Path, logo: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path, product_name="ACME Secure", accent_color="#7a1fa2",
                logo_file=logo) as harness:
        yield harness


@pytest.fixture
def plain(engine: Engine, tmp_path: Path) -> Iterator[Portal]:
    with portal(engine, tmp_path) as harness:
        yield harness


def test_branded_pages_show_the_name_colour_and_logo(branded: Portal, logo: Path) -> None:
    """Title and header carry the product name; the colour and logo are served."""
    html = branded.get("/login").text
    assert "<title>Log in · ACME Secure</title>" in html
    assert '<img class="logo" src="/branding/logo" alt="">' in html
    assert '<link rel="stylesheet" href="/branding.css">' in html
    css = branded.get("/branding.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--accent: #7a1fa2;" in css.text
    image = branded.get("/branding/logo")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == logo.read_bytes()
    assert "sandbox" in image.headers["content-security-policy"]
    assert image.headers["x-content-type-options"] == "nosniff"


def test_default_pages_stay_neutral(plain: Portal) -> None:
    """Without branding: the name "otpgate", no extra stylesheet, no logo route."""
    html = plain.get("/login").text
    assert "<title>Log in · otpgate</title>" in html
    assert "/branding" not in html
    assert plain.get("/branding.css").status_code == 404
    assert plain.get("/branding/logo").status_code == 404


def test_the_darkest_grey_that_fails_and_the_lightest_that_passes() -> None:
    """#76767A has 4.52:1 on white: accepted, kept lower case (#777777, 4.48:1, is refused)."""
    assert Settings.from_env({"OTPGATE_ACCENT_COLOR": "#76767A"}).accent_color == "#76767a"


def test_an_svg_logo_is_served_as_svg(engine: Engine, tmp_path: Path) -> None:
    """A script-free SVG is accepted and served as image/svg+xml."""
    path = tmp_path / "logo.svg"
    path.write_bytes(SVG)
    assert Settings.from_env({"OTPGATE_LOGO_FILE": str(path)}).logo_file == path
    with portal(engine, tmp_path, logo_file=path) as web:
        image = web.get("/branding/logo")
        assert image.headers["content-type"] == "image/svg+xml"
        assert image.content == SVG


@pytest.mark.parametrize(("name", "value", "words"), [
    ("OTPGATE_ACCENT_COLOR", "#ffcc00", "contrast of 1.5:1"),
    ("OTPGATE_ACCENT_COLOR", "#777777", "contrast of 4.5:1"),  # 4.48:1
    ("OTPGATE_ACCENT_COLOR", "blue", "must be a colour like"),
    ("OTPGATE_ACCENT_COLOR", "#12345", "must be a colour like"),
    ("OTPGATE_PRODUCT_NAME", "x" * 61, "at most 60 characters"),
])
def test_unusable_branding_values_stop_start_up(name: str, value: str, words: str) -> None:
    """A light colour (under 4.5:1 on white), a non-colour or a long name: one-line error."""
    with pytest.raises(ConfigError, match=name) as raised:
        Settings.from_env({name: value})
    assert words in str(raised.value)


@pytest.mark.parametrize("content", [
    SVG.replace(b"<rect", b'<script>alert(1)</script><rect'),
    SVG.replace(b"<rect", b'<rect onload="alert(1)"'),
    b"GIF89a not a png",
])
def test_unsafe_or_unknown_logo_files_are_refused(tmp_path: Path, content: bytes) -> None:
    """An SVG with a script or an event handler, or another format: refused at start-up."""
    path = tmp_path / "logo"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="OTPGATE_LOGO_FILE"):
        Settings.from_env({"OTPGATE_LOGO_FILE": str(path)})


def test_a_missing_logo_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OTPGATE_LOGO_FILE cannot be read"):
        Settings.from_env({"OTPGATE_LOGO_FILE": str(tmp_path / "nope.png")})
