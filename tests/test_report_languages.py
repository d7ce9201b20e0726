"""The management report in every language, opened in headless Chromium: no English prose left,
numbers written the language's way, nothing wider than the page.

One ``segkit run`` publishes the same small run (the synthetic distributor's EU customers, with a
policy) once per language, executing the comparison notebook only (the one ``report.html`` comes
from), two runs at a time.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from segkit import formats
from segkit.config import DATA_DIR, NOTEBOOKS_DIR
from segkit.i18n import LANGUAGES, using

from .conftest import chromium_path

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OTHER_LANGUAGES = [code for code in LANGUAGES if code != "en"]
#: words that only English prose uses (none of them is a word of cs, pl, ro or sr: not "by", Polish, nor
#: "are", Romanian)
ENGLISH = {"the", "of", "and", "with", "which", "is", "for", "that", "this", "from", "their", "what",
           "how", "each", "every", "when", "not", "only", "than", "more", "customers", "customer", "were", "was",
           "has", "have", "after", "before", "into", "its", "they", "who", "would", "there", "recommended", "shows",
           "month", "months", "share", "revenue", "ranking", "ordering", "scheme", "schemes", "best", "next",
           "analysis", "amount", "file", "covers", "held", "score", "order", "orders", "bought", "paid"}
#: texts a report may show in English in every language: product, method and file names, identifiers
ALLOWED = re.compile(r"`[^`]*`|\b[a-z]+_[a-z_]+\b|\b[\w-]+\.(?:csv|json|html|gz)\b|segkit|k-means|RFM|BG/NBD|"
                     r"Gamma-Gamma|Calinski-Harabasz|Davies-Bouldin|P\(alive\)|SHA-256|Spearman|Jaccard|AUC|ARI")
_MEASURE_SCRIPT = """<script>
window.addEventListener('load', () => {
  const wide = [...document.querySelectorAll('.segkit-kpi, h1, h2, h3, p, li, .jp-RenderedHTMLCommon')]
    .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible')
    .map(e => e.tagName + ':' + e.textContent.slice(0, 40));
  const out = document.createElement('pre');
  out.id = 'segkit-layout';
  out.textContent = JSON.stringify({page: document.documentElement.scrollWidth, view: window.innerWidth, wide});
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    from segkit.cli import main

    root = tmp_path_factory.mktemp("languages")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    shutil.copy2(NOTEBOOKS_DIR / "05_compare.ipynb", notebooks / "05_compare.ipynb")
    runs = "".join(
        f"  - name: lang-{code.lower()}\n    language: {code}\n" for code in OTHER_LANGUAGES)
    (root / "reports.yml").write_text(
        "out: out\n"
        "defaults:\n"
        f"  data: {DATA_DIR / 'synthetic' / 'b2b.csv.gz'}\n"
        "  columns: {customer_id: customer_id, date: date, amount: amount, quantity: quantity, cost: cost,\n"
        "            order_id: order_id, region: region}\n"
        "  filter: {region: EU}\n  strategy: dividends\n  currency: EUR\n  notebooks: notebooks\n"
        "  backtest_origins: 1\n"
        "  policy: {VIP: {relationship: dedicated account manager, discount_pct: 5, cost_to_serve_per_month: 40,\n"
        "                 customers_per_manager: 40, managers: 2},\n"
        "           GOOD: {relationship: personal assistance, discount_pct: 2, cost_to_serve_per_month: 8},\n"
        "           REGULAR: {relationship: self-service, cost_to_serve_per_month: 1}}\n"
        f"runs:\n{runs}", encoding="utf-8")
    assert main(["run", str(root / "reports.yml"), "--jobs", "2"]) == 0
    return root / "out"


def _dom(chromium: str, page: Path) -> str:
    probe = page.with_name("probe-" + page.name)
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _MEASURE_SCRIPT + "</body>"),
                     encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1280,3000", "--virtual-time-budget=5000", "--dump-dom",
             probe.as_uri()], capture_output=True, text=True, timeout=180).stdout


def _text(dom: str) -> str:
    body = re.sub(r"<(style|script|pre id=\"segkit-layout\")[^>]*>.*?</(style|script|pre)>", " ", dom, flags=re.S)
    # collapse ordinary white space only: the no-break spaces are part of the numbers being checked
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "\n", body).replace("&nbsp;", "\xa0"))


def english_sentences(text: str) -> list[str]:
    """Pieces of ``text`` that read as English prose: three or more English-only words in one clause.

    >>> english_sentences("Zákazníci: 1 915. The analysis covers 100% of the net amount; `customer_id`")
    ['The analysis covers 100% of the net amount']
    """
    out = []
    for clause in re.split(r"[.;:!?()\n]|\s[–—]\s", ALLOWED.sub(" ", text)):
        words = {w.lower() for w in re.findall(r"[A-Za-z]+", clause)}
        if len(words & ENGLISH) >= 3:
            out.append(clause.strip())
    return out


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_report_reads_in_the_language_with_its_number_formats(published, language):
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium is not installed (make browser installs it)")
    run = published / f"lang-{language.lower()}"
    dom = _dom(chromium, run / "report.html")
    assert f'lang="{language}"' in dom
    text = _text(dom)
    assert english_sentences(text) == []
    # the key numbers of the headline, written the language's way (and not the English way)
    scorecard = json.loads((run / "scorecard.json").read_text(encoding="utf-8"))
    customers = sum(1 for _ in (run / "assignments.csv").open(encoding="utf-8")) - 1
    rec = scorecard["recommended"]
    share = next(iter(scorecard["schemes"][rec]["comparison"]["capture_at"].values()))
    capture = scorecard["schemes"][rec]["comparison"]["capture_at"]["0.2"]
    with using(language):
        assert formats.pct(capture) in text
        assert formats.decimal(scorecard["schemes"][rec]["comparison"]["capture_auc"]) in text
        assert formats.date(scorecard["backtest"][0]["as_of"]) in text
    assert share is not None and customers > 0
    if language in ("cs", "pl"):  # decimal comma: no English decimal point outside versions and parameters
        prose = re.sub(r"\b\d+\.\d+\.\d+\b|\b\w+=\S+", "", text)
        assert not re.search(r"\b\d+\.\d{2}\b", prose), re.findall(r".{30}\b\d+\.\d{2}\b.{10}", prose)[:3]
    assert "USD" not in text and "$" not in text  # the run is in EUR
    from babel.numbers import get_currency_symbol

    from segkit.i18n import babel_locale

    # money carries the run's currency as the language writes it (€, or EUR in Romanian)
    assert get_currency_symbol("EUR", locale=babel_locale(language)) in text
    # nothing wider than the page: long words break inside their boxes
    layout = json.loads(re.search(r'<pre id="segkit-layout">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    assert layout["page"] <= layout["view"], layout
    assert layout["wide"] == [], layout["wide"]


def test_index_page_speaks_each_runs_language(published):
    html = (published / "index.html").read_text(encoding="utf-8")
    assert 'lang="en"' in html  # runs in several languages: the page itself stays English
    with using("cs"):
        from segkit.i18n import _

        assert f">{_('Report')}<" in html and _("Published") in html
