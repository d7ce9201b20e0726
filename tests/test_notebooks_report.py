"""The notebooks in git, the executed CDNOW report, what a browser shows, and numbers re-derived from files."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from segkit.config import CDNOW_PATH, NOTEBOOKS_DIR

from .conftest import chromium_path

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
#: the notebook that renders report.html (it computes its analysis itself in the defaults test)
REPORT_NOTEBOOK = NOTEBOOKS_DIR / "05_compare.ipynb"
pytestmark = pytest.mark.xdist_group("published")


def test_the_notebooks_exist_in_reading_order():
    assert [p.stem for p in NOTEBOOKS] == ["01_data_profile", "02_percentile_tiers", "03_rfm", "04_kmeans",
                                           "05_compare", "06_potential"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_in_git_have_no_outputs_and_one_parameters_cell(path):
    nb = nbformat.read(str(path), as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert not any(re.search(r"^\s*(def|class) ", c.source, re.M) for c in nb.cells if c.cell_type == "code")
    assert "/work/" not in path.read_text() and "autoreload" not in path.read_text()


@pytest.mark.slow
def test_published_run_has_every_file(published_run):
    names = {p.name for p in published_run.iterdir()}
    assert {"report.html", "assignments.csv", "tiers_monthly.csv", "alerts.csv", "scorecard.json", "run.json"} <= names
    assert {f"{p.stem}.html" for p in NOTEBOOKS} <= names
    assert {p.name for p in (published_run / "notebooks").iterdir()} == {p.name for p in NOTEBOOKS}
    run = json.loads((published_run / "run.json").read_text())
    assert set(run["seconds_per_notebook"]) == {p.stem for p in NOTEBOOKS}
    for nb_path in (published_run / "notebooks").iterdir():
        nb = nbformat.read(str(nb_path), as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, nb_path.name
    index = (published_run.parent / "index.html").read_text()
    assert "cdnow-revenue/report.html" in index and "Published" in index


@pytest.mark.slow
def test_report_html_is_self_contained_and_plain(published_run):
    html = (published_run / "report.html").read_text()
    assert "Recommendation: use" in html
    assert not re.search(r"<script[^>]+src=\"https?://", html) and not re.search(r"<link[^>]+href=\"https?://", html)
    assert html.count("data:image/png;base64") >= 5
    assert 'class="highlight' not in html and "nb.open_run(" not in html  # no code cells rendered
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html  # override reason escaped
    text = re.sub(r"data:image/[^\"']+", "", html)  # base64 figures can contain any letters
    for bad in ("Traceback", "NaN", ">nan<", " nan ", "Error:"):
        assert bad not in text, bad
    assert "SHA-256" in html and json.loads((published_run / "run.json").read_text())["data"]["sha256"] in html


@pytest.mark.slow
def test_report_shows_the_baselines_the_backtest_and_every_schemes_evidence(published_run):
    html = (published_run / "report.html").read_text()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"data:image/[^\"']+", "", html)))
    sc = json.loads((published_run / "scorecard.json").read_text())
    # the verdict first, with the price of boxes and the simple rankings in plain words
    assert text.index("Recommendation: use") < text.index("The schemes and the simple rankings side by side")
    assert "A simple ranking beats every scheme" in text and "price of putting customers in boxes" in text
    assert "last-6-month value (simple ranking)" in text.lower() and "last-purchase date (simple ranking)" in text.lower()
    from segkit.formats import date

    for o in sc["backtest"]:  # every cut-off of the backtest is a row, its date written the reader's way
        assert date(o["as_of"]) in text
    assert "Does the verdict hold at earlier cut-offs?" in text and "Does the verdict move?" in text
    assert "Does each segment keep buying?" in text and "How much do customers move?" in text
    # figures: capture curves, one retention and one migration figure per scheme, agreement
    assert html.count("data:image/png;base64") >= 2 + 2 * len(sc["schemes"])
    assert "Normalised mutual information" in text or "normalised mutual information" in text
    assert "placed by hand" in text and "Weighted" not in text and "Score</th>" not in text


@pytest.mark.slow
def test_analyst_pages_show_no_code_and_no_missing_numbers(published_run):
    pages = sorted(published_run.glob("0[0-9]_*.html"))
    assert [p.stem for p in pages] == [p.stem for p in NOTEBOOKS]
    for page in pages:
        html = page.read_text()
        text = re.sub(r"data:image/[^\"']+", "", html)
        for bad in ("Traceback", "NaN", ">nan<", " nan ", "Error:", "None</td>"):
            assert bad not in text, (page.name, bad)
        assert "nb.open_run(" not in html and 'class="highlight' not in html, page.name
        assert html.count("data:image/png;base64") >= 1, page.name


@pytest.mark.slow
@pytest.mark.browser
def test_report_in_headless_chromium(published_run):
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium is not installed (make browser installs it)")
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
             (published_run / "report.html").as_uri()],
            capture_output=True, text=True, timeout=120).stdout
    assert "Recommendation: use" in dom
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", dom, flags=re.S))
    assert "Traceback" not in text and not re.search(r"\bnan\b", text, re.I)
    assert "analysis = nb.open_run" not in text and "import " not in text  # no code visible
    assert len(re.findall(r"<img[^>]+src=\"data:image/png", dom)) >= 5


@pytest.mark.slow
def test_scorecard_numbers_recomputed_from_exported_files(published_run):
    """An auditor's check: assignments.csv + the raw transactions reproduce scorecard.json."""
    sc = json.loads((published_run / "scorecard.json").read_text())
    a = pd.read_csv(published_run / "assignments.csv", dtype={"customer_id": str})
    prospect = a["percentile_tier"].isna()  # placed by hand before a first purchase: not evaluated
    assert a.loc[prospect, "customer_id"].tolist() == ["REF01"]
    assert a.loc[prospect, ["override_tier", "recommended_segment"]].values.tolist() == [["VIP", "VIP"]]
    a = a[~prospect].reset_index(drop=True)
    raw = pd.read_csv(CDNOW_PATH, dtype={"customer_id": str}, parse_dates=["date"])
    hold = raw[(raw["date"] >= sc["holdout"]["start"]) & (raw["date"] <= sc["holdout"]["end"])]
    rev = hold.groupby("customer_id")["amount"].sum().reindex(a["customer_id"]).fillna(0).to_numpy()
    bought = hold[hold["amount"] > 0].groupby("customer_id").size().reindex(a["customer_id"]).fillna(0).to_numpy() > 0
    columns = {"percentile_tiers": "percentile_tier", "rfm": "rfm_segment", "kmeans": "kmeans_name",
               "potential": "potential_tier"}
    for scheme, col in columns.items():
        segs = sc["schemes"][scheme]["segments"]
        rank_of = {s["label"]: s["rank"] for s in segs}
        rank = a[col].map(rank_of).to_numpy()
        assert not np.isnan(rank.astype(float)).any(), scheme
        m = sc["schemes"][scheme]["metrics"]
        top = rank == 1
        assert m["top_segment_share"] == pytest.approx(top.mean(), abs=1e-6)
        assert m["top_segment_holdout_revenue_share"] == pytest.approx(rev[top].sum() / rev.sum(), abs=1e-6)
        assert m["top_segment_lift"] == pytest.approx(rev[top].sum() / rev.sum() / top.mean(), abs=1e-5)
        assert m["holdout_spearman"] == pytest.approx(spearmanr(-rank, rev).statistic, abs=1e-6)
        assert m["holdout_activity_auc"] == pytest.approx(roc_auc_score(bought, -rank), abs=1e-6)
        assert m["n_segments"] == len(segs)
        counts = a[col].value_counts()
        assert m["min_segment_share"] == pytest.approx(counts.min() / len(a), abs=1e-6)
        for s in segs:
            member = (a[col] == s["label"]).to_numpy()
            assert s["customers"] == counts[s["label"]] == member.sum()
            assert s["share"] == pytest.approx(member.mean(), abs=1e-6)
            assert s["holdout_revenue"] == pytest.approx(rev[member].sum(), abs=1e-4)
            assert s["holdout_revenue_share"] == pytest.approx(rev[member].sum() / rev.sum(), abs=1e-6)
            assert s["retention"] == pytest.approx(bought[member].mean(), abs=1e-6)
            assert s["revenue_per_customer"] == pytest.approx(rev[member].mean(), abs=1e-4)
        for key, (lo, hi) in sc["schemes"][scheme]["ci95"].items():
            assert lo <= m[key] <= hi, (scheme, key)
    assert sc["recommended"] in columns
    rec_col = columns[sc["recommended"]]
    manual = a["override_tier"].notna()
    # customers placed by hand get the recommended scheme's segment of their tier's rank (VIP: rank 1)
    assert (a.loc[~manual, "recommended_segment"] == a.loc[~manual, rec_col]).all()
    rank_one = next(s["label"] for s in sc["schemes"][sc["recommended"]]["segments"] if s["rank"] == 1)
    assert a.loc[a["customer_id"] == "00042", "override_tier"].item() == "VIP"
    assert a.loc[a["customer_id"] == "00042", "recommended_segment"].item() == rank_one


