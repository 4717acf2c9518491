"""The French catalog: complete for every string of the pages, and compiled."""

from __future__ import annotations

from pathlib import Path

import otpgate.web
from catalog_check import compiled_mismatches, extract_ids, untranslated

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
