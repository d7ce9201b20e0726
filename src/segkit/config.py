"""Paths of the project and the run parameters (the keys of a run in ``reports.yml``).

One place knows the paths (built from this file's location) and one place validates run
parameters, so the CLI, the notebooks and the tests all agree on names, defaults and ranges.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, ParameterError
from .i18n import LANGUAGES
from .policy import Policy

__all__ = [
    "PROJECT_ROOT",
    "DATA_DIR",
    "NOTEBOOKS_DIR",
    "REPORTS_DIR",
    "CDNOW_PATH",
    "CANONICAL_COLUMNS",
    "CRITERIA",
    "STRATEGY_CRITERION",
    "ENGINES",
    "RunParams",
    "Config",
    "load_config",
    "parse_columns",
    "is_connection_url",
    "check_connection",
]

PACKAGE_DIR = Path(__file__).resolve().parent


def _project_root(package_dir: Path) -> Path:
    """The folder segkit's data and notebooks are read from, found from the package's own location.

    In a checkout (a source or editable install) that is the repository: src/segkit -> src -> root,
    recognised by its ``pyproject.toml`` naming segkit. An installed wheel has no repository, so it is
    the package folder itself (where package data lives). Never the working folder: what segkit
    reads must not depend on where a scheduler happens to start it; a config's relative paths are
    resolved against the config file instead.

    Example
    -------
    >>> _project_root(Path("/nowhere/site-packages/segkit")).as_posix()
    '/nowhere/site-packages/segkit'
    """
    candidate = package_dir.parent.parent
    try:
        pyproject = (candidate / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return package_dir
    return candidate if re.search(r'^name\s*=\s*"segkit"', pyproject, re.M) else package_dir


PROJECT_ROOT = _project_root(PACKAGE_DIR)
DATA_DIR = PROJECT_ROOT / "data"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORTS_DIR = PROJECT_ROOT / "reports"
CDNOW_PATH = DATA_DIR / "cdnow" / "cdnow_master.csv.gz"

#: canonical column -> required?
CANONICAL_COLUMNS: dict[str, bool] = {
    "customer_id": True,
    "date": True,
    "amount": True,
    "quantity": False,
    "cost": False,
    "order_id": False,
}
CRITERIA = ("revenue", "payments", "units", "margin")
STRATEGY_CRITERION = {
    "market-expansion": "units",
    "working-capital": "revenue",
    "dividends": "margin",
    "activity": "payments",
}
ENGINES = ("duckdb", "polars", "pyspark")
_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def is_connection_url(data: Any) -> bool:
    """Whether ``data`` is an Ibis connection URL (``duckdb:///wh.duckdb``, ``postgres://host/db``), not a path."""
    return isinstance(data, str) and bool(_URL_RE.match(data))


def check_connection(data: str, table: str | None, where: str) -> None:
    """A connection URL needs a table and must not hold a password (run.json and reports show ``data``)."""
    from urllib.parse import urlsplit

    if not is_connection_url(data):
        if table is not None:
            raise ConfigError("'table' applies only when 'data' is a connection URL", where=f"{where}, key 'table'",
                              fix="remove `table:` for a file, or give `data: <backend>://...` (see README)")
        return
    if not isinstance(table, str) or not table.strip():
        raise ConfigError("a connection URL in 'data' needs the table to read", where=f"{where}, key 'table'",
                          fix="add `table: sales` (or `table: schema.sales`); on the command line --table sales")
    try:
        password = urlsplit(data).password
    except ValueError as exc:
        raise ConfigError(f"the connection URL cannot be read ({exc})", where=f"{where}, key 'data'",
                          fix="write it as backend://user@host/database") from exc
    if password:
        raise ConfigError("the connection URL contains a password, which run.json and the reports would show",
                          where=f"{where}, key 'data'",
                          fix="remove it from the URL and let the driver read it from the environment "
                              "(e.g. PGPASSWORD) or its password file")


@dataclasses.dataclass(frozen=True)
class RunParams:
    """Every parameter of one run (the keys of a run in ``reports.yml``). Build with :meth:`from_mapping`.

    This is the one list of run parameters: the command line's options
    (:func:`segkit.cli.run_param_options`) are generated from its fields, and a test checks the
    notebooks' parameters cells against it.

    Example
    -------
    >>> p = RunParams.from_mapping({"name": "demo", "data": "data/cdnow/cdnow_master.csv.gz"})
    >>> p.criterion, p.vip_share
    ('revenue', 0.2)
    """

    name: str
    data: str
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)
    criterion: str = "revenue"
    strategy: str | None = None
    as_of: str | None = None
    holdout_months: int = 6
    window_months: int = 6
    backtest_origins: int = 3
    vip_share: float = 0.2
    good_share: float = 0.2
    dropout_months: int = 2
    rfm_bins: int = 5
    k_range: tuple[int, int] = (2, 8)
    seed: int = 0
    overrides: str | None = None
    filter: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    drop_duplicates: bool = False
    max_bad_share: float = 0.01
    #: ISO 4217 code of the amounts; None writes amounts without a currency sign
    currency: str | None = None
    title: str | None = None
    engine: str = "duckdb"
    table: str | None = None
    policy: Mapping[str, Any] | None = None
    #: the reader's language: texts, numbers, dates and money of the reports (:mod:`segkit.i18n`)
    language: str = "en"
    #: a folder of the team's own copies of the notebooks (``segkit init --notebooks``); read by
    #: the runner, never passed to a notebook (hence not in the notebooks' parameters cells)
    notebooks: str | None = dataclasses.field(default=None, metadata={"notebook": False})

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any], *, where: str = "run parameters", base_dir: Path | None = None
    ) -> "RunParams":
        """Validate ``raw`` (a run entry of ``reports.yml`` merged with ``defaults``).

        Relative ``data`` and ``overrides`` paths are resolved against ``base_dir`` (the config
        file's folder). Raises :class:`ConfigError` naming the key and the fix.
        """
        values, where = _check_identity(raw, {f.name for f in dataclasses.fields(cls)}, where)
        _resolve_paths(values, base_dir, where)
        values["columns"] = _check_columns(values.get("columns") or {}, where)
        values["filter"] = _check_filter(values.get("filter") or {}, where)
        values["criterion"] = _check_criterion(values, raw, where)
        _check_numbers(values, where, window_default=cls.window_months, dropout_default=cls.dropout_months)
        _check_labels(values, where, base_dir)
        return cls(**values)

    @classmethod
    def notebook_fields(cls) -> tuple[str, ...]:
        """The fields a notebook's parameters cell defines (all but the runner's own, e.g. ``notebooks``).

        Example
        -------
        >>> "notebooks" in RunParams.notebook_fields(), "seed" in RunParams.notebook_fields()
        (False, True)
        """
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("notebook", True))

    def replace(self, **changes: Any) -> "RunParams":
        """A validated copy with ``changes`` applied."""
        return RunParams.from_mapping({**self.to_dict(), **changes}, where=f"run {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready values (what ``run.json`` records and notebooks receive)."""
        out = dataclasses.asdict(self)
        out["columns"] = dict(self.columns)
        out["filter"] = dict(self.filter)
        out["k_range"] = list(self.k_range)
        out["policy"] = _plain(self.policy) if self.policy is not None else None
        return out

    @property
    def as_of_date(self) -> dt.date | None:
        return dt.date.fromisoformat(self.as_of) if self.as_of else None

    @property
    def display_title(self) -> str:
        from .i18n import _, using

        with using(self.language):
            return self.title or _("Customer segmentation: {name}").format(name=self.name)


@dataclasses.dataclass(frozen=True)
class Config:
    """A parsed ``reports.yml``: where reports go and the runs to make."""

    path: Path | None
    out: Path
    runs: tuple[RunParams, ...]

    def select(self, names: list[str] | None) -> tuple[RunParams, ...]:
        if not names:
            return self.runs
        known = {r.name for r in self.runs}
        missing = [n for n in names if n not in known]
        if missing:
            raise ConfigError(f"no run named {', '.join(map(repr, missing))}", where=str(self.path),
                              fix=f"use one of: {', '.join(sorted(known))}")
        return tuple(r for r in self.runs if r.name in names)



def _check_identity(raw: Any, fields: set[str], where: str) -> tuple[dict[str, Any], str]:
    """A mapping with known keys, ``name`` and ``data``; returns a copy and ``where`` naming the run."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a run must be a mapping of parameters, got {type(raw).__name__}",
                          where=where, fix="write each run as `- name: ...` followed by `data: ...`")
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(map(repr, unknown))}", where=where,
                          fix=f"remove them or use one of: {', '.join(sorted(fields))}")
    for key in ("name", "data"):
        if raw.get(key) in (None, ""):
            raise ConfigError(f"the parameter {key!r} is required", where=where, fix=f"add `{key}: ...` to the run")
    values = dict(raw)
    name = values["name"]
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ConfigError(f"run name {name!r} is not allowed (it becomes a folder name)",
                          where=f"{where}, key 'name'",
                          fix="use only lower-case letters, digits, '-' and '_', e.g. cdnow-revenue")
    where = f"{where} (run {name!r})"
    check_connection(values["data"], values.get("table"), where)
    return values, where


def _resolve_paths(values: dict[str, Any], base_dir: Path | None, where: str) -> None:
    """``data``, ``overrides`` and ``notebooks`` relative to the config file's folder (URLs stay)."""
    for key in ("data", "overrides", "notebooks"):
        if key == "data" and is_connection_url(values[key]):
            continue  # a database, not a file
        if values.get(key) is not None:
            if not isinstance(values[key], (str, Path)):
                raise ConfigError(f"{key!r} must be a path", where=where, fix=f"write `{key}: path/to/file`")
            path = Path(values[key]).expanduser()
            if base_dir is not None and not path.is_absolute():
                path = base_dir / path
            values[key] = str(path)


def _check_criterion(values: Mapping[str, Any], raw: Mapping[str, Any], where: str) -> str:
    """The criterion: given, or the strategy's, or revenue; the two must agree when both are given."""
    strategy = values.get("strategy")
    if strategy is not None and strategy not in STRATEGY_CRITERION:
        raise ConfigError(f"unknown strategy {strategy!r}", where=f"{where}, key 'strategy'",
                          fix=f"use one of {', '.join(STRATEGY_CRITERION)}")
    criterion = values.get("criterion")
    if criterion is None:
        criterion = STRATEGY_CRITERION[strategy] if strategy else "revenue"
    if criterion not in CRITERIA:
        raise ConfigError(f"unknown criterion {criterion!r}", where=f"{where}, key 'criterion'",
                          fix=f"use one of {', '.join(CRITERIA)}")
    if strategy and raw.get("criterion") and STRATEGY_CRITERION[strategy] != criterion:
        raise ConfigError(
            f"strategy {strategy!r} ranks by {STRATEGY_CRITERION[strategy]!r} but criterion is {criterion!r}",
            where=where, fix="give only one of `strategy` and `criterion`, or make them agree")
    return criterion


def _check_numbers(values: dict[str, Any], where: str, *, window_default: int, dropout_default: int) -> None:
    """Dates, whole numbers in their ranges, shares, dropout within the window, k_range."""
    if values.get("as_of") is not None:
        values["as_of"] = _check_date(values["as_of"], f"{where}, key 'as_of'")
    for key, lo, hi in (("holdout_months", 1, 120), ("window_months", 1, 120), ("dropout_months", 1, 120),
                        ("rfm_bins", 2, 20), ("backtest_origins", 1, 6), ("seed", 0, 2**32 - 1)):
        if key in values:
            values[key] = _check_int(values[key], key, lo, hi, where)
    for key in ("vip_share", "good_share"):
        if key in values:
            values[key] = _check_share(values[key], key, where, open_interval=True)
    if "max_bad_share" in values:
        values["max_bad_share"] = _check_share(values["max_bad_share"], "max_bad_share", where, open_interval=False)
    window = values.get("window_months", window_default)
    if values.get("dropout_months", dropout_default) > window:
        raise ConfigError("dropout_months cannot exceed window_months", where=f"{where}, key 'dropout_months'",
                          fix=f"use a value from 1 to {window}")
    if "k_range" in values:
        values["k_range"] = _check_k_range(values["k_range"], where)


def _check_labels(values: dict[str, Any], where: str, base_dir: Path | None) -> None:
    """Switches, currency, title, policy and engine."""
    if "drop_duplicates" in values and not isinstance(values["drop_duplicates"], bool):
        raise ConfigError("drop_duplicates must be true or false", where=f"{where}, key 'drop_duplicates'",
                          fix="write `drop_duplicates: true` or `false`")
    if values.get("currency") is not None:
        cur = values["currency"]
        if not isinstance(cur, str) or not _CURRENCY_RE.match(cur):
            raise ConfigError(f"currency {cur!r} is not an ISO 4217 code", where=f"{where}, key 'currency'",
                              fix="use three capital letters such as USD, EUR, CZK or PLN")
    if values.get("title") is not None and not isinstance(values["title"], str):
        raise ConfigError("title must be text", where=f"{where}, key 'title'", fix="quote the title")
    if values.get("policy") is not None:
        values["policy"] = _check_policy(values["policy"], f"{where}, key 'policy'", base_dir)
    if values.get("language", "en") not in LANGUAGES:
        raise ConfigError(f"unknown language {values['language']!r}", where=f"{where}, key 'language'",
                          fix=f"use one of {', '.join(LANGUAGES)} (a new language needs a catalogue, see README)")
    if values.get("engine", "duckdb") not in ENGINES:
        raise ConfigError(f"unknown engine {values['engine']!r}", where=f"{where}, key 'engine'",
                          fix=f"use one of {', '.join(ENGINES)}")

def load_config(path: str | Path, *, out: str | Path | None = None) -> Config:
    """Read and validate a reports config; every mistake raises :class:`ConfigError`.

    Example
    -------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reports.yml"
    >>> _ = path.write_text("runs:\\n  - name: demo\\n    data: sales.csv\\n    holdout_months: 3\\n")
    >>> cfg = load_config(path)
    >>> [(r.name, r.holdout_months) for r in cfg.runs]
    [('demo', 3)]
    """
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping with a `runs:` list", where=str(path),
                          fix="start from the reports.yml shipped with segkit")
    unknown = sorted(set(raw) - {"out", "defaults", "runs"})
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {', '.join(map(repr, unknown))}", where=str(path),
                          fix="use only `out`, `defaults` and `runs`")
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError("`defaults` must be a mapping", where=f"{path}, key 'defaults'",
                          fix="write e.g. `defaults: {holdout_months: 6}`")
    for key in ("name",):
        if key in defaults:
            raise ConfigError(f"`{key}` cannot be a default", where=f"{path}, key 'defaults'",
                              fix="give each run its own name")
    runs_raw = raw.get("runs")
    if not isinstance(runs_raw, list) or not runs_raw:
        raise ConfigError("the config has no runs", where=f"{path}, key 'runs'",
                          fix="add a list of runs, each with `name` and `data`")
    base_dir = path.resolve().parent
    runs: list[RunParams] = []
    seen: set[str] = set()
    for i, entry in enumerate(runs_raw, start=1):
        where = f"{path}, runs[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError("each run must be a mapping", where=where, fix="write `- name: ...` and `data: ...`")
        params = RunParams.from_mapping({**defaults, **entry}, where=where, base_dir=base_dir)
        if params.name in seen:
            raise ConfigError(f"the run name {params.name!r} is used twice", where=where,
                              fix="give every run a unique name (it is the report's folder)")
        seen.add(params.name)
        runs.append(params)
    out_dir = Path(out) if out is not None else Path(raw.get("out") or "reports")
    if out is None and not out_dir.is_absolute():
        out_dir = base_dir / out_dir
    return Config(path=path, out=out_dir, runs=tuple(runs))