@pytest.mark.slow
def test_report_and_potential_page_show_who_is_worth_more(published_run):
    html = (published_run / "report.html").read_text()
    sc = json.loads((published_run / "scorecard.json").read_text())
    model = sc["models"]["potential"]
    assert model["fitted"] and "Who is worth more tomorrow" in html
    assert "<strong>12,265</strong>" in html  # the purchases CDNOW customers made in the holdout
    assert "REF01" in html and "prospect (no purchase yet)" in html
    page = (published_run / "06_potential.html").read_text()
    for heading in ("Calibration vs holdout", "Who is still active?", "Headroom against similar customers",
                    "Dropout alerts: the seed rule against the model", "Key-account candidates"):
        assert heading in page, heading
    assert page.count("data:image/png;base64") >= 2  # the holdout plot and the P(alive) matrix
    alerts = pd.read_csv(published_run / "alerts.csv", dtype={"customer_id": str})
    flagged = alerts.groupby("rule").size()
    assert f"{flagged['vip_dropout']:,}" in page and f"{flagged['p_alive']:,}" in page


@pytest.mark.slow
def test_stability_ari_recomputed_from_two_exported_runs(published_run, tmp_path):
    """stability_ari of the rule-based schemes = ARI between this run's assignments and those of a run
    made one month earlier with `segkit segment --as-of` (k-means keeps this run's k, so it is not re-derived)."""
    from sklearn.metrics import adjusted_rand_score

    from segkit.cli import main

    sc = json.loads((published_run / "scorecard.json").read_text())
    assert sc["calibration"]["end"] == "1997-12-31"
    earlier = tmp_path / "earlier"
    assert main(["segment", str(CDNOW_PATH), "--out", str(earlier), "--as-of", "1997-11-30",
                 "--strategy", "working-capital"]) == 0
    now = pd.read_csv(published_run / "assignments.csv", dtype=str).set_index("customer_id")
    before = pd.read_csv(earlier / "assignments.csv", dtype=str).set_index("customer_id")
    common = now.index.intersection(before.index)
    for scheme, col in (("percentile_tiers", "percentile_tier"), ("rfm", "rfm_segment")):
        ari = adjusted_rand_score(now.loc[common, col], before.loc[common, col])
        assert sc["schemes"][scheme]["metrics"]["stability_ari"] == pytest.approx(ari, abs=1e-6), scheme


