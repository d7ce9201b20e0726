"""Keeping the message catalogues in step with the code: extract, update, check.

Every reader-facing text is found with Babel's extractor, never by hand:

- Python code of the package: ``_("...")``, ``ngettext("...", "...", n)`` and ``N_("...")`` (a text
  marked where it is defined, translated where it is shown: segment, stage and action names);
- the notebooks: each Markdown cell whole (the runner shows the catalogue's text instead), and
  ``_()`` calls in code cells;
- ``schemes/rfm_segments.yml``: the RFM segments' names and descriptions.

``python -m segkit.catalogues`` writes the template ``locale/segkit.pot`` and merges it into each
language's ``segkit.po`` (new texts arrive untranslated, changed ones marked fuzzy, texts no longer
used become obsolete ``#~`` entries): the translator then fills in the empty and fuzzy entries.
:func:`problems` lists what a catalogue lacks; the test suite fails on any of it.

Example
-------
>>> template = extract()
>>> "Customers" in {m.id for m in template if isinstance(m.id, str)}
True
"""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract as babel_extract
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from .config import NOTEBOOKS_DIR
from .i18n import DOMAIN, LANGUAGES, _DERIVED, catalogue_path

__all__ = ["KEYWORDS", "extract", "update", "problems", "translated_languages"]

#: the functions whose first arguments are texts to translate (``ngettext``: singular and plural)
KEYWORDS: dict[str, Any] = {"_": None, "N_": None, "ngettext": (1, 2)}
#: in the notebooks' code cells also ``nb.text("...", name=...)``
NOTEBOOK_KEYWORDS: dict[str, Any] = {"_": None, "text": None}
PACKAGE = Path(str(resources.files("segkit")))


def translated_languages() -> list[str]:
    """The languages with a catalogue of their own (English is the source; ``sr-Cyrl`` is derived)."""
    return [code for code in LANGUAGES if code != "en" and code not in _DERIVED]


def extract(notebooks: Path | None = None) -> Catalog:
    """The template: every text of the package, its notebooks and the RFM segment map."""
    catalog = Catalog(domain=DOMAIN, project="segkit", charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, _context in extract_from_dir(
            str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True):
        if _usable(message):
            catalog.add(message, locations=[(f"segkit/{filename}", lineno)], auto_comments=comments)
    for path in sorted(Path(notebooks or NOTEBOOKS_DIR).glob("[0-9][0-9]_*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            source = "".join(cell["source"]).strip()
            if cell["cell_type"] == "markdown" and source:
                catalog.add(source, locations=[(f"notebooks/{path.name}", i + 1)],
                            auto_comments=["a Markdown cell of the notebook: keep the # headings and `code`"])
            elif cell["cell_type"] == "code" and ("_(" in source or "text(" in source):
                for _lineno, message, _comments, _context in babel_extract("python", io.BytesIO(source.encode()),
                                                                        keywords=NOTEBOOK_KEYWORDS):
                    if _usable(message):
                        catalog.add(message, locations=[(f"notebooks/{path.name}", i + 1)])
    from .schemes import registry

    for spec in registry.BUILTIN:  # scheme labels and how a sentence names them
        for text in {spec.label, spec.noun}:
            catalog.add(text, locations=[("segkit/schemes/registry.py", 1)], auto_comments=["a scheme's name"])
    segments = yaml.safe_load((PACKAGE / "schemes" / "rfm_segments.yml").read_text(encoding="utf-8"))["segments"]
    for seg in segments:
        for key in ("name", "description"):
            catalog.add(seg[key], locations=[("segkit/schemes/rfm_segments.yml", 1)],
                        auto_comments=["an RFM segment " + ("name (short, a label in tables)" if key == "name"
                                                            else "description")])
    return catalog


def _usable(message: Any) -> bool:
    """A text to translate (a call with a variable instead of a literal gives nothing to extract)."""
    if isinstance(message, (list, tuple)):
        return bool(message) and all(isinstance(m, str) and m for m in message)
    return isinstance(message, str) and bool(message)


def _read(language: str) -> Catalog:
    with catalogue_path(language).open("rb") as fh:
        return read_po(fh, locale=LANGUAGES[language], domain=DOMAIN)


def update(write_template: bool = True) -> dict[str, int]:
    """Write ``locale/segkit.pot`` and merge it into every catalogue; returns untranslated counts."""
    template = extract()
    locale_dir = PACKAGE / "locale"
    if write_template:
        with open(locale_dir / f"{DOMAIN}.pot", "wb") as fh:
            write_po(fh, template, width=100, omit_header=False, sort_output=False)
    counts = {}
    for language in translated_languages():
        path = Path(str(catalogue_path(language)))
        if path.exists():
            catalog = _read(language)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=LANGUAGES[language], domain=DOMAIN, project="segkit")
        catalog.update(template, update_header_comment=False)
        with open(path, "wb") as fh:
            write_po(fh, catalog, width=100, include_previous=True)
        counts[language] = len(problems(language, template))
    return counts


def problems(language: str, template: Catalog | None = None) -> list[str]:
    """What the catalogue of ``language`` lacks: missing, untranslated, fuzzy or stale entries,
    and translations that lose a ``{placeholder}`` of the English text."""
    import re

    template = template or extract()
    catalog = _read(language)
    out = []
    wanted = {m.id: m for m in template if m.id}
    have = {m.id: m for m in catalog if m.id}
    for key, message in wanted.items():
        found = have.get(key)
        first = key if isinstance(key, str) else key[0]
        if found is None:
            out.append(f"missing: {first[:70]!r}")
        elif found.fuzzy:
            out.append(f"fuzzy: {first[:70]!r}")
        elif not all(found.string) if isinstance(found.string, (list, tuple)) else not found.string:
            out.append(f"untranslated: {first[:70]!r}")
        else:
            strings = found.string if isinstance(found.string, (list, tuple)) else [found.string]
            ids = [key] if isinstance(key, str) else list(key)
            names = [set(re.findall(r"\{(\w*)[^}]*\}", text)) for text in ids]
            # a plural form may leave out the count ("the only cut-off") but nothing else, and add nothing
            needed, allowed = set.intersection(*names), set.union(*names)
            for s in strings:
                got = set(re.findall(r"\{(\w*)[^}]*\}", s))
                if not needed <= got <= allowed:
                    out.append(f"placeholders differ: {first[:70]!r}")
                    break
    out += [f"stale (no longer in the code): {(k if isinstance(k, str) else k[0])[:70]!r}"
            for k in have if k not in wanted]
    return out


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    for lang, n in update().items():
        print(f"{lang}: {n} entries to translate or check")
