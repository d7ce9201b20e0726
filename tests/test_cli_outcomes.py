"""`segkit run` with runs that end differently: the others still publish, and the exit code says
what happened (bad input wins over a failure; a worker that dies fails its run, not the command)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.test_cli import small_csv

SEGKIT = [sys.executable, "-m", "segkit"]

pytestmark = pytest.mark.slow


def notebooks(folder: Path, body: str) -> Path:
    """One tiny notebook whose body may act on the run's name."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("name = 'x'\ncache_dir = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "01_tiny.ipynb")
    return folder


def config(root: Path, runs: dict[str, Path]) -> Path:
    text = "out: out\nruns:\n" + "".join(
        f"  - name: {name}\n    data: {data}\n    holdout_months: 3\n    k_range: [2, 3]\n" for name, data in runs.items())
    path = root / "reports.yml"
    path.write_text(text)
    return path


def run(cfg: Path, nbs: Path, *extra: str) -> tuple[int, str, dict]:
    """Exit code, stdout + stderr, and the index entries of ``segkit run``."""
    proc = subprocess.run([*SEGKIT, "run", str(cfg), "--notebooks", str(nbs), *extra], capture_output=True,
                          text=True, timeout=300)
    index = json.loads((cfg.parent / "out" / "index.json").read_text())["runs"]
    return proc.returncode, proc.stdout + proc.stderr, index


def too_small(path: Path) -> Path:
    path.write_text("customer_id,date,amount\n1,2023-01-05,10\n2,2023-02-05,20\n1,2023-08-05,5\n")
    return path


def test_one_run_fails_one_is_bad_input_the_good_one_publishes_and_the_exit_code_is_2(tmp_path):
    data = small_csv(tmp_path / "sales.csv")
    cfg = config(tmp_path, {"good": data, "breaks": data, "tiny": too_small(tmp_path / "tiny.csv")})
    nbs = notebooks(tmp_path / "nb", "if name == 'breaks':\n    raise ValueError('planted failure')\nprint('ok')")
    code, err, index = run(cfg, nbs)
    assert code == 2                                   # a person must fix the input: that wins
    assert {k: v["status"] for k, v in index.items()} == {"good": "published", "breaks": "failed",
                                                          "tiny": "bad-input"}
    assert index["tiny"]["exit_code"] == 2 and index["breaks"]["exit_code"] == 1
    # the good run published everything; the others left no report folder behind
    assert {"01_tiny.html", "assignments.csv", "scorecard.json"} <= {p.name for p in (tmp_path / "out" / "good").iterdir()}
    assert not (tmp_path / "out" / "breaks").exists() and not (tmp_path / "out" / "tiny").exists()
    assert "planted failure" in err and "Traceback" not in err
    assert "run 'tiny'" in err and "run 'breaks'" in err and "1 of 3 run(s) published" in err


def test_a_worker_that_dies_fails_its_run_with_exit_1(tmp_path):
    data = small_csv(tmp_path / "sales.csv")
    cfg = config(tmp_path, {"dies": data, "other": data})
    # the notebook's kernel is a child of the worker process: kill the worker from inside it
    nbs = notebooks(tmp_path / "nb", "import os, signal\nif name == 'dies':\n    os.kill(os.getppid(), signal.SIGKILL)\n"
                                     "print('ok')")
    code, err, index = run(cfg, nbs, "--jobs", "2")
    assert code == 1
    assert index["dies"]["status"] == "failed" and index["dies"]["exit_code"] == 1
    assert "worker stopped" in index["dies"]["message"] and "run 'dies': worker stopped" in err
    # the pool is broken for every run still in it; any run that did finish is published
    assert index["other"]["status"] in ("published", "failed")
    if index["other"]["status"] == "published":
        assert (tmp_path / "out" / "other" / "01_tiny.html").exists()
    assert "Traceback" not in err


# ---------------------------------------------------------------- a kernel that does not start
@pytest.fixture
def fake_papermill(monkeypatch):
    """papermill.execute_notebook replaced by a script of outcomes (an exception to raise, or None)."""
    import papermill as pm

    def install(*outcomes):
        script, calls = list(outcomes), []

        def execute_notebook(*args, **kwargs):
            calls.append(kwargs)
            outcome = script.pop(0)
            if outcome is not None:
                raise outcome
        monkeypatch.setattr(pm, "execute_notebook", execute_notebook)
        return calls
    return install


def execute(tmp_path):
    from segkit.config import RunParams
    from segkit.runner import _execute_notebook

    params = RunParams.from_mapping({"name": "k", "data": "x.csv"})
    return _execute_notebook(params, tmp_path / "05_compare.ipynb", tmp_path / "out.ipynb", {})


def test_a_kernel_that_did_not_start_is_started_once_more(tmp_path, fake_papermill):
    from segkit.runner import KERNEL_START_TIMEOUT

    calls = fake_papermill(RuntimeError("Kernel didn't respond in 60 seconds"), None)
    assert execute(tmp_path) is None
    assert len(calls) == 2 and all(c["start_timeout"] == KERNEL_START_TIMEOUT == 120 for c in calls)
    calls = fake_papermill(RuntimeError("Kernel died before replying to kernel_info"), None)
    assert execute(tmp_path) is None and len(calls) == 2


def test_a_kernel_that_fails_to_start_twice_fails_the_run(tmp_path, fake_papermill):
    calls = fake_papermill(*[RuntimeError("Kernel didn't respond in 120 seconds")] * 2)
    failure = execute(tmp_path)
    assert len(calls) == 2 and failure["exit_code"] == 1 and failure["notebook"] == "05_compare"
    assert "notebook 05_compare could not run: RuntimeError: Kernel didn't respond in 120 seconds" in failure["message"]


def test_other_failures_are_not_retried(tmp_path, fake_papermill):
    from nbclient.exceptions import DeadKernelError

    for error in (DeadKernelError("Kernel died"), RuntimeError("something else"), ValueError("bad notebook")):
        calls = fake_papermill(error, None)
        failure = execute(tmp_path)
        assert len(calls) == 1 and failure["status"] == "failed", error
