"""The German catalog is complete and compiled: no untranslated or fuzzy message, no .mo older than its .po,
and every placeholder of a message kept in its translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "governance" / "translations"
LANGUAGES = sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES" / "messages.po").is_file())
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


def test_german_is_there():
    assert "de" in LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_message_is_untranslated_or_fuzzy(language):
    catalog = _catalog(language)
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(strings):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert not untranslated, f"untranslated in {language}: {untranslated[:5]}"
    assert not fuzzy, f"fuzzy in {language} (check, then remove the flag): {fuzzy[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language):
    for message in _catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, message.id


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_mo_is_compiled_from_the_po_as_it_is(language):
    """The app reads the .mo: a .po edited without `make translations` would not reach the pages."""
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    assert (folder / "messages.mo").is_file(), "run make translations"
    with (folder / "messages.mo").open("rb") as mo:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(mo) if m.id}
    expected = {_key(m.id): _key(m.string) for m in _catalog(language) if m.id and not m.fuzzy}
    assert compiled == expected, "the .mo is stale: run make translations and commit both files"


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value
