"""Independent AWS calls of one invocation, sent side by side.

A batch's conditional writes (one per record) and its digest windows' ledger calls do not depend on each
other: sent one after another they are a batch's critical path (100 round trips for 100 records). They go
through a small thread pool instead. botocore clients are thread-safe ("Multithreading or
multiprocessing with clients", boto3 guide), and the clients keep ``WIDTH`` connections open
(``adapters/clients.py``), so no connection is dropped and re-opened.

Each task's result or exception comes back in the order the tasks were given; nothing else is shared
between the tasks. ``benchmarks/worker.py`` wraps ``run_all`` to count the round trips on an
invocation's critical path.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, List, Optional, Sequence, TypeVar

T = TypeVar("T")

#: Calls in flight at once (the pool's threads; the clients' connection pool is as large).
WIDTH = 25

_lock = threading.Lock()
_pool: Optional[Any] = None  # the ThreadPoolExecutor, made on first use (nothing at import)


class Done(Generic[T]):
    """A task's outcome: its ``value``, or the ``error`` it raised."""

    __slots__ = ("value", "error")

    def __init__(self, value: Optional[T] = None, error: Optional[BaseException] = None) -> None:
        self.value = value
        self.error = error


def _run(task: Callable[[], T]) -> Done[T]:
    try:
        return Done(task())
    except Exception as err:  # handed back to the caller, who decides whose failure it is
        return Done(error=err)


def _executor() -> Any:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                from concurrent.futures import ThreadPoolExecutor

                _pool = ThreadPoolExecutor(max_workers=WIDTH, thread_name_prefix="fanout")
    return _pool


def run_all(tasks: Sequence[Callable[[], T]]) -> List[Done[T]]:
    """Run ``tasks`` side by side (at most ``WIDTH`` at once); their outcomes, in order."""
    if len(tasks) <= 1:
        return [_run(task) for task in tasks]
    pool = _executor()
    return [future.result() for future in [pool.submit(_run, task) for task in tasks]]
