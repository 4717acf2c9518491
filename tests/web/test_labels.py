"""Every audit detail the service writes has words for the pages, in English and French."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import otpgate.service
from otpgate.web.i18n import use_locale
from otpgate.web.labels import DETAIL_LABELS, detail_items

SERVICE = Path(otpgate.service.__file__).parent


def _names_detail(node: ast.AST) -> bool:
    """``detail=…`` (a keyword argument) or ``detail = …`` (an assignment)."""
    if isinstance(node, ast.keyword):
        return node.arg == "detail"
    return isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "detail" for t in node.targets
    )


def _detail_keys_written() -> set[str]:
    """Keys of the ``detail`` dictionaries in the service's source (literal keys)."""
    keys: set[str] = set()
    for path in SERVICE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword | ast.Assign) and _names_detail(node):
                if isinstance(node.value, ast.Dict):
                    keys.update(
                        str(k.value) for k in node.value.keys if isinstance(k, ast.Constant)
                    )
            elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                  and node.value.id == "detail" and isinstance(node.slice, ast.Constant)):
                keys.add(str(node.slice.value))
    return keys


def test_every_detail_key_the_service_writes_has_a_label() -> None:
    """A new detail key without a label would show as a code (``must_enrol``) on the pages."""
    written = _detail_keys_written()
    assert {"must_enrol", "second_factor", "note", "until"} <= written
    assert written - set(DETAIL_LABELS) == set()


def test_details_read_as_words_in_both_languages() -> None:
    """Booleans, known values and timestamps become words; typed names stay as typed."""
    detail = {"must_enrol": False, "method": "totp", "until": "2030-01-02T03:04:05+00:00",
              "name": "My phone"}

    def when(value: datetime | None) -> str:
        assert value == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
        return "<when>"

    with use_locale("en"):
        english = detail_items(detail, when)
    with use_locale("fr"):
        french = detail_items(detail, when)
    assert ("Must set up two-factor authentication", "no", False) in english
    assert ("Second factor", "time-based code (TOTP)", False) in english
    assert ("Locked until", "<when>", False) in english
    assert ("Name", "My phone", True) in english
    assert ("Doit configurer la double authentification", "non", False) in french
    assert ("Nom", "My phone", True) in french
