"""Published folders are real files (copy-, zip- and share-safe), swapped in atomically; one atomic writer;
the command line is generated from RunParams; no hidden process-wide state."""

from __future__ import annotations

import dataclasses
import html.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from segkit import publish
from segkit.atomic import atomic_open, atomic_write
from segkit.cli import _parser, main
from segkit.config import PACKAGE_DIR, PROJECT_ROOT, RunParams, _project_root
from segkit.publish import OutputFolder

from .test_cli import small_csv, snapshot, tiny_notebooks


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]


def assert_opens(root: Path) -> int:
    """No symlink anywhere, and every local link of index.html is a real file; returns the link count."""
    assert not [p for p in root.rglob("*") if p.is_symlink()]
    parser = _Links()
    parser.feed((root / "index.html").read_text(encoding="utf-8"))
    local = [h for h in parser.hrefs if "://" not in h]
    for href in local:
        target = root / href
        assert target.is_file() and not target.is_symlink() and target.stat().st_size > 0, href
    return len(local)


def _stage(folder: OutputFolder, name: str, text: str) -> Path:
    staged = folder.staging(name)
    (staged / "report.html").write_text(text)
    return staged


@pytest.fixture()
def published(tmp_path):
    data = small_csv(tmp_path / "small.csv")
    config = tmp_path / "reports.yml"
    config.write_text(f"out: out\nruns:\n  - name: small\n    data: {data}\n    holdout_months: 3\n"
                      "    k_range: [2, 3]\n")
    nbs = tiny_notebooks(tmp_path / "nb")
    shutil.copy(nbs / "01_tiny.ipynb", nbs / "05_compare.ipynb")  # the management notebook: report.html
    assert main(["run", str(config), "--notebooks", str(nbs)]) == 0
    return tmp_path / "out", config, nbs


def test_a_published_folder_survives_cp_r_and_zip(published, tmp_path):
    out, config, nbs = published
    assert main(["run", str(config), "--notebooks", str(nbs)]) == 0  # a second publish swaps the folder
    assert (out / "small").is_dir() and not (out / "small").is_symlink()
    assert assert_opens(out) == 3  # the report and the two notebook pages
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    assert assert_opens(copy) == 3
    assert snapshot(copy / "small") == snapshot(out / "small")
    archive = tmp_path / "reports.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(out.rglob("*")):
            zf.write(p, p.relative_to(out))
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(unzipped)
    assert assert_opens(unzipped) == 3
    # nothing but the runs, the index and the (released) lock: no hidden copies a web server would serve
    assert sorted(p.name for p in out.iterdir()) == [".segkit.lock", "index.html", "index.json", "small"]


def test_publish_without_rename_exchange_and_a_crash_between_the_two_renames(tmp_path, monkeypatch):
    folder = OutputFolder(tmp_path / "out")
    with folder.locked():
        folder.publish("run", _stage(folder, "run", "first"))
        monkeypatch.setattr(publish, "_exchange", lambda a, b: False)  # e.g. macOS, or a share
        folder.publish("run", _stage(folder, "run", "second"))
    assert (tmp_path / "out" / "run" / "report.html").read_text() == "second"
    assert not (tmp_path / "out" / ".previous").exists()
    # a crash after the published folder moved aside and before the new one moved in:
    aside = tmp_path / "out" / ".previous" / "run-0badf00d"
    aside.parent.mkdir()
    os.replace(tmp_path / "out" / "run", aside)
    with folder.locked():  # the next run repairs it before anything else
        pass
    assert (tmp_path / "out" / "run" / "report.html").read_text() == "second"
    assert not (tmp_path / "out" / ".previous").exists()


def test_a_symlinked_run_of_the_old_layout_becomes_a_real_folder(tmp_path):
    root = tmp_path / "out"
    old = root / ".published" / "run-1234abcd"
    old.mkdir(parents=True)
    (old / "report.html").write_text("old")
    os.symlink(os.path.relpath(old, root), root / "run")
    folder = OutputFolder(root)
    with folder.locked():
        assert (root / "run" / "report.html").read_text() == "old"  # still served until replaced
        folder.publish("run", _stage(folder, "run", "new"))
    assert not (root / "run").is_symlink() and (root / "run" / "report.html").read_text() == "new"
    assert not (root / ".published").exists()


def test_atomic_writes_leave_the_old_file_on_failure(tmp_path):
    target = atomic_write(tmp_path / "a.json", '{"v": 1}\n')
    with pytest.raises(RuntimeError), atomic_open(target, "w") as fh:
        fh.write('{"v": 2')
        raise RuntimeError("disk full")
    assert target.read_text() == '{"v": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert atomic_write(target, b"\x00\x01").read_bytes() == b"\x00\x01"
    with pytest.raises(ValueError):
        with atomic_open(target, "a"):
            pass


