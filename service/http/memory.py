"""Cyclic garbage collection paused while a hook call runs.

A 4 MB prefetch is some 300,000 Python objects, made in one go by the JSON parser and alive until the answer is
sent. Each full collection the allocations trigger walks all of them, so with collection on, parsing a large request
took four times as long as without it (`aza-cds bench`, long history). The call's objects hold no reference cycles
(JSON trees, records, cards) and are freed by reference counting when it ends; collection resumes once no call is
running, so any cycle that something else made is still collected.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause cyclic collection for the duration; calls on other threads share one pause."""
    global _running
    with _lock:
        _running += 1
        if _running == 1:
            gc.disable()
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.enable()
