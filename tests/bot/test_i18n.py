"""The translations in bot/locales/: complete, faithful to the English source (placeholders, HTML,
commands, emoji), compiled, and picked up by aiogram's I18n the way the bot uses it.

When a test here fails after a change to bot/texts.py or bot/keyboards.py: run scripts/i18n.sh,
translate what is new or "#, fuzzy" in the .po files, and run the script again."""

from __future__ import annotations

import gettext
import io
import re
import string
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from aiogram.types import User
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from bot import texts

ROOT = Path(__file__).resolve().parents[2]
BOT_DIR = ROOT / "bot"
LOCALES = BOT_DIR / "locales"
DOMAIN = "messages"
POT = LOCALES / f"{DOMAIN}.pot"
#: The languages we ship; every locale directory found on disk is tested as well.
SHIPPED = {"es", "pt", "ru"}
LANGS = sorted({p.name for p in LOCALES.iterdir() if p.is_dir()} | SHIPPED)
#: The same keywords scripts/i18n.sh passes to `pybabel extract` (on top of Babel's defaults).
KEYWORDS = parse_keywords(["_", "__", "ngettext:1,2"])

TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
COMMAND = re.compile(r"(?<![\w/])/[a-z][a-z_]*\b")


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_po(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def mo_messages(path: Path) -> dict[tuple[str, ...], tuple[str, ...]]:
    """A compiled catalog as {msgid forms: msgstr forms} (the header is the entry for ("",))."""
    with path.open("rb") as f:
        return {tuple(forms(m.id)): tuple(forms(m.string)) for m in read_mo(f)}


def forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def translated(message: Message) -> list[str]:
    return forms(message.string)


def entries(lang: str) -> list[tuple[str, list[str], list[str]]]:
    """(msgid shown in failures, source forms, translated forms) of every message of `lang`."""
    return [(forms(m.id)[0], forms(m.id), translated(m)) for m in load_po(po_path(lang), locale=lang) if m.id]


def placeholders(text: str) -> set[str]:
    """`str.format` field names ("{n}", "{film}"); raises ValueError on unbalanced braces."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def symbols(text: str) -> set[str]:
    """Emoji and other pictographs (✅ ⏭ 🎯 ★ …): Unicode category "So"."""
    return {ch for ch in text if unicodedata.category(ch) == "So"}


# --- the catalogs ---------------------------------------------------------------------------------


def test_the_template_and_shipped_languages_exist() -> None:
    assert POT.is_file()
    for lang in SHIPPED:
        assert po_path(lang).is_file(), lang
        assert po_path(lang).with_suffix(".mo").is_file(), lang


def test_template_is_up_to_date_with_the_source() -> None:
    """Every gettext message in bot/ is in messages.pot (and nothing else): the extraction
    scripts/i18n.sh runs, with the same babel.cfg and keywords."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    source = {
        message
        for _, _, message, _, _ in extract_from_dir(BOT_DIR, method_map, options_map, keywords=KEYWORDS)
    }
    source.discard("")
    template = {m.id for m in load_po(POT) if m.id}
    assert source - template == set(), "messages not in messages.pot: run scripts/i18n.sh"
    assert template - source == set(), "stale messages in messages.pot: run scripts/i18n.sh"


