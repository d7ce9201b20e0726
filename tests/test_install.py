"""segkit as a user installs it: a wheel in a new virtual environment, run from a folder of its own.

The wheel is built from a copy of the files a build reads (so the test also proves nothing else is
needed) and installed with ``--no-deps`` into a new venv. Its dependencies are not downloaded again:
installing them from the registry takes about a minute on this machine and needs the network for
every test run, while what is under test is segkit's own packaging (notebooks and data inside the
wheel, paths that do not depend on a checkout or the working folder). So the venv sees the
dependencies of the test interpreter's environment through a ``.pth`` line *after* its own
site-packages (and their Jupyter data files, templates and kernel spec, through links); that line
does not process the ``.pth`` files there, so the development checkout's editable install stays
invisible, and the test asserts that ``segkit`` is imported from the venv, by the notebook kernels too.
Building the wheel needs setuptools from the registry (build isolation); without it the test skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

import pytest

from segkit.config import PROJECT_ROOT

from .conftest import chromium_path

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("install")]

#: what a build reads (pyproject.toml, setup.py and MANIFEST.in name nothing else)
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "src", "notebooks", "data/cdnow")


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment of a user's shell with the venv activated: no PYTHONPATH pointing at src/."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SEGKIT_NOTEBOOKS", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("install")
    src = root / "src-copy"
    for name in BUILD_INPUTS:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(PROJECT_ROOT / name, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "-w", str(root / "wheels"), "--no-deps",
                            "-q", "--disable-pip-version-check"], capture_output=True, text=True, timeout=600)
    if built.returncode != 0 and re.search(r"(?i)connection|network|resolve|index", built.stderr):
        pytest.skip(f"cannot build the wheel without the registry (build isolation): {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "wheels").glob("segkit-*.whl")
    venv = root / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "-q", "--disable-pip-version-check", str(wheel)], check=True, timeout=300)
    site = Path(subprocess.check_output([str(venv / "bin" / "python"), "-c",
                                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # what installing nbconvert and ipykernel would also have put into the venv: their data files
    # (the HTML templates, the python3 kernel spec, which starts `python` from the PATH: the venv's)
    shared = Path(sys.prefix) / "share" / "jupyter"
    (venv / "share" / "jupyter").mkdir(parents=True)
    for name in ("nbconvert", "kernels"):
        if (shared / name).is_dir():
            (venv / "share" / "jupyter" / name).symlink_to(shared / name)
    return venv


def test_the_wheel_carries_the_notebooks_and_the_sample(venv):
    (wheel,) = (venv.parent / "wheels").glob("segkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for nb in sorted((PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert zipfile.ZipFile(wheel).read(f"segkit/notebooks/{nb.name}") == nb.read_bytes(), nb.name
    assert "segkit/data/cdnow/CDNOW_sample.csv.gz" in names and "segkit/data/cdnow/cdnow_master.csv.gz" in names
    # the reader's language: every catalogue, the template and the translators' glossary
    assert {f"segkit/locale/{lang}/LC_MESSAGES/segkit.po" for lang in ("cs", "pl", "ro", "sr")} | {
        "segkit/locale/segkit.pot", "segkit/locale/glossary.md"} <= set(names)
    assert not [n for n in names if n.startswith(("notebooks/", "data/", "tests/"))]  # only under segkit/


def test_installed_segkit_is_the_wheel_and_knows_no_checkout(venv, tmp_path):
    # started from a folder that looks like a project (notebooks/, data/): segkit must not read it
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "data").mkdir()
    probe = ("import segkit, segkit.config as c, segkit.runner as r; "
             "from jupyter_client.kernelspec import KernelSpecManager as K; import shutil, json; "
             "print(json.dumps([segkit.__file__, str(c.PROJECT_ROOT), str(c.NOTEBOOKS_DIR), "
             "[p.name for p in r.notebook_paths()], shutil.which(K().get_kernel_spec('python3').argv[0])]))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=_clean_env(venv),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    file, root, notebooks, names, kernel = json.loads(out)
    package = Path(file).parent
    assert package.is_relative_to(venv) and not package.is_relative_to(PROJECT_ROOT)
    assert Path(root) == package and Path(notebooks) == package / "notebooks"
    assert names == sorted(p.name for p in (PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    # the notebooks' kernel is the venv's Python, so the notebooks import the installed segkit too
    assert Path(kernel).parent == venv / "bin"


def test_init_then_run_publishes_a_report_and_if_changed_skips(venv):
    work = Path(tempfile.mkdtemp(prefix="segkit-user-"))  # outside the repository
    assert not work.is_relative_to(PROJECT_ROOT)
    env = _clean_env(venv)
    segkit = str(venv / "bin" / "segkit")
    subprocess.run([segkit, "init", "x"], cwd=work, env=env, check=True, timeout=120, capture_output=True)
    folder = work / "x"
    ran = subprocess.run([segkit, "run", "--json"], cwd=folder, env=env, capture_output=True, text=True, timeout=1200)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)  # stdout is the JSON document alone
    (run,) = summary["runs"]
    assert run["status"] == "published" and run["exit_code"] == 0 and run["recommended"]
    report = Path(run["report"])
    assert report == folder / "reports" / "cdnow-sample" / "report.html" and report.is_file()
    published = {p: p.stat().st_mtime_ns for p in report.parent.rglob("*")}
    assert {p.name for p in published} >= {"report.html", "assignments.csv", "run.json", "05_compare.html"}

    again = subprocess.run([segkit, "run", "--if-changed", "--json"], cwd=folder, env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    (run2,) = json.loads(again.stdout)["runs"]
    assert run2["status"] == "unchanged" and run2["unchanged_since"] == run["generated"]
    assert {p: p.stat().st_mtime_ns for p in report.parent.rglob("*")} == published  # no work done
    assert "Unchanged since" in (folder / "reports" / "index.html").read_text()

    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium is not installed (make browser installs it)")
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", report.as_uri()],
            capture_output=True, text=True, timeout=120).stdout
    assert "Recommendation: use" in dom and "CDNOW music store (1/10 sample)" in dom
    assert "Traceback" not in re.sub(r"<[^>]+>", " ", dom)
    assert len(re.findall(r"<img[^>]+src=\"data:image/png", dom)) >= 5
    shutil.rmtree(work, ignore_errors=True)