def test_parameters_cells_are_the_run_parameters_with_their_defaults():
    """Every RunParams field a notebook reads (and ``cache_dir``) is in each parameters cell, as a
    plain value, with RunParams' default where RunParams has one; the runner's own keys
    (``notebooks``) are not; the setup cell right after it is the one call."""
    import dataclasses

    import papermill as pm

    from segkit.config import RunParams

    fields = list(RunParams.notebook_fields())
    runner_only = {f.name for f in dataclasses.fields(RunParams)} - set(fields)
    assert runner_only == {"notebooks"}  # a new key is a notebook parameter unless marked otherwise
    first = None
    for path in NOTEBOOKS:
        inspected = pm.inspect_notebook(str(path))
        assert list(inspected) == [*fields, "cache_dir"], path.stem  # same names, same order
        values = {k: eval(v["default"]) for k, v in inspected.items()}  # noqa: S307 - our own literal defaults
        first = first or values
        assert values == first, path.stem  # the five cells are identical
        nb = nbformat.read(str(path), as_version=4)
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        setup = nb.cells[at + 1].source
        assert "analysis = nb.setup(globals())" in setup and "open_run" not in setup, path.stem
    defaults = RunParams(name=first["name"], data=first["data"]).to_dict()
    for key in fields:
        if key not in ("name", "data", "columns", "currency"):  # the notebooks open CDNOW (in USD) by hand
            assert first[key] == defaults[key], key
    assert first["cache_dir"] == ""
    assert RunParams.from_mapping({k: first[k] for k in fields}, base_dir=NOTEBOOKS_DIR).criterion == "revenue"


@pytest.mark.slow
@pytest.mark.xdist_group("nbval")  # its own worker group: it does not need the published run
def test_notebooks_run_all_with_nbval():
    """What an analyst gets from "restart and run all" in JupyterLab, checked by nbval: every notebook
    with its own defaults (no injected parameters, each computes its analysis), cwd ``notebooks/``.

    ``--nbval-lax`` fails on any error and does not compare outputs (figures and timings vary).
    """
    import os
    import sys

    code_cells = sum(c.cell_type == "code" for p in NOTEBOOKS for c in nbformat.read(str(p), as_version=4).cells)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-o", "addopts=", *map(str, NOTEBOOKS)],
                          cwd=str(NOTEBOOKS_DIR), env={**os.environ, "MPLBACKEND": "Agg"},
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(rf"\b{code_cells} passed\b", proc.stdout), proc.stdout[-1000:]
