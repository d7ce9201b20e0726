"""The segkit command end to end: exit codes, messages, safe publishing, failures, locks, crashes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from segkit.cli import main
from segkit.config import CDNOW_PATH
from segkit.publish import OutputFolder

SEGKIT = [sys.executable, "-m", "segkit"]


def small_csv(path: Path, seed: int = 0, customers: int = 150) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        spend = rng.gamma(1.5, 40)
        months = rng.random(18) < rng.uniform(0.1, 0.9)
        for m in np.flatnonzero(months):
            rows.append((f"{c:05d}", f"2023-{m + 1:02d}-10" if m < 12 else f"2024-{m - 11:02d}-10",
                         round(spend * rng.uniform(0.5, 1.5), 2), int(rng.integers(1, 4))))
    pd.DataFrame(rows, columns=["customer_id", "date", "amount", "quantity"]).to_csv(path, index=False)
    return path


def tiny_notebooks(folder: Path, broken: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("name = 'x'\ncache_dir = ''")
    params.metadata["tags"] = ["parameters"]
    body = "raise ValueError('planted failure')" if broken else "print('ok', name)"
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "01_tiny.ipynb")
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def project(tmp_path):
    data = small_csv(tmp_path / "small.csv")
    config = tmp_path / "reports.yml"
    config.write_text(f"out: out\nruns:\n  - name: small\n    data: {data}\n    holdout_months: 3\n"
                      "    k_range: [2, 4]\n")
    return tmp_path, config


def test_validate_exit_codes_and_messages(tmp_path, capsys):
    assert main(["validate", str(CDNOW_PATH)]) == 0
    out = capsys.readouterr().out
    assert "69,659" in out and "Amount exactly 0" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("who,when,how_much\n1,2024-01-01,5\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.csv" in err and "customer_id" in err and "Traceback" not in err
    assert main(["validate", str(bad), "--columns", "customer_id=who", "date=when", "amount=how_much"]) == 0


def test_segment_writes_the_contract_files(tmp_path):
    data = small_csv(tmp_path / "s.csv")
    out = tmp_path / "seg"
    assert main(["segment", str(data), "--out", str(out), "--holdout-months", "3", "--k-range", "2", "3",
                 "--criterion", "units"]) == 0
    # the run files, and the (empty, released) lock that keeps two commands from mixing their files
    assert sorted(p.name for p in out.iterdir()) == [".segkit.lock", "actions.csv", "alerts.csv", "assignments.csv",
                                                      "run.json", "scorecard.json", "tiers_monthly.csv"]
    assert (out / ".segkit.lock").read_text() == ""
    a = pd.read_csv(out / "assignments.csv", dtype=str)
    assert list(a.columns) == ["customer_id", "percentile_tier", "rfm_r", "rfm_f", "rfm_m", "rfm_segment",
                               "kmeans_cluster", "kmeans_name", "lifecycle_stage", "override_tier",
                               "override_reason", "recommended_segment", "potential_tier", "p_alive",
                               "expected_purchases", "predicted_value", "peer_headroom", "tier_change"]
    assert a["customer_id"].str.len().eq(5).all() and a["customer_id"].is_monotonic_increasing
    assert list(pd.read_csv(out / "tiers_monthly.csv").columns) == ["customer_id", "month", "value", "monthly_tier"]
    assert list(pd.read_csv(out / "alerts.csv").columns) == ["customer_id", "last_vip_month", "last_payment",
                                                             "value_at_risk", "rule", "p_alive"]
    assert list(pd.read_csv(out / "actions.csv").columns) == ["customer_id", "action", "reason", "due_by", "tier",
                                                              "stage", "value_at_stake"]
    run = json.loads((out / "run.json").read_text())
    assert run["parameters"]["criterion"] == "units" and len(run["data"]["sha256"]) == 64


def test_exported_values_keep_every_digit(tmp_path):
    """tiers_monthly.csv and alerts.csv reproduce the money exactly, also for large amounts."""
    data = small_csv(tmp_path / "s.csv", seed=2)
    raw = pd.read_csv(data, dtype={"customer_id": str})
    raw["amount"] = (raw["amount"] * 10_007.13).round(2)  # six- and seven-digit monthly values
    raw.to_csv(data, index=False)
    out = tmp_path / "seg"
    assert main(["segment", str(data), "--out", str(out), "--holdout-months", "3", "--k-range", "2", "3"]) == 0
    tm = pd.read_csv(out / "tiers_monthly.csv", dtype={"customer_id": str, "month": str})
    raw["month"] = raw["date"].str[:7]
    expected = raw.groupby(["customer_id", "month"])["amount"].sum()
    got = tm.set_index(["customer_id", "month"])["value"]
    assert got.max() > 1e5
    np.testing.assert_allclose(got.to_numpy(), expected.reindex(got.index).to_numpy(), rtol=0, atol=1e-6)


def test_segment_is_deterministic(tmp_path):
    data = small_csv(tmp_path / "s.csv", seed=4)
    for name in ("a", "b"):
        assert main(["segment", str(data), "--out", str(tmp_path / name), "--holdout-months", "3",
                     "--k-range", "2", "3", "--seed", "7", "--name", "det"]) == 0
    for f in ("assignments.csv", "tiers_monthly.csv", "alerts.csv", "scorecard.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


@pytest.mark.parametrize("text,fragment", [
    ("runs: [", "not valid YAML"),
    ("runs:\n  - name: ../escape\n    data: x.csv\n", "not allowed"),
    ("runs:\n  - name: a\n    data: x.csv\n    colour: red\n", "unknown parameter"),
    ("runs:\n  - name: a\n    data: x.csv\n  - name: a\n    data: x.csv\n", "used twice"),
    ("runs:\n  - name: a\n    data: x.csv\n    vip_share: 1.5\n", "vip_share"),
    ("runs:\n  - name: a\n    data: x.csv\n    holdout_months: -1\n", "holdout_months"),
    ("runs:\n  - name: a\n    data: missing.csv\n", "does not exist"),
])
def test_bad_configs_exit_2_with_one_message_and_publish_nothing(tmp_path, capsys, text, fragment):
    config = tmp_path / "reports.yml"
    config.write_text(f"out: out\n{text}")
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("error:") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_failed_notebook_keeps_the_last_good_report(project, capsys):
    root, config = project
    good, broken = tiny_notebooks(root / "nb_good"), tiny_notebooks(root / "nb_broken", broken=True)
    assert main(["run", str(config), "--notebooks", str(good)]) == 0
    published = root / "out" / "small"
    before = snapshot(published)
    assert {"assignments.csv", "scorecard.json", "run.json", "01_tiny.html"} <= set(before)
    capsys.readouterr()
    assert main(["run", str(config), "--notebooks", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "run 'small'" in err and "01_tiny" in err and "cell" in err and "planted failure" in err
    assert snapshot(published) == before
    failed = root / "out" / "_failed" / "small" / "notebooks" / "01_tiny.ipynb"
    assert failed.exists() and "planted failure" in failed.read_text()
    index = json.loads((root / "out" / "index.json").read_text())
    assert index["runs"]["small"]["status"] == "failed"
    html = (root / "out" / "index.html").read_text()
    assert "planted failure" in html and "Failed" in html
    assert not list((root / "out").glob(".staging/*"))


def test_second_run_on_the_same_folder_is_refused(project, capsys):
    root, config = project
    with OutputFolder(root / "out").locked():
        assert main(["run", str(config), "--notebooks", str(tiny_notebooks(root / "nb"))]) == 2
    err = capsys.readouterr().err
    assert "another segkit run" in err and f"pid {os.getpid()}" in err


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_the_published_report_intact(project):
    root, config = project
    nbs = tiny_notebooks(root / "nb")
    assert main(["run", str(config), "--notebooks", str(nbs)]) == 0
    published = root / "out" / "small"
    before = snapshot(published)
    for delay in (0.5, 2.0, 4.0, 6.0):
        proc = subprocess.Popen([*SEGKIT, "run", str(config), "--notebooks", str(nbs)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        current = snapshot(published)
        # either the old run or a complete new one: never a mix, never a missing file
        assert set(current) == set(before)
        if current != before:
            assert json.loads((published / "run.json").read_text())["run"] == "small"
            before = current
    # the lock died with the killed process, and the next run cleans up and succeeds
    assert main(["run", str(config), "--notebooks", str(nbs)]) == 0
    assert not list((root / "out").glob(".staging/*"))
    # the published run is a real folder, and no replaced copy is left behind
    assert published.is_dir() and not published.is_symlink()
    assert not (root / "out" / ".previous").exists() and not (root / "out" / ".published").exists()


@pytest.mark.slow
def test_progress_bar_on_a_terminal_counts_runs_and_notebooks_and_is_quiet_otherwise(project):
    import pty

    root, config = project
    config.write_text(config.read_text() + config.read_text().split("runs:\n", 1)[1].replace("name: small",
                                                                                         "name: small-2"))
    nbs = tiny_notebooks(root / "nb")
    (nbs / "02_tiny.ipynb").write_bytes((nbs / "01_tiny.ipynb").read_bytes())
    master, slave = pty.openpty()
    proc = subprocess.Popen([*SEGKIT, "run", str(config), "--notebooks", str(nbs), "--jobs", "2"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait() == 0
    os.close(master)
    shown = b"".join(chunks).decode(errors="replace")
    assert "segkit run" in shown and "6/6" in shown  # 2 runs x (analysis + 2 notebooks)
    assert "small: published" in shown and "small-2: published" in shown
    quiet = subprocess.run([*SEGKIT, "run", str(config), "--notebooks", str(nbs), "--jobs", "2"],
                           capture_output=True, text=True)
    assert quiet.returncode == 0 and "step" not in quiet.stderr and "\r" not in quiet.stderr
    assert "small: published" in quiet.stderr


# ====================================================================== for schedulers and installs
def _json_run(argv: list[str], capsys) -> tuple[int, dict]:
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)  # stdout holds the JSON document and nothing else


def test_if_changed_does_no_work_until_data_parameters_or_notebooks_change(project, capsys, monkeypatch):
    import segkit.runner as runner

    root, config = project
    nbs = tiny_notebooks(root / "nb")
    code, first = _json_run(["run", str(config), "--notebooks", str(nbs), "--json"], capsys)
    assert code == 0 and first["runs"][0]["status"] == "published" and first["runs"][0]["exit_code"] == 0
    assert first["runs"][0]["recommended"] in ("percentile_tiers", "rfm", "kmeans")
    published = root / "out" / "small"
    assert first["runs"][0]["folder"] == str(published.resolve()) and first["runs"][0]["report"] is None  # no 05_compare
    before = snapshot(published)

    calls = []
    real = runner.execute_run
    monkeypatch.setattr(runner, "execute_run", lambda *a, **k: calls.append(a[0].name) or real(*a, **k))
    code, second = _json_run(["run", str(config), "--notebooks", str(nbs), "--if-changed", "--json"], capsys)
    (run,) = second["runs"]
    assert code == 0 and calls == [] and snapshot(published) == before
    assert run["status"] == "unchanged" and run["unchanged_since"] == first["runs"][0]["generated"]
    index = json.loads((root / "out" / "index.json").read_text())["runs"]["small"]
    assert index["status"] == "published" and index["unchanged_since"] == run["unchanged_since"]
    assert "Unchanged since" in (root / "out" / "index.html").read_text()

    # without --if-changed it runs; with it, any changed input runs again
    (nbs / "01_tiny.ipynb").write_text((nbs / "01_tiny.ipynb").read_text().replace("'ok'", "'okay'"))
    assert _json_run(["run", str(config), "--notebooks", str(nbs), "--if-changed", "--json"], capsys)[0] == 0
    config.write_text(config.read_text().replace("holdout_months: 3", "holdout_months: 4"))
    assert _json_run(["run", str(config), "--notebooks", str(nbs), "--if-changed", "--json"], capsys)[0] == 0
    small_csv(root / "small.csv", seed=1)
    code, last = _json_run(["run", str(config), "--notebooks", str(nbs), "--if-changed", "--json"], capsys)
    assert calls == ["small"] * 3 and last["runs"][0]["status"] == "published"
    assert "unchanged_since" not in json.loads((root / "out" / "index.json").read_text())["runs"]["small"]


def test_json_summary_of_a_bad_config_and_a_failed_run(project, capsys):
    root, config = project
    code, doc = _json_run(["run", str(root / "nowhere.yml"), "--json"], capsys)
    assert code == 2 and doc["exit_code"] == 2 and "does not exist" in doc["error"] and doc["runs"] == []
    code, doc = _json_run(["run", str(config), "--notebooks", str(tiny_notebooks(root / "bad", broken=True)),
                           "--json"], capsys)
    (run,) = doc["runs"]
    assert code == 1 and doc["exit_code"] == 1 and run["status"] == "failed" and run["exit_code"] == 1
    assert "planted failure" in run["message"] and Path(run["failed_folder"]).is_dir() and run["report"] is None


def test_notebooks_key_is_relative_to_the_config_and_checked(project, capsys, monkeypatch):
    root, config = project
    tiny_notebooks(root / "mine")
    config.write_text(config.read_text() + "    notebooks: mine\n")
    monkeypatch.chdir(root.parent)  # the working folder plays no part
    assert main(["run", str(config)]) == 0
    assert json.loads((root / "out" / "index.json").read_text())["runs"]["small"]["notebooks"] == ["01_tiny"]
    nb = nbformat.read(str(root / "out" / "small" / "notebooks" / "01_tiny.ipynb"), as_version=4)
    injected = next(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "holdout_months = 3" in injected and not re.search(r"^notebooks =", injected, re.M)  # a runner key, not a parameter

    capsys.readouterr()
    for text, fragment in (("nowhere", "folder does not exist"), ("empty", "no notebooks to run"),
                           ("untagged", "no cell tagged `parameters`")):
        folder = root / text
        if text != "nowhere":
            folder.mkdir()
        if text == "untagged":
            nb = nbformat.v4.new_notebook()
            nb.cells = [nbformat.v4.new_code_cell("name = 'x'")]
            nbformat.write(nb, folder / "01_x.ipynb")
        config.write_text(re.sub(r"notebooks: \S+", f"notebooks: {text}", config.read_text()))
        assert main(["run", str(config)]) == 2, text
        err = capsys.readouterr().err
        assert fragment in err and str(folder) in err and "Traceback" not in err, text


def test_init_writes_a_config_with_every_key_and_its_default(tmp_path, capsys):
    import dataclasses

    from segkit.config import RunParams, load_config

    assert main(["init", str(tmp_path / "x"), "--notebooks"]) == 0
    text = (tmp_path / "x" / "reports.yml").read_text()
    cfg = load_config(tmp_path / "x" / "reports.yml")
    (run,) = cfg.runs
    assert Path(run.data).is_file() and Path(run.overrides).is_file() and cfg.out == tmp_path / "x" / "reports"
    assert run.notebooks == str(tmp_path / "x" / "notebooks")
    from segkit.runner import notebook_paths

    assert [p.name for p in notebook_paths(run.notebooks)] == [p.name for p in notebook_paths()]
    # every key is there; uncommenting every default changes nothing
    for f in dataclasses.fields(RunParams):
        assert re.search(rf"^(#  |  |    |  - ){f.name}:", text, re.M), f.name
    uncommented = tmp_path / "x" / "all.yml"
    uncommented.write_text(re.sub(r"^#  (\w+:)", r"  \1", text, flags=re.M))
    assert load_config(uncommented).runs == cfg.runs
    assert load_config(uncommented).runs[0].replace(notebooks=None) == RunParams.from_mapping(
        {"name": run.name, "data": run.data, "columns": dict(run.columns), "overrides": run.overrides,
         "title": run.title, "currency": run.currency})
    # the overrides example names customers of the sample
    ids = set(pd.read_csv(run.data, dtype={"customer_id": str})["customer_id"])
    assert set(pd.read_csv(run.overrides, dtype={"customer_id": str})["customer_id"]) <= ids
    # the copied notebooks open the folder's sample when run by hand
    assert '../CDNOW_sample.csv.gz' in (tmp_path / "x" / "notebooks" / "03_rfm.ipynb").read_text()
    capsys.readouterr()
    assert main(["init", str(tmp_path / "x")]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "x"), "--force"]) == 0


def test_project_root_never_falls_back_to_the_working_folder(tmp_path):
    from segkit.config import _project_root

    (tmp_path / "pkg" / "src" / "segkit").mkdir(parents=True)
    (tmp_path / "pkg" / "pyproject.toml").write_text('[project]\nname = "other"\n')
    package = tmp_path / "pkg" / "src" / "segkit"
    assert _project_root(package) == package  # a checkout of another project is not segkit's
    (tmp_path / "pkg" / "pyproject.toml").write_text('[project]\nname = "segkit"\n')
    assert _project_root(package) == tmp_path / "pkg"
    # started from a folder with notebooks/ and data/ of its own, segkit still reads its own
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "data").mkdir()
    out = subprocess.run([sys.executable, "-c", "import segkit.config as c; print(c.PROJECT_ROOT, c.NOTEBOOKS_DIR)"],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert Path(out[0]) == Path(__file__).resolve().parents[1] and Path(out[1]) == Path(out[0]) / "notebooks"


@pytest.mark.parametrize("command", ["segment", "run"])
def test_a_full_disk_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch, capsys, command):
    """A disk that fills during a run (say while the earlier cut-offs' tables are written to the
    temporary folder) ends with exit 1 and a message naming the file and the fix; other OS errors
    are not hidden."""
    import errno

    from segkit import cli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "segkit-origins-1" / "origin0.pkl"))

    argv = [command, str(tmp_path / "x.csv"), "--out", str(tmp_path / "out")] if command == "segment" else [command]
    monkeypatch.setattr(cli, f"cmd_{command}", full)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "the disk is full writing" in err and "origin0.pkl" in err and "TMPDIR" in err
    assert "Traceback" not in err

    def denied(args):
        raise OSError(errno.EACCES, "Permission denied", "x")

    monkeypatch.setattr(cli, f"cmd_{command}", denied)
    with pytest.raises(PermissionError):
        cli.main(argv)
