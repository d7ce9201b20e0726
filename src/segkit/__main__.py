"""``python -m segkit`` is the ``segkit`` command."""

import sys

from .cli import main

sys.exit(main())
