"""``python -m segkit`` is the ``segkit`` command; ``spark-submit <this file> segment ...`` runs it
with Spark's master and settings (README, "On a Spark cluster")."""

import os
import sys

if not __package__:
    # run as a file (spark-submit takes a file, not a module): Python put this folder first on the
    # path, where segkit's calendar.py would shadow the standard library's
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]

from segkit.cli import main  # noqa: E402 - after the path is fixed

sys.exit(main())
