"""The French catalog: complete for every string of the pages, and compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

import otpgate.web
from catalog_check import compiled_mismatches, extract_ids, untranslated
from otpgate.service.audit import AuditKind
from otpgate.web.labels import EVENT_LABELS

WEB = Path(otpgate.web.__file__).parent
LOCALE = WEB / "locale"
PO = LOCALE / "fr" / "LC_MESSAGES" / "messages.po"


def test_every_page_string_has_a_french_translation(tmp_path: Path) -> None:
    """Strings extracted from the code and templates now are all in the French catalog."""
    extracted = extract_ids(LOCALE / "babel.cfg", [WEB], tmp_path / "messages.pot", "N_")
    assert len(extracted) > 150
    assert untranslated(PO, extracted) == [], "run `make messages` and translate"


def test_compiled_catalog_matches_the_sources() -> None:
    """The committed .mo gives the .po's translation for every message."""
    assert compiled_mismatches(PO, "messages", LOCALE) == []


def test_every_audit_event_has_words() -> None:
    """Each kind of audit event has a label (pages never show ``api_token.revoked``)."""
    assert {k.value for k in AuditKind} <= set(EVENT_LABELS)


def test_french_uses_one_term_for_2fa_and_typographic_apostrophes() -> None:
    """"double authentification" only, typographic apostrophes (U+2019), "From" as "Origine"."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    texts = {}
    for message in catalog:
        if message.id:
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            texts[message.id if isinstance(message.id, str) else message.id[0]] = forms
    joined = "\n".join(str(form) for forms in texts.values() for form in forms if form)
    assert "'" not in joined
    assert "deux facteurs" not in joined and "A2F" not in joined
    assert texts["From"] == ("Origine",)
