"""The French catalog of the security e-mails: complete for every string, and compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from catalog_check import compiled_mismatches, extract_ids, untranslated
from otpgate.service.notify_messages import MAIL_LOCALE_DIR, MAIL_TEMPLATE_DIR

SERVICE = MAIL_TEMPLATE_DIR.parent
PO = MAIL_LOCALE_DIR / "fr" / "LC_MESSAGES" / "mail.po"


def test_every_mail_string_has_a_french_translation(tmp_path: Path) -> None:
    """Strings extracted from the mail texts and templates now are all translated."""
    sources = [SERVICE / "_mail_texts.py", SERVICE / "notify_messages.py", MAIL_TEMPLATE_DIR]
    extracted = extract_ids(MAIL_LOCALE_DIR / "babel.cfg", sources, tmp_path / "mail.pot")
    assert len(extracted) > 40
    assert untranslated(PO, extracted) == [], (
        "update mail.po (see mail_locale/babel.cfg) and translate"
    )


def test_compiled_mail_catalog_matches_the_sources() -> None:
    """The committed mail.mo gives the .po's translation for every message."""
    assert compiled_mismatches(PO, "mail", MAIL_LOCALE_DIR) == []


def test_french_e_mails_use_typographic_apostrophes() -> None:
    """Like the pages: the apostrophe U+2019, never the typewriter one, in French e-mails."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    for message in catalog:
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert not any("'" in str(form) for form in forms if form), message.id