@pytest.mark.parametrize("lang", LANGS)
def test_po_compiles(lang: str) -> None:
    catalog = load_po(po_path(lang), locale=lang)
    assert str(catalog.locale) == lang
    problems = [(m.id, errors) for m, errors in catalog.check()]
    assert problems == []
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    translations = gettext.GNUTranslations(mo)  # what aiogram's I18n loads
    assert translations.info()["language"] == lang


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_has_a_translation(lang: str) -> None:
    catalog = load_po(po_path(lang), locale=lang)
    missing, fuzzy, empty, wrong_plurals = [], [], [], []
    for source in load_po(POT):
        if not source.id:
            continue
        message = catalog.get(source.id)
        if message is None:
            missing.append(source.id)
            continue
        if message.fuzzy:
            fuzzy.append(source.id)
        strings = translated(message)
        if not strings or not all(s.strip() for s in strings):
            empty.append(source.id)
        if message.pluralizable and len(strings) != catalog.num_plurals:
            wrong_plurals.append(source.id)
    problems = {
        "not in the .po (run scripts/i18n.sh)": missing,
        "fuzzy (check the translation, then remove the '#, fuzzy' flag)": fuzzy,
        "untranslated": empty,
        f"not {catalog.num_plurals} plural forms": wrong_plurals,
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_every_locale_has_the_same_keys() -> None:
    """A message that exists in one locale but not in another (or not in the template) fails,
    in the .po files and in the compiled .mo files the bot loads (obsolete "#~" entries and
    the header do not count)."""
    template = {m.id for m in load_po(POT) if m.id}
    po_keys = {lang: {m.id for m in load_po(po_path(lang), locale=lang) if m.id} for lang in LANGS}
    mo_keys = {lang: set(mo_messages(po_path(lang).with_suffix(".mo"))) - {("",)} for lang in LANGS}
    for lang in LANGS:
        assert po_keys[lang] - template == set(), f"{lang}.po has messages the template lacks"
        assert template - po_keys[lang] == set(), f"{lang}.po lacks messages of the template"
    first = LANGS[0]
    for lang in LANGS[1:]:
        assert mo_keys[lang] ^ mo_keys[first] == set(), f"compiled {lang} and {first} differ"


def test_russian_has_three_plural_forms() -> None:
    catalog = load_po(po_path("ru"), locale="ru")
    assert catalog.num_plurals == 3
    assert any(m.pluralizable for m in catalog)


@pytest.mark.parametrize("lang", LANGS)
def test_placeholders_match_the_source(lang: str) -> None:
    mismatches = []
    for msgid, source, strings in entries(lang):
        expected = set().union(*(placeholders(s) for s in source))
        for s in strings:
            if s and placeholders(s) != expected:
                mismatches.append((msgid, s))
    assert mismatches == []


@pytest.mark.parametrize("lang", LANGS)
def test_html_tags_match_the_source(lang: str) -> None:
    mismatches = []
    for msgid, source, strings in entries(lang):
        expected = Counter(TAG.findall(source[0]))
        for s in strings:
            if s and Counter(TAG.findall(s)) != expected:
                mismatches.append((msgid, s))
    assert mismatches == []


@pytest.mark.parametrize("lang", LANGS)
def test_commands_and_emoji_are_kept(lang: str) -> None:
    """/review, /recommend … stay untranslated; ✅, 🎯, ★ … stay where they were."""
    mismatches = []
    for msgid, source, strings in entries(lang):
        for s in strings:
            if s and (
                set(COMMAND.findall(s)) != set(COMMAND.findall(source[0])) or symbols(s) != symbols(source[0])
            ):
                mismatches.append((msgid, s))
    assert mismatches == []


@pytest.mark.parametrize("lang", LANGS)
def test_compiled_mo_is_up_to_date(lang: str, tmp_path: Path) -> None:
    """The committed .mo holds exactly what compiling the .po gives (as `pybabel compile` does:
    fuzzy and untranslated entries left out)."""
    fresh = tmp_path / f"{DOMAIN}.mo"
    with fresh.open("wb") as f:
        write_mo(f, load_po(po_path(lang), locale=lang))
    committed = po_path(lang).with_suffix(".mo")
    assert mo_messages(committed) == mo_messages(fresh), f"{committed} is stale: run scripts/i18n.sh"


# --- aiogram's I18n, as the bot uses it -------------------------------------------------------------


@pytest.fixture
def i18n() -> I18n:
    return I18n(path=LOCALES, default_locale="en", domain=DOMAIN)


def test_i18n_loads_every_language(i18n: I18n) -> None:
    assert set(i18n.available_locales) == set(LANGS)


def test_texts_follow_the_locale_and_fall_back_to_english(i18n: I18n) -> None:
    english = "This button is no longer valid."
    spanish = load_po(po_path("es"), locale="es")[english].string
    assert spanish and spanish != english
    unknown = "xx"
    assert unknown not in i18n.available_locales
    with i18n.context():
        assert texts.button_invalid() == english  # English is the source: no catalog, the msgid
        with i18n.use_locale("es"):
            assert texts.button_invalid() == spanish
        with i18n.use_locale(unknown):
            assert texts.button_invalid() == english


@pytest.mark.parametrize(
    ("seconds", "word"),
    [(1, "секунду"), (21, "секунду"), (2, "секунды"), (24, "секунды"), (5, "секунд"), (11, "секунд")],
)
def test_russian_plural_forms(i18n: I18n, seconds: int, word: str) -> None:
    with i18n.context(), i18n.use_locale("ru"):
        assert f"{seconds} {word}." in texts.wait_seconds(seconds)


@pytest.mark.parametrize(
    ("language_code", "locale"),
    [("es", "es"), ("es-419", "es"), ("pt-br", "pt"), ("ru", "ru"), ("en", "en"), ("de", "en"), (None, "en")],
)
async def test_telegram_language_code_picks_the_locale(
    i18n: I18n, language_code: str | None, locale: str
) -> None:
    middleware = SimpleI18nMiddleware(i18n)
    user = User(id=1, is_bot=False, first_name="Ann", language_code=language_code)
    assert await middleware.get_locale(user, {"event_from_user": user}) == locale
