"""The French catalog: complete for every string of the pages, and compiled."""

from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

import otpgate.web

WEB = Path(otpgate.web.__file__).parent
LOCALE = WEB / "locale"


def _ids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


def test_every_page_string_has_a_french_translation(tmp_path: Path) -> None:
    """Strings extracted from the code and templates now are all in the French catalog."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
         str(LOCALE / "babel.cfg"), "-k", "N_", "-o", str(pot), str(WEB)],
        check=True, capture_output=True,
    )
    extracted = _ids(pot)
    assert len(extracted) > 150
    po = LOCALE / "fr" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale="fr")
    missing = []
    for msgid in sorted(extracted):
        message = catalog.get(msgid)
        if message is None or not message.string:
            missing.append(msgid)
    assert missing == [], "run `make messages` and translate"


def test_compiled_catalog_matches_the_sources() -> None:
    """The committed .mo gives the .po's translation for every message."""
    po = LOCALE / "fr" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale="fr")
    compiled = gettext.translation("messages", localedir=LOCALE, languages=["fr"])
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, str):
            assert compiled.gettext(message.id) == message.string, message.id
        else:
            plural = message.string
            assert isinstance(plural, tuple | list)
            assert compiled.ngettext(message.id[0], message.id[1], 2) == plural[1]
