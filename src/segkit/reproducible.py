"""Reproducible output: the ``SOURCE_DATE_EPOCH`` convention (reproducible-builds.org).

When the environment variable ``SOURCE_DATE_EPOCH`` holds a Unix time (whole seconds), every
timestamp segkit writes into a published file is that moment instead of the clock, and measured
durations are written as 0, so two runs of the same data, parameters and package versions give
byte-identical files. Without it, timestamps are the real time (UTC).

:func:`single_threaded` runs the numeric libraries' thread pools (OpenMP, BLAS) on one thread
while segkit computes: a sum split across threads is added in an order that depends on the number
of cores, so the same run could differ in its last digits from one machine to another.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

from .errors import ParameterError

__all__ = ["source_date_epoch", "now", "timestamp", "duration", "single_threaded", "one_thread", "side_by_side",
           "side_by_side_threads", "share_malloc_arena", "THREADS_ENV"]

_F = TypeVar("_F", bound=Callable[..., Any])

_VAR = "SOURCE_DATE_EPOCH"


def source_date_epoch() -> dt.datetime | None:
    """The moment ``SOURCE_DATE_EPOCH`` names (UTC), or None when it is unset or empty.

    Example
    -------
    >>> moment = source_date_epoch()
    >>> moment is None or moment.tzinfo is dt.timezone.utc
    True
    """
    raw = os.environ.get(_VAR, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ParameterError(f"{_VAR} must be a Unix time in whole seconds, got {raw!r}", where=_VAR,
                             fix="set it to e.g. $(git log -1 --format=%ct), or unset it")
    return dt.datetime.fromtimestamp(int(raw), tz=dt.timezone.utc)


def now() -> dt.datetime:
    """The current time in UTC, or the ``SOURCE_DATE_EPOCH`` moment when it is set."""
    return source_date_epoch() or dt.datetime.now(dt.timezone.utc)


def timestamp() -> str:
    """:func:`now` as ISO 8601 to the second, e.g. ``2026-12-03T15:00:00+00:00``."""
    return now().isoformat(timespec="seconds")


def duration(seconds: float) -> float:
    """A measured duration as it is published: 0.0 under ``SOURCE_DATE_EPOCH`` (never reproducible)."""
    return 0.0 if source_date_epoch() is not None else seconds


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Limit scikit-learn's, scipy's and numpy's thread pools (OpenMP, BLAS) to one thread inside the block.

    Two reasons. The numbers: k-means and the optimisers add partial sums per thread, so their last
    digits (inertia, fitted parameters, and with them a rank on a tie) would depend on the machine's
    core count. The speed: on a machine whose cores are busy (another run, a scheduler's other jobs)
    the pools' threads wait for each other; a 3-cluster k-means of 1,915 customers took 0.63 s on
    two threads of a busy 2-core machine and 0.025 s on one. DuckDB's own threads are not affected.

    Example
    -------
    >>> from threadpoolctl import threadpool_info
    >>> with single_threaded():
    ...     all(pool["num_threads"] == 1 for pool in threadpool_info())
    True
    """
    with threadpool_limits(limits=1):
        yield


def one_thread(func: _F) -> _F:
    """Decorator: run ``func`` inside :func:`single_threaded`."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with single_threaded():
            return func(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


#: the environment variable that caps segkit's threads (DuckDB's, and :func:`side_by_side`'s)
THREADS_ENV = "SEGKIT_THREADS"
#: side_by_side's threads when nothing caps them lower (each holds a chunk of resamples: ~0.1-0.2 GB)
MAX_SIDE_BY_SIDE = 4


def side_by_side_threads(environ: Mapping[str, str] | None = None) -> int:
    """Python threads :func:`side_by_side` uses: ``SEGKIT_THREADS`` when set, else the usable cores,
    at most :data:`MAX_SIDE_BY_SIDE`.

    >>> side_by_side_threads({"SEGKIT_THREADS": "1"})
    1
    """
    raw = (os.environ if environ is None else environ).get(THREADS_ENV, "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise ParameterError(f"{THREADS_ENV} must be a whole number of threads, got {raw!r}", where=THREADS_ENV,
                                 fix="set it to e.g. 2, or unset it") from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_SIDE_BY_SIDE))


@contextlib.contextmanager
def side_by_side(tasks: int) -> Iterator[Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]]:
    """A ``map(fn, items)`` that runs independent computations on several Python threads, in order.

    For the bootstrap's numeric work (one scheme's or one ranking's resamples per item): numpy's
    ``bincount`` and matrix products release the GIL, so two cores score two items at once. Every
    item is computed by the same operations as on one thread (BLAS stays on one thread per call,
    :func:`single_threaded`), so the results are bit for bit the serial ones; only the order in
    which items finish changes, and the list comes back in the items' order. The pool lives for the
    block (``tasks``: how many items a call maps at most; one thread when that is 1).

    Example
    -------
    >>> with side_by_side(3) as run:
    ...     run(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
    """
    workers = min(side_by_side_threads(), max(1, tasks))
    if workers == 1:
        yield lambda fn, items: [fn(item) for item in items]
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segkit") as pool:
        yield lambda fn, items: list(pool.map(functools.partial(_openmp_single, fn), items))


def _openmp_single(fn: Callable[[Any], Any], item: Any) -> Any:
    """``fn(item)`` with OpenMP on one thread: its thread count is each thread's own setting, so the
    caller's :func:`single_threaded` does not reach a new thread (BLAS's limit is process-wide)."""
    with threadpool_limits(limits=1, user_api="openmp"):
        return fn(item)


#: glibc's ``mallopt`` parameter for the number of malloc arenas (``M_ARENA_MAX`` in malloc.h)
_M_ARENA_MAX = -8
_ARENAS_SHARED: list[bool] = []


def share_malloc_arena() -> None:
    """Let the process's threads share glibc's one malloc arena (once per process; elsewhere nothing).

    glibc gives each new thread its own arena, and memory freed in one is not reused by another: the
    bootstrap's threads (:func:`side_by_side`) raised a 2M-row run's peak by 300 MB (1,881 -> 2,184
    MB) for the same numbers; with one arena 1,908 MB, as fast. The ``segkit`` command calls it first
    thing (as ``MALLOC_ARENA_MAX=1`` would, for the threads started afterwards; set at the bootstrap
    it came too late: 2,153 MB); a notebook or script may call it too. A process-wide setting.
    """
    if _ARENAS_SHARED:
        return
    _ARENAS_SHARED.append(True)
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt"):
            libc.mallopt(_M_ARENA_MAX, 1)
    except OSError:  # not glibc (macOS, musl): their allocators differ; nothing to set
        return
