"""Checks shared by the tests of the gettext catalogs (pages and e-mails)."""

from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po


def extract_ids(cfg: Path, sources: list[Path], pot: Path, *keywords: str) -> set[str]:
    """The message ids Babel extracts from ``sources`` now (plural ids by their singular)."""
    options = [arg for keyword in keywords for arg in ("-k", keyword)]
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(cfg),
         *options, "-o", str(pot), *map(str, sources)],
        check=True, capture_output=True,
    )
    return {m.id if isinstance(m.id, str) else m.id[0] for m in _read(pot) if m.id}


def untranslated(po: Path, ids: set[str]) -> list[str]:
    """The ids that the French catalog ``po`` lacks or leaves empty."""
    catalog = _read(po, locale="fr")
    missing = []
    for msgid in sorted(ids):
        message = catalog.get(msgid)
        if message is None or not message.string:
            missing.append(msgid)
    return missing


def compiled_mismatches(po: Path, domain: str, localedir: Path) -> list[str]:
    """The ids whose compiled (.mo) French translation differs from the .po's."""
    compiled = gettext.translation(domain, localedir=localedir, languages=["fr"])
    wrong = []
    for message in _read(po, locale="fr"):
        if not message.id:
            continue
        if isinstance(message.id, str):
            if compiled.gettext(message.id) != message.string:
                wrong.append(message.id)
        elif not isinstance(message.string, tuple | list) or (
            compiled.ngettext(message.id[0], message.id[1], 2) != message.string[1]
        ):
            wrong.append(message.id[0])
    return wrong


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)
