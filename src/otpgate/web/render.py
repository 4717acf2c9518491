"""Templates: one Jinja environment, translated with the request's locale."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, select_autoescape

from otpgate.otp import qr_svg
from otpgate.web import i18n
from otpgate.web.labels import detail_items, event_label, event_options, source_label
from otpgate.web.useragent import device_label

__all__ = ["TEMPLATE_DIR", "environment", "render_html"]

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _when(value: datetime | None) -> str:
    """A date and time in the page's language, in UTC (stated, so nobody guesses)."""
    if value is None:
        return i18n.gettext("never")
    locale = i18n.current_locale()
    text = format_datetime(value.astimezone(UTC), "medium", tzinfo=UTC, locale=locale)
    return f"{text} UTC"


def _qr(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG, its title in the page's language."""
    return qr_svg(uri, title=i18n.gettext("QR code to scan with your authenticator app"))


def _details(detail: dict[str, object]) -> list[tuple[str, str, bool]]:
    return detail_items(detail, _when)


def _build() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The callables look the locale up at call time, so one environment serves all requests.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters["when"] = _when
    env.filters["event_label"] = event_label
    env.filters["source_label"] = source_label
    env.filters["event_options"] = event_options
    env.filters["details"] = _details
    env.filters["device_label"] = device_label
    env.filters["qr"] = _qr
    env.globals["LOCALES"] = i18n.LOCALES
    return env


environment = _build()


def render_html(template: str, locale: str, values: dict[str, Any]) -> str:
    with i18n.use_locale(locale):
        return environment.get_template(template).render(locale=locale, **values)
