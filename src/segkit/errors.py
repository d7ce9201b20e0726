"""The one exception family for user mistakes.

Every expected mistake (a bad file, a missing column, a wrong parameter) raises a subclass of
:class:`SegkitError`. Its message says *what* is wrong, *where* (file, column, config key, row) and
*how to fix it*. The command line turns it into exit code 2 and prints the message without a
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "SegkitError",
    "DataError",
    "ConfigError",
    "ParameterError",
    "OverridesError",
    "RunFailed",
    "LockedError",
]


class SegkitError(Exception):
    """A user mistake segkit can explain. ``exit_code`` is what the CLI returns for it."""

    exit_code = 2

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None):
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [self.what.rstrip(".") + "."]
        if self.where:
            parts.append(f"Where: {self.where}.")
        if self.fix:
            parts.append(f"Fix: {self.fix.rstrip('.')}.")
        return " ".join(parts)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class DataError(SegkitError):
    """The transaction data cannot be read or used as it is."""


class ConfigError(SegkitError):
    """The reports config (``reports.yml``) is invalid."""


class ParameterError(SegkitError):
    """A run parameter is out of range or inconsistent with the data."""


class OverridesError(SegkitError):
    """The overrides CSV (manual tier placements) is invalid."""


class LockedError(SegkitError):
    """Another segkit run is publishing into the same output folder."""


class RunFailed(SegkitError):
    """A run failed while executing (exit code 1): a notebook raised, for example."""

    exit_code = 1
