"""The French catalog of the security e-mails: complete for every string, and compiled."""

from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from otpgate.service.notify_messages import MAIL_LOCALE_DIR, MAIL_TEMPLATE_DIR

SERVICE = MAIL_TEMPLATE_DIR.parent
PO = MAIL_LOCALE_DIR / "fr" / "LC_MESSAGES" / "mail.po"


def _ids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}


def test_every_mail_string_has_a_french_translation(tmp_path: Path) -> None:
    """Strings extracted from the mail texts and templates now are all translated."""
    pot = tmp_path / "mail.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
         str(MAIL_LOCALE_DIR / "babel.cfg"), "-o", str(pot),
         str(SERVICE / "_mail_texts.py"), str(SERVICE / "notify_messages.py"),
         str(MAIL_TEMPLATE_DIR)],
        check=True, capture_output=True,
    )
    extracted = _ids(pot)
    assert len(extracted) > 40
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    missing = []
    for msgid in sorted(extracted):
        message = catalog.get(msgid)
        if message is None or not message.string:
            missing.append(msgid)
    assert missing == [], "update mail.po (see mail_locale/babel.cfg) and translate"


def test_compiled_mail_catalog_matches_the_sources() -> None:
    """The committed mail.mo gives the .po's translation for every message."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="fr")
    compiled = gettext.translation("mail", localedir=MAIL_LOCALE_DIR, languages=["fr"])
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, str):
            assert compiled.gettext(message.id) == message.string, message.id
        else:
            assert isinstance(message.string, tuple | list)
            assert compiled.ngettext(message.id[0], message.id[1], 2) == message.string[1]
