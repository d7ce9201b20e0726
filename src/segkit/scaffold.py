"""``segkit init``: a working folder that ``segkit run`` publishes from at once.

The folder gets a ``reports.yml`` listing every run parameter with its default (written from
:class:`segkit.config.RunParams`, so it cannot drift from what segkit accepts), the CDNOW 1/10 sample
to run on, an example overrides file and, on request, copies of the notebooks to customise.

Example
-------
>>> import tempfile
>>> [p.name for p in init_folder(tempfile.mkdtemp())]
['reports.yml', 'overrides.example.csv', 'CDNOW_sample.csv.gz']
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import yaml

from . import __version__
from .config import DATA_DIR, RunParams
from .errors import ConfigError

__all__ = ["init_folder", "reports_yml", "KEY_HELP"]

SAMPLE = DATA_DIR / "cdnow" / "CDNOW_sample.csv.gz"
#: what each run parameter means, one line (a key missing here is still listed, with its default)
KEY_HELP = {
    "columns": "canonical name -> your column: customer_id, date, amount (required), quantity, cost, order_id",
    "criterion": "what percentile tiers rank by: revenue, payments, units or margin",
    "strategy": "market-expansion, working-capital, dividends or activity (sets the criterion)",
    "as_of": "last day of calibration, YYYY-MM-DD; null: the holdout ends with the last complete month",
    "holdout_months": "months after as_of used to score the schemes",
    "window_months": "months of monthly tiers merged into the window tier",
    "vip_share": "VIP share of paying customers",
    "good_share": "GOOD share of the rest",
    "dropout_months": "a VIP with no payment in this many last months is flagged",
    "rfm_bins": "RFM scores run from 1 to this",
    "k_range": "k-means: the range of cluster counts to choose from",
    "seed": "every random step (k-means, bootstrap) uses it",
    "overrides": "CSV customer_id,tier,reason: customers placed in a tier by hand",
    "filter": "keep rows whose attribute columns equal these values, e.g. {region: EU}",
    "drop_duplicates": "drop rows equal in every column, keeping one copy",
    "max_bad_share": "largest share of unreadable values dropped instead of stopping",
    "currency": "ISO 4217 code of the amounts (USD, EUR, CZK, PLN, RON, RSD); null: no currency sign",
    "language": "the reports' language: en, cs, pl, ro, sr (Serbian, Latin) or sr-Cyrl",
    "title": "the report's title; null: 'Customer segmentation: <name>'",
    "engine": "where features are computed: duckdb, polars or pyspark",
    "table": "when data is a database URL (duckdb:///wh.duckdb): the table to read",
    "notebooks": "a folder of your own copies of the notebooks; null: segkit's own",
}

_OVERRIDES = '''customer_id,tier,reason
00004,VIP,"Example: framework contract signed, volumes grow next quarter (replace with your own)"
12476,GOOD,Example: key distributor for a new product line
'''


def _default(field: dataclasses.Field) -> Any:
    value = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
    return list(value) if isinstance(value, tuple) else value


def _flow(value: Any) -> str:
    """A value as one line of YAML (``null``, ``{}``, ``[2, 8]``, ``revenue``)."""
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("\n...").strip()


def reports_yml(*, notebooks: bool = False) -> str:
    """The text of the scaffolded ``reports.yml``: one sample run, every other key with its default.

    Example
    -------
    >>> [line.split()[:3] for line in reports_yml().splitlines() if "holdout_months" in line]
    [['#', 'holdout_months:', '6']]
    """
    lines = [
        f"# segkit reports config, written by `segkit init` (segkit {__version__}).",
        "# `segkit run` in this folder publishes every run below into `out`, with an index page.",
        "# Relative paths are relative to this file. Unknown keys are errors.",
        "out: reports",
        "",
        "# Every run parameter and its default. Uncomment a line to change it for every run;",
        "# a run's own keys win over these.",
        "defaults:",
    ]
    width = max(len(f.name) for f in dataclasses.fields(RunParams))
    for f in dataclasses.fields(RunParams):
        if f.name in ("name", "data"):
            continue
        if f.name == "notebooks" and notebooks:
            lines.append(f"  {'notebooks:':<{width + 1}} notebooks  # {KEY_HELP['notebooks']}")
            continue
        entry = f"{f.name + ':':<{width + 1}} {_flow(_default(f))}"
        lines.append(f"#  {entry:<{width + 14}} # {KEY_HELP.get(f.name, 'see the README, Config')}")
    lines += [
        "",
        "runs:",
        "  - name: cdnow-sample            # [a-z0-9_-]+, unique: the run's folder in `out`",
        '    title: "CDNOW music store (1/10 sample): customers ranked by cash received"',
        f"    data: {SAMPLE.name}      # CSV, Parquet (or a glob), Excel, or a database URL with `table`",
        "    columns: {customer_id: customer_id, date: date, amount: amount, quantity: quantity}",
        "    overrides: overrides.example.csv  # customers placed in a tier by hand, with reasons",
        "    currency: USD",
        "  # - name: my-sales",
        "  #   data: /path/to/sales.csv",
        "  #   columns: {customer_id: CustomerNo, date: InvoiceDate, amount: NetValue}",
        "",
    ]
    return "\n".join(lines)


def init_folder(folder: str | Path, *, notebooks: bool = False, force: bool = False) -> list[Path]:
    """Write the working folder ``folder`` (created if needed); returns the files written.

    Refuses to overwrite a ``reports.yml`` or notebooks already there unless ``force``.
    """
    from .runner import notebook_paths

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError("the path exists and is not a folder", where=str(folder), fix="choose another DIR")
    files: dict[Path, Any] = {folder / "reports.yml": reports_yml(notebooks=notebooks),
                              folder / "overrides.example.csv": _OVERRIDES,
                              folder / SAMPLE.name: SAMPLE}
    if notebooks:
        files.update({folder / "notebooks" / p.name: p for p in notebook_paths(None)})
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise ConfigError(f"{len(existing)} file(s) would be overwritten, e.g. {existing[0].name}", where=str(folder),
                          fix="choose an empty folder, or pass --force to overwrite them")
    if not SAMPLE.is_file():
        raise ConfigError("the bundled CDNOW sample is missing", where=str(SAMPLE), fix="reinstall segkit")
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path) and content.suffix == ".ipynb":
            path.write_text(_point_at_sample(content.read_text(encoding="utf-8")), encoding="utf-8")
        elif isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_text(content, encoding="utf-8")
    return list(files)


def _point_at_sample(notebook: str) -> str:
    """A notebook whose parameters cell opens the folder's sample, so that opened by hand in
    JupyterLab (cwd ``notebooks/``) it runs as it is; ``segkit run`` injects each run's own data."""
    import json

    nb = json.loads(notebook)
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            lines = "".join(cell["source"]).split("\n")
            lines = [f'data = "../{SAMPLE.name}"' if ln.startswith("data = ") else ln for ln in lines]
            cell["source"] = [ln + "\n" for ln in lines[:-1]] + [lines[-1]]
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