def test_only_one_write_then_rename_implementation():
    """os.replace appears only in the atomic writer and in the publisher's folder moves."""
    users = sorted(str(p.relative_to(PROJECT_ROOT)) for p in [*(PROJECT_ROOT / "src").rglob("*.py"),
                                                               PROJECT_ROOT / "benchmarks" / "bench.py"]
                   if "os.replace(" in p.read_text(encoding="utf-8") or ".replace(path)" in p.read_text())
    assert users == ["src/segkit/atomic.py", "src/segkit/publish.py"]


def test_segment_and_validate_options_are_the_run_parameters():
    sub = next(a for a in _parser()._actions if a.dest == "command").choices
    fields = set(RunParams.notebook_fields())  # the runner's own keys (notebooks) are `segkit run` options
    assert {f.name for f in dataclasses.fields(RunParams)} - fields <= {a.dest for a in sub["run"]._actions}
    segment = {a.dest for a in sub["segment"]._actions} - {"help", "out"}
    assert segment == fields  # data is the positional argument
    validate = {a.dest for a in sub["validate"]._actions} - {"help", "data"}
    assert validate <= fields
    for action in sub["segment"]._actions:
        if action.dest in fields - {"data"}:
            assert action.default is None and action.option_strings == ["--" + action.dest.replace("_", "-")]


def test_segment_takes_every_option_to_run_json(tmp_path):
    data = small_csv(tmp_path / "s.csv")
    out = tmp_path / "seg"
    assert main(["segment", str(data), "--out", str(out), "--name", "named", "--holdout-months", "3",
                 "--k-range", "2", "3", "--title", "A title", "--vip-share", "0.25", "--rfm-bins", "4",
                 "--filter", "x=1", "--columns", "customer_id=customer_id"]) == 2  # no column x to filter on
    assert main(["segment", str(data), "--out", str(out), "--name", "named", "--holdout-months", "3",
                 "--k-range", "2", "3", "--title", "A title", "--vip-share", "0.25", "--rfm-bins", "4"]) == 0
    import json

    params = json.loads((out / "run.json").read_text())["parameters"]
    assert (params["name"], params["title"], params["vip_share"], params["rfm_bins"], params["k_range"],
            params["holdout_months"]) == ("named", "A title", 0.25, 4, [2, 3], 3)


def test_project_root_never_comes_from_the_working_folder(tmp_path):
    assert _project_root(tmp_path / "site-packages" / "segkit") == tmp_path / "site-packages" / "segkit"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    (tmp_path / "src" / "segkit").mkdir(parents=True)
    assert _project_root(tmp_path / "src" / "segkit") == tmp_path / "src" / "segkit"  # someone else's checkout
    code = "from segkit.config import PROJECT_ROOT; print(PROJECT_ROOT)"
    shown = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert Path(shown.stdout.strip()) == PROJECT_ROOT == _project_root(PACKAGE_DIR)


def test_open_run_and_setup_leave_process_settings_alone(cdnow_analysis, tmp_path):
    import matplotlib
    import pandas as pd

    from segkit import notebook

    cache = tmp_path / "cache"
    cdnow_analysis.save(cache)
    before = (pd.get_option("display.max_colwidth"), dict(matplotlib.rcParams))
    namespace = {**cdnow_analysis.params.to_dict(), "cache_dir": str(cache), "unrelated": 1}
    analysis = notebook.setup(namespace)
    assert analysis.params == cdnow_analysis.params  # read from the cache: the same parameters
    assert (pd.get_option("display.max_colwidth"), dict(matplotlib.rcParams)) == before


def test_engines_keep_no_registry_of_connections(tmp_path):
    from segkit import engines

    assert not [n for n, v in vars(engines).items()
                if not n.startswith("__") and type(v).__name__ in ("WeakSet", "count", "list", "dict", "set")]
    assert engines.ENGINES is __import__("segkit.config", fromlist=["ENGINES"]).ENGINES
    con = engines.connect("duckdb")
    (tmp_path / "t.csv").write_text("x\n1\n2\n")
    text = engines.read_csv_text(con, [str(tmp_path / "t.csv")], ",")
    t1, t2 = engines.materialize(con, text), engines.materialize(con, text.filter(text.x == "2"))
    assert t1.get_name() != t2.get_name() and t1.count().execute() == 2 and t2.count().execute() == 1
    engines.release(con)
    assert not engines._owned(con)


def test_bench_has_no_module_state_for_its_limits():
    text = (PROJECT_ROOT / "benchmarks" / "bench.py").read_text(encoding="utf-8")
    assert "global " not in text