def _read_yaml(path: Path) -> Any:
    """The config file's YAML (plain values only), or a ConfigError naming the line and the fix."""
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist", where=str(path),
                          fix="pass the path of a reports.yml (see README, 'Config')")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("the config is not UTF-8 text", where=str(path), fix="save it as UTF-8") from exc
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, _DuplicateKey):
            raise ConfigError(f"the config gives the key {exc.key!r} twice in one mapping", where=loc,
                              fix="keep one of them (YAML would silently use the last)") from exc
        if isinstance(exc, yaml.constructor.ConstructorError) and "constructor for the tag" in problem:
            raise ConfigError(f"the config uses a YAML tag segkit does not load ({problem.split('tag ')[-1]})",
                              where=loc, fix="remove the `!!...` tag: a config holds plain values only") from exc
        raise ConfigError(f"the config is not valid YAML ({problem})", where=loc,
                          fix="check indentation and quoting near that line") from exc

class _DuplicateKey(yaml.constructor.ConstructorError):
    def __init__(self, key: Any, mark: Any):
        super().__init__(None, None, f"duplicate key {key!r}", mark)
        self.key = key


class _ConfigLoader(yaml.SafeLoader):
    """Safe YAML (no Python objects) that refuses duplicate keys and keeps dates as text.

    Dates stay text so that ``as_of: 2024-02-30`` reaches the date check (a clear message)
    instead of failing inside the YAML parser.
    """

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise _DuplicateKey(key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def parse_columns(pairs: list[str] | None) -> dict[str, str]:
    """Turn CLI ``KEY=COLUMN`` pairs into a columns mapping."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ParameterError(f"--columns expects KEY=COLUMN, got {pair!r}", where="--columns",
                                 fix="write e.g. --columns customer_id=CustomerID amount=Total")
        mapping[key.strip()] = value.strip()
    return _check_columns(mapping, "--columns")


# ---------------------------------------------------------------------- checks
def _check_columns(columns: Any, where: str) -> dict[str, str]:
    if not isinstance(columns, Mapping):
        raise ConfigError("`columns` must map canonical names to the file's column names",
                          where=f"{where}, key 'columns'",
                          fix="write e.g. `columns: {customer_id: CustomerID, date: InvoiceDate, amount: Total}`")
    out: dict[str, str] = {}
    for key, value in columns.items():
        if not isinstance(key, str) or not isinstance(value, str) or not value:
            raise ConfigError(f"column mapping {key!r}: {value!r} must map a name to a column name",
                              where=f"{where}, key 'columns'", fix="quote the names")
        out[key] = value
    used = [v for v in out.values()]
    dupes = sorted({v for v in used if used.count(v) > 1})
    if dupes:
        raise ConfigError(f"the file column(s) {', '.join(map(repr, dupes))} are mapped twice",
                          where=f"{where}, key 'columns'", fix="map each file column to one name")
    return out


def _check_filter(flt: Any, where: str) -> dict[str, Any]:
    if not isinstance(flt, Mapping):
        raise ConfigError("`filter` must map attribute columns to values", where=f"{where}, key 'filter'",
                          fix="write e.g. `filter: {region: EU}`")
    out = {}
    for key, value in flt.items():
        ok = isinstance(value, (str, int, float, bool)) or (
            isinstance(value, list) and value and all(isinstance(v, (str, int, float, bool)) for v in value))
        if not isinstance(key, str) or not ok:
            raise ConfigError(f"filter {key!r}: {value!r} must be a value or a list of values",
                              where=f"{where}, key 'filter'", fix="write e.g. `filter: {region: EU}`")
        out[key] = value
    return out


def _plain(value: Any) -> Any:
    """Nested mappings as plain dicts (JSON-ready, and what papermill can pass to a notebook)."""
    return {str(k): _plain(v) for k, v in value.items()} if isinstance(value, Mapping) else value


def _check_policy(value: Any, where: str, base_dir: Path | None) -> dict[str, Any]:
    """The ``policy`` key: a mapping tier -> settings, or the path of a YAML file holding one.

    A path is read relative to the config file's folder; the file holds the mapping itself or
    ``policy:`` followed by it. The settings are validated by
    :meth:`segkit.decisions.Policy.from_mapping` and kept as given (plain values, no defaults added).
    """

    if isinstance(value, (str, Path)):
        path = Path(value).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        if not path.is_file():
            raise ConfigError(f"policy file {str(path)!r} does not exist", where=where,
                              fix="give the path of a YAML file (relative to the config file) or write the "
                                  "policy inline")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"policy file {str(path)!r} is not valid YAML ({exc})", where=where,
                              fix="check the indentation and the colons") from exc
        if isinstance(loaded, Mapping) and set(loaded) == {"policy"}:
            loaded = loaded["policy"]
        value, where = loaded, f"{where} (file {str(path)!r})"
    Policy.from_mapping(value, where=where)
    return _plain(value)


def _check_date(value: Any, where: str) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise ConfigError(f"{value!r} is not a date", where=where, fix="write it as YYYY-MM-DD") from exc


def _check_int(value: Any, key: str, lo: int, hi: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{key} must be a whole number from {lo} to {hi}, got {value!r}",
                          where=f"{where}, key {key!r}", fix=f"set {key} to a number in that range")
    return value


def _check_share(value: Any, key: str, where: str, *, open_interval: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (0 < value < 1) if open_interval else (0 <= value < 1)
    if not ok:
        rng = "strictly between 0 and 1" if open_interval else "from 0 up to (not including) 1"
        raise ConfigError(f"{key} must be a fraction {rng}, got {value!r}", where=f"{where}, key {key!r}",
                          fix=f"write e.g. `{key}: 0.2` for 20%")
    return value


def _check_k_range(value: Any, where: str) -> tuple[int, int]:
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and 2 <= value[0] <= value[1] <= 50):
        return (int(value[0]), int(value[1]))
    raise ConfigError(f"k_range must be two whole numbers [low, high] with 2 <= low <= high <= 50, got {value!r}",
                      where=f"{where}, key 'k_range'", fix="write e.g. `k_range: [2, 8]`")
