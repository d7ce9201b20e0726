"""The message catalogues: every text of the code and notebooks translated in every language,
nothing stale, plural forms as the language has them, and the catalogues shipped in the wheel."""

from __future__ import annotations

import re

import pytest

from segkit import catalogues
from segkit.i18n import LANGUAGES, _, catalogue_path, ngettext, to_cyrillic, translations, using


@pytest.fixture(scope="module")
def template():
    return catalogues.extract()


def test_extraction_finds_the_texts_of_code_notebooks_and_segment_map(template):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    assert "Recommendation: use {name}" in ids  # Python code
    assert any(i.startswith("## Why\n\n") for i in ids)  # a notebook's Markdown cell
    assert "Adjusted Rand index" in ids  # a notebook's code cell
    assert {"Champions", "At Risk", "GOOD", "dissolution", "Win-back call"} <= ids  # display names
    assert "the only cut-off" in ids  # the singular of a plural message


@pytest.mark.parametrize("language", catalogues.translated_languages())
def test_every_message_is_translated_and_none_is_stale(language, template):
    assert catalogue_path(language).is_file(), f"no catalogue for {language}"
    assert catalogues.problems(language, template) == []


def test_problems_names_missing_fuzzy_and_stale_entries(tmp_path, monkeypatch, template):
    """The completeness check fails on each kind of gap (a copy of a catalogue, damaged on purpose)."""
    from babel.messages.pofile import read_po, write_po

    with catalogue_path("cs").open("rb") as fh:
        cat = read_po(fh, locale="cs")
    del cat["Customers"]
    cat["Recommendation: use {name}"].flags.add("fuzzy")
    cat.add("A sentence the code no longer has", "Věta, kterou kód už nemá")
    cat["Segment"].string = ""
    cat["Customer segmentation: {name}"].string = "Segmentace zákazníků"  # lost its placeholder
    folder = tmp_path / "cs" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "segkit.po", "wb") as fh:
        write_po(fh, cat)
    monkeypatch.setattr(catalogues, "catalogue_path", lambda lang: folder / "segkit.po")
    found = catalogues.problems("cs", template)
    kinds = sorted({p.split(":")[0] for p in found})
    assert kinds == ["fuzzy", "missing", "placeholders differ", "stale (no longer in the code)", "untranslated"]


@pytest.mark.parametrize("language, forms", [("cs", ("zákazník", "zákazníci", "zákazníků")),
                                             ("pl", ("klient", "klientów", "klientów")),
                                             ("sr", ("kupac", "kupca", "kupaca"))])
def test_three_plural_forms(language, forms):
    with using(language):
        words = [ngettext("{n} customer", "{n} customers", n).format(n=n).split(" ", 1)[1] for n in (1, 3, 5)]
    assert tuple(words) == forms
    # 22 takes the few-form in Polish and Serbian grammar, the many-form in Czech
    expected_22 = {"cs": "zákazníků", "pl": "klientów", "sr": "kupca"}[language]
    assert translations(language).ngettext("{n} customer", "{n} customers", 22).endswith(expected_22)


def test_english_is_the_source_and_an_unknown_text_passes_through():
    with using("en"):
        assert _("Customers") == "Customers"
    with using("cs"):
        assert _("no such text") == "no such text"


def test_serbian_cyrillic_is_the_latin_catalogue_transliterated():
    with using("sr"):
        latin = _("Customers")
    with using("sr-Cyrl"):
        assert _("Customers") == to_cyrillic(latin) and _("Customers") != latin
    assert to_cyrillic("Ljubljana, džep, VIP `actions.csv` {name}") == "Љубљана, џеп, VIP `actions.csv` {name}"


def test_every_language_has_its_line_in_the_readme():
    from segkit.config import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for language in LANGUAGES:
        assert f"`{language}`" in readme, language


def test_catalogues_and_glossary_are_package_data():
    """pyproject.toml ships the catalogues (tests/test_install.py builds the wheel and opens a report)."""
    import tomllib

    from segkit.config import PROJECT_ROOT

    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "locale/*/LC_MESSAGES/*.po" in data["segkit"] and "locale/*.md" in data["segkit"]
    assert (PROJECT_ROOT / "src" / "segkit" / "locale" / "glossary.md").is_file()


def test_no_translated_text_hides_inside_an_f_string():
    """The extractor cannot see ``_("...")`` inside an f-string: such a text would never be translated."""
    import io
    import tokenize

    from segkit.config import PACKAGE_DIR

    hidden = []
    for path in PACKAGE_DIR.rglob("*.py"):
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
            if tok.type == tokenize.STRING and tok.string[:2].lower() in ('f"', "f'") and re.search(
                    r"\b(_|ngettext)\(['\"]", tok.string):
                hidden.append(f"{path.name}:{tok.start[0]}")
    assert hidden == []
