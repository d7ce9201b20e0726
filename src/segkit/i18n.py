"""The reader's language: message catalogues (gettext) and the run's active language.

Texts a reader sees are written in English in the code, wrapped in :func:`_` (or
:func:`ngettext` where a count decides the form), and translated from the catalogues
``segkit/locale/<language>/LC_MESSAGES/segkit.po``. The ``.po`` files are the only place a
translation lives: they are compiled when first used (Babel reads them, the standard library's
:mod:`gettext` looks messages up), so a translator edits one text file and nothing else.
Fuzzy entries (not yet checked by a translator) are not used.

The active language is a context variable: :func:`activate` sets it for the rest of a notebook
kernel or a command, :func:`using` for a block. Serbian in Cyrillic (``sr-Cyrl``) has no catalogue
of its own: it is the Latin catalogue (``sr``) transliterated letter by letter, which Serbian
spelling allows (one letter for one sound in both scripts).

Example
-------
>>> with using("cs"):
...     _("Customers")
'Zákazníci'
>>> _("Customers")
'Customers'
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import io
import re
from collections.abc import Iterator
from importlib import resources

__all__ = ["LANGUAGES", "DEFAULT", "LOCALE_DIR", "activate", "using", "current", "babel_locale",
           "_", "N_", "ngettext", "segment_label", "catalogue_path", "to_cyrillic"]

#: language code (the run key ``language``) -> Babel locale used for numbers, dates and money
LANGUAGES: dict[str, str] = {"en": "en", "cs": "cs", "pl": "pl", "ro": "ro", "sr": "sr_Latn", "sr-Cyrl": "sr_Cyrl"}
DEFAULT = "en"
DOMAIN = "segkit"
LOCALE_DIR = resources.files("segkit").joinpath("locale")
#: languages whose catalogue is derived from another one (script conversion)
_DERIVED = {"sr-Cyrl": "sr"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("segkit_language", default=DEFAULT)


def current() -> str:
    """The active language code (``en`` unless :func:`activate` or :func:`using` set another)."""
    return _current.get()


def babel_locale(language: str | None = None) -> str:
    """The Babel locale of ``language`` (default: the active one).

    >>> babel_locale("sr"), babel_locale("en")
    ('sr_Latn', 'en')
    """
    return LANGUAGES[language or current()]


def activate(language: str) -> None:
    """Make ``language`` the active language of this process (a notebook kernel, a command)."""
    _check(language)
    _current.set(language)


@contextlib.contextmanager
def using(language: str) -> Iterator[None]:
    """Run a block with ``language`` active, then restore the previous one."""
    _check(language)
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def _check(language: str) -> None:
    if language not in LANGUAGES:
        from .errors import ParameterError

        raise ParameterError(f"unknown language {language!r}", where="language",
                             fix=f"use one of {', '.join(LANGUAGES)}")


def catalogue_path(language: str):
    """The ``.po`` file of ``language`` inside the package."""
    return LOCALE_DIR.joinpath(language, "LC_MESSAGES", f"{DOMAIN}.po")


@functools.lru_cache(maxsize=None)
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the texts as written in the code)."""
    if language == DEFAULT:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    source = _DERIVED.get(language, language)
    with catalogue_path(source).open("rb") as fh:
        catalog = read_po(fh, locale=LANGUAGES[source], domain=DOMAIN)
    if source != language:
        for message in catalog:
            if message.id and message.string:
                message.string = (tuple(to_cyrillic(s) for s in message.string)
                                  if isinstance(message.string, (list, tuple)) else to_cyrillic(message.string))
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _(message: str) -> str:
    """``message`` in the active language (unchanged when the catalogue has no translation)."""
    return translations(current()).gettext(message)


def N_(message: str) -> str:
    """Mark a text for the catalogues where it is defined (a name in a table of constants) without
    translating it there: it is translated with :func:`_` where a reader sees it."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for ``n`` in the active language (Czech, Polish and Serbian
    have three forms; the catalogue's ``Plural-Forms`` header chooses)."""
    return translations(current()).ngettext(singular, plural, n)


def segment_label(name: object) -> object:
    """A segment's, tier's or stage's name in the active language (``GOOD`` -> ``dobrý zákazník``).

    Names built of words (k-means: ``recent, frequent, high spend``, possibly numbered ``(2)``) are
    translated word by word; anything else without a translation stays as it is.

    >>> with using("cs"):
    ...     segment_label("GOOD"), segment_label("recent, frequent, high spend (2)"), segment_label(3)
    ('dobrý zákazník', 'nedávný, častý, vysoká útrata (2)', 3)
    """
    if not isinstance(name, str) or not name:
        return name
    text = _(name)
    if text != name or ", " not in name:
        return text
    base, _sep, suffix = name.partition(" (")
    words = ", ".join(_(w) for w in base.split(", "))
    return words + (f" ({suffix}" if suffix else "")


# ---------------------------------------------------------------- Serbian Latin -> Cyrillic
_DIGRAPHS = {"Lj": "Љ", "LJ": "Љ", "lj": "љ", "Nj": "Њ", "NJ": "Њ", "nj": "њ", "Dž": "Џ", "DŽ": "Џ", "dž": "џ"}
_LETTERS = dict(zip("ABCČĆDĐEFGHIJKLMNOPRSŠTUVZŽabcčćdđefghijklmnoprsštuvzž",
                    "АБЦЧЋДЂЕФГХИЈКЛМНОПРСШТУВЗЖабцчћдђефгхијклмнопрсштувзж"))
#: kept as written: placeholders, markup, code, links, acronyms and identifiers (VIP, RFM, k-means)
_KEEP = re.compile(r"\{[^}]*\}|<[^>]*>|`[^`]*`|&\w+;|\bhttps?://\S+|\b[\w.-]*\.(?:csv|json|html|yml)\b"
                   r"|\b[A-Z][A-Z0-9/_-]+\b|\bk-means\b|\b[A-Za-z]+_[A-Za-z_]+\b|\([A-Z]\)|\bP\(alive\)")


def to_cyrillic(text: str) -> str:
    """Serbian Latin text in Cyrillic, leaving placeholders, markup, acronyms and identifiers alone.

    >>> to_cyrillic("Ključni kupac {name}: VIP, njegova vrednost u `actions.csv`")
    'Кључни купац {name}: VIP, његова вредност у `actions.csv`'
    """
    out, pos = [], 0
    for m in _KEEP.finditer(text):
        out.append(_transliterate(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_transliterate(text[pos:]))
    return "".join(out)


def _transliterate(text: str) -> str:
    text = re.sub("|".join(_DIGRAPHS), lambda m: _DIGRAPHS[m.group(0)], text)
    return "".join(_LETTERS.get(ch, ch) for ch in text)
