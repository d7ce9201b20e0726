"""Load transactions from where they live, map columns, clean them, and report what cleaning did.

One module per concern, in the order a source goes through them:

- :mod:`~segkit.data.sources` — paths, globs, Excel, DataFrames, Ibis tables, connection URLs;
  the data hash on a background thread;
- :mod:`~segkit.data.sniffing` — encoding, delimiter and binary checks of text files, transcoding;
- :mod:`~segkit.data.columns` — canonical and attribute names mapped to the source's columns;
- :mod:`~segkit.data.parsing` — date and number layouts, the parse expression, drop reasons;
- :mod:`~segkit.data.typed` — the fast path: a clean CSV read by DuckDB's typed reader, the text
  parser where that reader would read it differently;
- :mod:`~segkit.data.counting` — rows, customers and money per finding, duplicates, examples;
- :mod:`~segkit.data.quality` — :class:`QualityReport` (text, frame, HTML, ``run.json``);
- :mod:`~segkit.data.loader` — :func:`load_transactions`, the short orchestration of the above.

The result is a :class:`Transactions` holding the clean Ibis table (canonical columns) and a
:class:`QualityReport` of everything cleaning found and did.

Example
-------
>>> from segkit.data import load_transactions
>>> tx = load_transactions("data/cdnow/cdnow_master.csv.gz")  # doctest: +SKIP
>>> tx.quality.rows_read, tx.quality.rows_used  # doctest: +SKIP
(69659, 69579)
"""

from .loader import Transactions, load_transactions
from .parsing import DROP_REASONS
from .quality import QualityReport
from .sources import file_sha256, sha256_of_files

__all__ = ["Transactions", "QualityReport", "load_transactions", "DROP_REASONS", "file_sha256", "sha256_of_files"]
