"""Write a file so that a reader sees either the old content or the new, never half of it.

Every file segkit publishes (run files, the analysis cache, the index, benchmark results) goes
through :func:`atomic_open`: the bytes are written to a hidden temporary file in the same folder
and renamed over the target only once complete. A rename inside one folder is atomic on POSIX
file systems, so a crash or a full disk leaves the previous file untouched (and at most a
``.<name>.*.tmp`` leftover, which the next write does not need).

This module imports nothing from segkit: every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_path", "atomic_write"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path`` for another writer (an engine's ``COPY``, a tool);
    on a clean exit it replaces ``path`` atomically, on an exception it is removed.

    Example
    -------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "table.csv"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("a\\n1\\n")
    >>> target.read_text()
    'a\\n1\\n'
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb", *, encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` keeps its previous content.

    Example
    -------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "data.bin"
    >>> with atomic_open(target) as fh:
    ...     _ = fh.write(b"complete")
    >>> target.read_bytes()
    b'complete'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        # "\n" line ends on every platform: published files must be byte-identical everywhere
        fh: IO[Any] = (open(tmp, "w", encoding=encoding or "utf-8", newline="\n") if mode == "w"
                       else open(tmp, "wb"))
        with fh:
            yield fh


def atomic_write(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; returns the path.

    Example
    -------
    >>> import tempfile
    >>> p = atomic_write(Path(tempfile.mkdtemp()) / "a.txt", "hello\\n")
    >>> p.read_text()
    'hello\\n'
    """
    if isinstance(data, bytes):
        with atomic_open(path, "wb") as fh:
            fh.write(data)
    else:
        with atomic_open(path, "w", encoding=encoding) as fh:
            fh.write(data)
    return Path(path)
