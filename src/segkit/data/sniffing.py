"""Delimited text files: encoding, delimiter, binary content, and a UTF-8 copy when needed.

The engines read UTF-8 only; a Latin-1 or cp1250 export is transcoded to a temporary UTF-8
copy (streamed) before the engine opens it.

Example
-------
>>> sniff_delimiter("customer_id;date;amount\\n1;05.01.2024;1,5\\n")
';'
>>> sniff_encoding("José".encode("utf-8")), sniff_encoding(b"\\xef\\xbb\\xbfid")
('utf-8', 'utf-8-sig')
"""

from __future__ import annotations

import atexit
import gzip
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import ibis.expr.types as ir

from ..engines import private_folder, read_csv_text
from ..errors import DataError
from .typed import TypedOpener, typed_opener

__all__ = ["read_csv", "sniff_encoding", "sniff_delimiter", "transcode"]

# in the order ties are broken
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def read_csv(con: Any, paths: list[str], label: str
             ) -> tuple[ir.Table, dict[str, str], Callable[[], ir.Table], TypedOpener | None]:
    """Open delimited text files as string columns.

    Returns (table, detected, serial re-reader, typed opener): the opener, on DuckDB, opens the
    same files (the UTF-8 copy of a transcoded one) with DuckDB's typed reader and given types.
    """
    detected: dict[str, str] = {"format": "csv"}
    head = _head_bytes(paths[0])
    if b"\x00" in head[:8192] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("the file is binary, not text", where=label,
                        fix="export the transactions as CSV, Parquet or Excel")
    encoding = sniff_encoding(head)
    detected["encoding"] = encoding
    files = paths
    if encoding not in ("utf-8", "utf-8-sig"):
        files = [transcode(p, encoding) for p in paths]
    text = head.decode(encoding, errors="replace")
    # binary content without NUL bytes still decodes (as Latin-1, say): control characters give it away
    controls = sum(1 for c in text[:8192] if (c < " " and c not in "\t\r\n") or "\x7f" <= c <= "\x9f" or c == "\ufffd")
    if controls > 0.05 * len(text[:8192]):
        raise DataError("the file is binary, not text", where=label,
                        fix="export the transactions as CSV, Parquet or Excel")
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise DataError("the file has no header line", where=label,
                        fix="export it with column names on the first line")
    delim = sniff_delimiter(text)
    detected["delimiter"] = _DELIMITER_NAMES.get(delim, repr(delim))
    # a line break inside a quoted value (an address, a hostile id) needs the serial CSV reader,
    # which load_transactions asks for when the parallel one meets such a value
    return (read_csv_text(con, files, delim), detected,
            lambda: read_csv_text(con, files, delim, quoted_newlines=True), typed_opener(con, files, delim))


def _head_bytes(path: str, n: int = 65536) -> bytes:
    if path.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read(n)
        except (OSError, EOFError) as exc:
            raise DataError("the .gz file is damaged or not gzip", where=path,
                            fix="download or export it again") from exc
    with open(path, "rb") as fh:
        return fh.read(n)


def sniff_encoding(head: bytes) -> str:
    """The text encoding of a file's first bytes: UTF-8 (with or without BOM), UTF-16, or a European code page."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut by the sample's end
            return "utf-8"
    from charset_normalizer import from_bytes

    # Only the single-byte code pages of European exports: left free, the guesser picks exotic
    # ones (cp775, hp_roman8) for Latin-1 text and mangles every accented customer id.
    best = from_bytes(head, cp_isolation=["cp1252", "cp1250", "latin_1", "iso8859_2", "iso8859_15"]).best()
    return (best.encoding if best else "latin-1").replace("_", "-")


def transcode(path: str, encoding: str) -> str:
    """Write a UTF-8 copy of a non-UTF-8 text file (streamed) and return its path.

    The copy is as large as the data, and the engine may read it again at every query, so it lives
    until the process ends: in this process's private folder (``segkit-text-<pid>-*`` in the system's
    temporary folder), removed at exit; a killed run's folder is removed by a later run
    (:func:`segkit.engines.private_folder`).
    """
    fd, name = tempfile.mkstemp(prefix="segkit-", suffix=".csv", dir=_text_folder())
    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as src, \
            open(fd, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    return name


_TEXT_FOLDER: list[str] = []


def _text_folder() -> str:
    """This process's folder for UTF-8 copies, made on first use and removed at exit."""
    if not _TEXT_FOLDER or not os.path.isdir(_TEXT_FOLDER[0]):
        _TEXT_FOLDER[:] = [private_folder("segkit-text-")]
        atexit.register(shutil.rmtree, _TEXT_FOLDER[0], ignore_errors=True)
    return _TEXT_FOLDER[0]


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon, tab or pipe: the one found the same number of times on most lines."""
    lines = [ln for ln in text.lstrip("\ufeff").splitlines()[:50] if ln.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the sample may cut the last line
    best, best_score = ",", -1.0
    for cand in _DELIMITER_NAMES:
        counts = [_count_outside_quotes(ln, cand) for ln in lines]
        if not counts or counts[0] == 0:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * 10 + min(counts[0], 9) / 10
        if score > best_score:
            best, best_score = cand, score
    return best


def _count_outside_quotes(line: str, ch: str) -> int:
    n, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            n += 1
    return n
