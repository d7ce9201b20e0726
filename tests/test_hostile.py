"""Hostile data: markup, scripts, quotes, newlines, long and non-Latin text go through `segkit run`.

Customer ids, attribute values, override reasons, the filter and the title carry payloads that
would set ``data-pwned`` on the page's body if a browser ran them. Every HTML page must show them
escaped (and intact), the CSVs must give them back unchanged (formulas prefixed with ``'``), a real
browser must run none of them, and the same config run twice gives byte-identical files.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segkit.cli import main
from segkit.publish import OutputFolder
from tests.conftest import chromium_path
from tests.test_cli import small_csv, tiny_notebooks

SCRIPT = "<script>document.body.setAttribute('data-pwned','script')</script>"
IMG = '<img src=x onerror="document.body.setAttribute(\'data-pwned\',\'img\')">'
FORMULAS = ['=HYPERLINK("http://example.com","click")', "+420 123 456", "-1+1", "@SUM(A1:A9)"]
HOSTILE_IDS = [
    SCRIPT, IMG, '"Quoted" O\'Brien & Co; a,b', "line one\nline two", "L" * 3000,
    "Žluťoučký kůň úpěl ďábelské ódy", "客户有限公司", "شركة العملاء", *FORMULAS,
]
REGIONS = ["<b>EU</b> & co", "Čechy <script>document.body.setAttribute('data-pwned','region')</script>"]
TITLE = "Q3 <img src=x onerror=\"document.body.setAttribute('data-pwned','title')\"> & \"partners\""
REASONS = {SCRIPT: "strategic <script>alert(1)</script>", "客户有限公司": "战略客户 \"key\" & <b>bold</b>",
           "شركة العملاء": "عميل استراتيجي", FORMULAS[0]: "=cmd|' /C calc'!A0"}


def _safe(text: str) -> str:
    return "'" + text if text.startswith(("=", "+", "-", "@")) else text


def hostile_project(root: Path) -> tuple[Path, pd.DataFrame]:
    """A ~150-customer file whose biggest customers have hostile ids, plus a config using it all."""
    frame = pd.read_csv(small_csv(root / "base.csv", seed=3), dtype={"customer_id": str})
    top = frame.groupby("customer_id")["amount"].sum().sort_values(ascending=False).index[:len(HOSTILE_IDS)]
    rename = dict(zip(top, HOSTILE_IDS))
    frame["customer_id"] = frame["customer_id"].map(lambda c: rename.get(c, c))
    frame["region"] = np.where(np.arange(len(frame)) % 2 == 0, REGIONS[0], REGIONS[1])
    frame.to_csv(root / "hostile.csv", index=False)
    overrides = pd.DataFrame({"customer_id": list(REASONS), "tier": "VIP", "reason": list(REASONS.values())})
    overrides.to_csv(root / "overrides.csv", index=False)
    config = root / "reports.yml"
    config.write_text(
        "out: out\nruns:\n  - name: hostile\n    data: hostile.csv\n    holdout_months: 3\n    k_range: [2, 3]\n"
        f"    columns: {{region: region}}\n    overrides: overrides.csv\n    title: {json.dumps(TITLE)}\n"
        f"    filter: {{region: {json.dumps(REGIONS)}}}\n", encoding="utf-8")
    return config, frame


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    config, frame = hostile_project(root)
    assert main(["run", str(config)]) == 0
    return root / "out", frame


def _pages(out: Path) -> list[Path]:
    pages = sorted((out / "hostile").glob("*.html")) + [out / "index.html"]
    assert len(pages) == 8  # report, six notebooks, index
    return pages


def _escaped_forms(text: str) -> set[str]:
    return {html.escape(text, quote=False), html.escape(text, quote=True)}


@pytest.mark.slow
def test_every_page_shows_hostile_text_escaped_and_intact(hostile_run):
    out, _ = hostile_run
    seen: dict[str, set[str]] = {}
    for page in _pages(out):
        text = page.read_text(encoding="utf-8")
        # no payload as markup: an executable <script> is only one nbconvert itself may not add
        for payload in (SCRIPT, IMG, TITLE, *REGIONS, *REASONS.values()):
            assert payload not in text or "<" not in payload, (page.name, payload[:40])
        assert "<img src=x" not in text and "<script>document" not in text and "<script>alert" not in text
        assert not re.search(r"<[a-z]+[^>]*\sonerror\s*=", text), page.name
        # the title is on every page, escaped and whole
        assert any(form in text for form in _escaped_forms(TITLE)), page.name
        for value in (*HOSTILE_IDS, *REGIONS, *REASONS.values()):
            if any(form in text for form in _escaped_forms(value)):
                seen.setdefault(value, set()).add(page.name)
    # the manual placements (hostile ids and reasons, non-Latin scripts) reach the report intact
    for cid, reason in REASONS.items():
        assert cid in seen and reason in seen, (cid[:20], reason[:20], seen.get(cid), seen.get(reason))
    for region in REGIONS:
        assert region in seen  # the filter values, shown with the run's parameters


@pytest.mark.slow
def test_csvs_give_the_ids_back_intact(hostile_run):
    out, frame = hostile_run
    folder = out / "hostile"
    a = pd.read_csv(folder / "assignments.csv", dtype=str, keep_default_na=False)
    as_of = json.loads((folder / "scorecard.json").read_text())["calibration"]["end"]
    bought = frame[(frame["date"] <= as_of) & (frame["amount"] > 0)]
    expected = sorted({_safe(c) for c in bought["customer_id"]})
    assert sorted(a["customer_id"]) == expected  # every buying customer seen up to as_of, nothing altered
    for hostile in HOSTILE_IDS:
        assert _safe(hostile) in set(a["customer_id"])
    for formula in FORMULAS:
        assert formula not in set(a["customer_id"]) and "'" + formula in set(a["customer_id"])
    placed = a.set_index("customer_id")
    for cid, reason in REASONS.items():
        assert placed.loc[_safe(cid), "override_reason"] == _safe(reason)
        assert placed.loc[_safe(cid), "override_tier"] == "VIP"
    monthly = pd.read_csv(folder / "tiers_monthly.csv", dtype=str, keep_default_na=False)
    alerts = pd.read_csv(folder / "alerts.csv", dtype=str, keep_default_na=False)
    actions = pd.read_csv(folder / "actions.csv", dtype=str, keep_default_na=False)
    for table in (monthly, alerts, actions):
        assert set(table["customer_id"]) <= set(expected)
        assert not any(c.startswith(("=", "+", "-", "@")) for c in table["customer_id"])
    assert set(HOSTILE_IDS[:8]) & set(monthly["customer_id"])  # the big hostile customers are ranked
    # a spreadsheet opening the file sees text, not formulas
    raw = (folder / "assignments.csv").read_text(encoding="utf-8")
    for line in raw.splitlines():
        for cell in line.split(","):
            assert not cell.lstrip('"').startswith(("=", "@", "+")), cell[:40]


@pytest.mark.slow
@pytest.mark.browser
def test_a_browser_runs_none_of_the_payloads(hostile_run, tmp_path):
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium is not installed")
    out, _ = hostile_run

    def dom(page: Path) -> str:
        profile = tmp_path / f"profile-{page.stem}-{page.parent.name}"
        profile.mkdir()
        result = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    # the check can fail: the same payloads as markup do set the marker
    control = tmp_path / "control.html"
    control.write_text(f"<!DOCTYPE html><html><body><p>{SCRIPT}</p><p>{IMG}</p></body></html>", encoding="utf-8")
    assert re.search(r'data-pwned="(script|img)"', dom(control))
    for page in _pages(out):
        text = dom(page)
        assert "<body" in text and len(text) > 1000, page.name
        assert not re.search(r'data-pwned="', text), page.name


def test_run_names_cannot_leave_the_output_folder(tmp_path, capsys):
    folder = OutputFolder(tmp_path / "out")
    for name in ("../escape", "/etc", "a/b", "..", "", "UPPER", "x\n"):
        with pytest.raises(Exception) as err:
            folder.staging(name)
        assert "outside the output folder" in str(err.value)
    data = small_csv(tmp_path / "s.csv")
    for name in ("../escape", "sub/dir", "..", "/tmp/evil", "x\n", "a\nb"):
        config = tmp_path / "reports.yml"
        config.write_text(f"out: out\nruns:\n  - name: {json.dumps(name)}\n    data: {data}\n")
        assert main(["run", str(config)]) == 2
        assert "is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out").exists()


def test_yaml_is_loaded_safely(tmp_path, capsys):
    marker = tmp_path / "pwned"
    config = tmp_path / "reports.yml"
    for payload in (f"!!python/object/apply:os.system ['touch {marker}']",
                    f"!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
                    "!!python/name:os.system"):
        config.write_text(f"out: out\nruns:\n  - name: a\n    data: {payload}\n")
        assert main(["run", str(config)]) == 2
        err = capsys.readouterr().err
        assert err.count("error:") == 1 and "YAML tag" in err and "line 4" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_same_config_twice_gives_byte_identical_files(tmp_path):
    """Determinism end to end through `segkit run` (tiny notebooks; the analysis is the real one)."""
    config, _ = hostile_project(tmp_path)
    notebooks = tiny_notebooks(tmp_path / "nb")
    files = ("assignments.csv", "tiers_monthly.csv", "alerts.csv", "actions.csv", "scorecard.json")
    results = []
    for attempt in ("first", "second"):
        assert main(["run", str(config), "--out", str(tmp_path / attempt), "--notebooks", str(notebooks)]) == 0
        results.append({f: (tmp_path / attempt / "hostile" / f).read_bytes() for f in files})
    for f in files:
        assert results[0][f] == results[1][f], f
        assert len(results[0][f]) > 50
    # the published files are real results, not empty shells
    scorecard = json.loads(results[0]["scorecard.json"])
    assert set(scorecard["schemes"]) == {"percentile_tiers", "rfm", "kmeans", "potential"}
