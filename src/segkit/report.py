"""Render executed notebooks as HTML pages for readers who never see code.

Analyst pages show each notebook's narrative, tables and figures without code. The management
report (``report.html``, from ``05_compare``) uses the same renderer with the report style. Both
are single self-contained files: figures are embedded as base64 PNG, no script or style is
loaded from the network, so they open offline and print cleanly.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from traitlets.config import Config

__all__ = ["render_notebook_html", "translate_markdown", "REMOVE_TAGS"]

#: cells tagged with one of these are left out of every HTML page (plumbing, not content)
REMOVE_TAGS = ("remove-cell", "hide", "parameters", "injected-parameters")

_EXTERNAL_SCRIPT = re.compile(r"<script[^>]+src=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)
_EXTERNAL_LINK = re.compile(r"<link[^>]+href=\"https?://[^\"]*\"[^>]*>", re.I)
_MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)


def _css(management: bool) -> str:
    base = resources.files("segkit").joinpath("templates/report.css").read_text(encoding="utf-8")
    return base + ("\nbody{--segkit-accent:#0b4f6c}\n" if management else "")


def translate_markdown(ipynb_path: str | Path, language: str) -> Path:
    """Write the notebook's Markdown cells in ``language``, from the message catalogues.

    A Markdown cell's English text is its message id (:mod:`segkit.catalogues` extracts it), so the
    notebooks keep one text per cell, the catalogues hold every other language, and the executed
    notebook, its HTML page and the report read in the run's language.
    """
    from .i18n import _, using

    path = Path(ipynb_path)
    nb = nbformat.read(str(path), as_version=4)
    with using(language):
        for cell in nb.cells:
            if cell.get("cell_type") == "markdown" and cell.source.strip():
                cell.source = _(cell.source.strip())
    nbformat.write(nb, str(path))
    return path


def render_notebook_html(ipynb_path: str | Path, html_path: str | Path, *, management: bool = False,
                         title: str = "segkit report", language: str = "en") -> Path:
    """Write ``html_path`` from an executed notebook: no code, figures embedded, offline-safe."""
    nb = nbformat.read(str(ipynb_path), as_version=4)
    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_TAGS)
    c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=c, template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = _MATHJAX_BLOCK.sub("", body)
    body = _EXTERNAL_SCRIPT.sub("", body)
    body = _EXTERNAL_LINK.sub("", body)
    body = body.replace("</head>", f"<style>{_css(management)}</style>\n</head>", 1)
    cls = "segkit-report management" if management else "segkit-report analyst"
    body = re.sub(r"<body([^>]*)>", lambda m: f'<body{m.group(1)} data-segkit="{cls}">', body, count=1)
    # the page says its language: browsers hyphenate long words and screen readers speak it right
    body = re.sub(r"<html([^>]*)>", lambda m: f'<html{re.sub(r" lang=.[^ >]*", "", m.group(1))} lang="{language}">',
                  body, count=1)
    out = Path(html_path)
    out.write_text(body, encoding="utf-8")
    return out
