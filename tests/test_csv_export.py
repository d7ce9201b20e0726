"""The run's CSV files are written by DuckDB with exactly the bytes pandas' ``to_csv`` wrote.

The reference is the writer segkit used before (``spreadsheet_safe(frame).to_csv(index=False,
lineterminator="\\n")``); every comparison is byte for byte, and each case also states which writer
wrote the file, so a case that quietly fell back to pandas fails the DuckDB expectation.
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segkit import csvfiles
from segkit.csvfiles import spreadsheet_safe, write_csv

TEXTS = ["plain", 'say "hi"', "a,b", "two\nlines", "ünï©ødé 日本語 🙂", "=1+2", "+33 1", "-7", "@SUM(A1)",
         "\tindent", "'quoted", "#hash", "a#b", " lead", "trail ", "NULL", "nan", "", None, "\\back", "x\x00y",
         'end"', ",", '"', "semi;colon"]


def reference(frame: pd.DataFrame) -> bytes:
    """What segkit wrote before: pandas' CSV of the spreadsheet-safe frame."""
    buf = io.StringIO()
    spreadsheet_safe(frame).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def written(frame: pd.DataFrame, tmp_path) -> tuple[str, bytes]:
    path = tmp_path / "out.csv"
    writer = write_csv(frame, path)
    return writer, path.read_bytes()


def test_a_small_file_byte_for_byte(tmp_path):
    frame = pd.DataFrame({"customer_id": ["=HYPERLINK(\"x\")", "a,b", "", None],
                          "n": [1, -2, 3, 4], "v": [1.0, 1e-05, float("nan"), -0.0], "ok": [True, False, True, False]})
    assert written(frame, tmp_path) == ("duckdb", b'customer_id,n,v,ok\n"\'=HYPERLINK(""x"")",1,1.0,True\n'
                                                  b'"a,b",-2,1e-05,False\n,3,,True\n,4,-0.0,False\n')


FLOATS = [1.0, 0.1, 1e-05, 1e16, 123456789.123456, -0.0, float("nan"), 0.0001, 1e15, 9999999999999998.0,
          5e-324, 1.7976931348623157e308, 2.5, 100.0, 1 / 3, -1e-07, float("inf"), float("-inf"), 0.0, 12345.678901]

ENGINE_CASES = {
    "texts": pd.DataFrame({"t": TEXTS, "n": range(len(TEXTS))}),
    "pandas str dtype": pd.DataFrame({"t": pd.Series(TEXTS, dtype="str"), "n": 1}),
    "nullable string": pd.DataFrame({"t": pd.array(TEXTS, dtype="string"), "n": 1}),
    "text in several Arrow chunks": pd.DataFrame({"t": pd.concat([pd.Series(["=a", ""], dtype="str"),
                                                                pd.Series(["b,c", None], dtype="str")],
                                                               ignore_index=True), "n": 1}),
    "Arrow-typed text": pd.DataFrame({"t": pd.arrays.ArrowExtensionArray(pa.chunked_array([["=a", ""], ["b", None]])),
                                      "n": 1}),
    "object texts and NaN": pd.DataFrame({"t": pd.Series(["=a", np.nan, "b", None], dtype=object), "n": 1}),
    "all missing": pd.DataFrame({"a": pd.Series([np.nan, None], dtype=object), "b": [np.nan, np.nan]}),
    "floats": pd.DataFrame({"v": FLOATS, "w": FLOATS[::-1]}),
    "ints": pd.DataFrame({"a": np.array([0, -1, 2**63 - 1, -2**63]), "b": np.array([0, 1, 255, 7], dtype=np.uint8),
                          "c": np.array([2**64 - 1, 0, 1, 2], dtype=np.uint64)}),
    "nullable ints": pd.DataFrame({"a": pd.array([1, None, -3, 0], dtype="Int64"), "b": 1}),
    "bools": pd.DataFrame({"a": [True, False], "b": pd.array([True, None], dtype="boolean")}),
    "categories of text": pd.DataFrame({"c": pd.Categorical(["=x", None, "b,c", "b,c"]), "n": 1}),
    "no rows": pd.DataFrame({"customer_id": pd.Series([], dtype=object), "v": pd.Series([], dtype=float)}),
    "names with spaces and signs": pd.DataFrame({"value at stake": [1.5], "share (%)": [2], "a.b-c/d:e;f": [3]}),
}


@pytest.mark.parametrize("case", ENGINE_CASES)
def test_duckdb_writes_what_pandas_wrote(case, tmp_path):
    frame = ENGINE_CASES[case]
    assert written(frame, tmp_path) == ("duckdb", reference(frame))


PANDAS_CASES = {
    "dates": pd.DataFrame({"d": [dt.date(2024, 1, 31), None], "n": 1}),
    "datetimes": pd.DataFrame({"d": pd.to_datetime(["2024-01-31 00:00", None, "2024-02-01 10:30"], format="ISO8601"), "n": 1}),
    "midnight datetimes": pd.DataFrame({"d": pd.to_datetime(["2024-01-31", "2024-02-01"]), "n": 1}),
    "mixed objects": pd.DataFrame({"o": ["a", 1, 2.5, True, None, -4], "n": 1}),
    "categories of numbers": pd.DataFrame({"c": pd.Categorical([1, None, 2]), "n": 1}),
    "nullable floats": pd.DataFrame({"f": pd.array([0.1, None], dtype="Float64"), "n": 1}),
    "32-bit floats": pd.DataFrame({"f": np.array([0.1, 1e-05], dtype=np.float32), "n": 1}),
    "carriage return": pd.DataFrame({"t": ["a\rb", "x"], "n": 1}),
    "one column": pd.DataFrame({"t": ["", None, "a"]}),
    "names that need quoting": pd.DataFrame({"a,b": [1], 'q"': [2]}),
}


