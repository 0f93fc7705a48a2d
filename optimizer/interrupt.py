"""Ctrl-C during a long search returns at once, with the search's best plan so far.

The search runs in a daemon thread; the calling (main) thread waits for it in short joins, so
that Ctrl-C reaches it at once. The solvers release the GIL while they search.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Search threads left running after Ctrl-C; joined at exit (a native solver thread killed at
#: interpreter shutdown aborts the process).
_abandoned: list[threading.Thread] = []


@atexit.register
def _join_abandoned() -> None:
    for thread in _abandoned:
        thread.join()


def run_interruptibly(work: Callable[[], T], stop: threading.Event) -> T:
    """Run ``work`` in a daemon thread and return its result; on Ctrl-C raise
    KeyboardInterrupt at once and set ``stop``.

    ``stop`` ends the searches that check it at their next step; branch and bound cannot be
    stopped from outside and runs out its time limit in the background (its result is
    discarded; the process waits for it at exit).
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="territory-solve", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        stop.set()
        _abandoned.append(thread)
        raise
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result