@pytest.mark.parametrize("case", PANDAS_CASES)
def test_what_duckdb_cannot_match_goes_to_pandas(case, tmp_path):
    frame = PANDAS_CASES[case]
    assert written(frame, tmp_path) == ("pandas", reference(frame))


def test_random_doubles_are_written_as_python_writes_them(tmp_path):
    bits = np.random.default_rng(20).integers(0, 2**64, size=200_000, dtype=np.uint64)
    doubles = bits.view(np.float64)
    scaled = np.random.default_rng(21).random(100_000) * 10.0 ** np.random.default_rng(22).integers(-8, 18, 100_000)
    frame = pd.DataFrame({"bits": doubles[:100_000], "more": doubles[100_000:], "scaled": scaled,
                          "rounded": np.round(scaled, 6)})
    assert written(frame, tmp_path) == ("duckdb", reference(frame))


_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
_column = st.one_of(
    st.lists(st.one_of(st.none(), _text, st.sampled_from(["=x", "-1", "@a", "+", "\t", "", "a,b", '"', "\n"]))),
    st.lists(st.floats(allow_nan=True, allow_infinity=True)),
    st.lists(st.integers(-2**63, 2**63 - 1)),
    st.lists(st.booleans()),
    st.lists(st.one_of(st.none(), st.integers(-10**6, 10**6))).map(lambda v: pd.array(v, dtype="Int64")),
    # labels as a run holds them: categories of text, written as codes into their rewritten categories
    st.lists(st.one_of(st.none(), _text, st.sampled_from(["=x", "", "a,b", "#", "VIP"]))).map(pd.Categorical),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.lists(_column, min_size=2, max_size=5), rows=st.integers(0, 12))
def test_random_frames_byte_for_byte(columns, rows, tmp_path):
    frame = pd.DataFrame({f"c{i}": _fit(col, rows) for i, col in enumerate(columns)})
    writer, got = written(frame, tmp_path)
    assert got == reference(frame)
    texts = frame.select_dtypes(include=["object", "str", "category"])
    if not texts.apply(lambda s: s.astype(str).str.contains("\r").any()).any():
        assert writer == "duckdb"


def _fit(values, rows: int):
    """``values`` cut or repeated to ``rows`` entries, keeping its type."""
    if len(values) == 0:
        values = pd.array([None], dtype="Int64") if isinstance(values, pd.api.extensions.ExtensionArray) else [None]
    idx = [i % len(values) for i in range(rows)]
    return values[idx] if isinstance(values, pd.api.extensions.ExtensionArray) else [values[i] for i in idx]


def test_cdnow_run_files_are_unchanged_and_written_by_duckdb(cdnow_analysis, tmp_path):
    from segkit.pipeline import write_run_files

    frames = {"assignments.csv": cdnow_analysis.assignments, "tiers_monthly.csv": cdnow_analysis.tiers_monthly,
              "alerts.csv": cdnow_analysis.alert_rows(), "actions.csv": cdnow_analysis.decisions.actions}
    write_run_files(cdnow_analysis, tmp_path)
    for name, frame in frames.items():
        assert len(frame) > 1000, name
        assert (tmp_path / name).read_bytes() == reference(frame), name
        assert write_csv(frame, tmp_path / "again.csv") == "duckdb", name


class _FailingCopy:
    """A DuckDB connection whose COPY writes half a file and then fails (a full disk, a kill)."""

    def register(self, *args):
        pass

    def execute(self, sql: str):
        path = sql.split("TO '", 1)[1].split("'", 1)[0]
        with open(path, "w") as fh:
            fh.write("customer_id,v\nhalf")
        raise OSError("No space left on device")

    def close(self):
        pass


def test_an_interrupted_copy_leaves_the_published_file_alone(tmp_path, monkeypatch):
    import duckdb

    target = tmp_path / "assignments.csv"
    target.write_text("customer_id,v\nold,1\n")
    assert csvfiles._engine_agrees()  # checked (and remembered) before DuckDB starts failing
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: _FailingCopy())
    with pytest.raises(OSError, match="No space"):
        write_csv(pd.DataFrame({"customer_id": ["new"], "v": [2.0]}), target)
    assert target.read_text() == "customer_id,v\nold,1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["assignments.csv"]


def test_formula_starts_are_the_spreadsheet_ones():
    assert csvfiles.FORMULA_START == ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture()
def fresh_probe():
    csvfiles._engine_agrees.cache_clear()
    yield
    csvfiles._engine_agrees.cache_clear()


def test_a_duckdb_that_writes_a_float_differently_hands_every_file_to_pandas(fresh_probe, tmp_path, monkeypatch):
    copy = csvfiles._copy

    def float_as_arrow_writes_it(table, path):  # 1.0 as "1", as Arrow's own cast does
        copy(table, path)
        path.write_bytes(path.read_bytes().replace(b",1.0,", b",1,"))

    monkeypatch.setattr(csvfiles, "_copy", float_as_arrow_writes_it)
    assert csvfiles._engine_agrees() is False
    frame = pd.DataFrame({"v": [1.0, 2.5], "n": [1, 2]})
    assert written(frame, tmp_path) == ("pandas", b"v,n\n1.0,1\n2.5,2\n")


def test_a_duckdb_without_an_option_hands_every_file_to_pandas(fresh_probe, monkeypatch):
    def unknown_option(table, path):
        raise RuntimeError('Binder Error: Unrecognized option CSV writer "comment"')

    monkeypatch.setattr(csvfiles, "_copy", unknown_option)
    assert csvfiles._engine_agrees() is False


def test_the_installed_duckdb_agrees(fresh_probe):
    assert csvfiles._engine_agrees() is True
