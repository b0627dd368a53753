"""The cyclic garbage collector's view of a long-running process's heap.

After startup an API worker holds about 244,000 tracked objects (modules, the knowledge index, the
router, the tokenizer) that live as long as the process. Python's full collection walks all of them:
70-90 ms on this project's benchmark machine, paid a few times a minute under load, on the event loop
(a pause for every request in flight). ``gc.freeze()`` moves them to a permanent generation that
collections skip; a full collection then walks only what was created since (about 5 ms).
A larger first-generation threshold makes the young collections fewer (a turn creates ~1,400
container objects, most gone by the end of it). Figures: BENCHMARKS.md, "Seventh round".
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (5000, 20, 10)  # Python 3.11's defaults are (700, 10, 10)


@contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """While the block runs, what exists now is left out of garbage collections.

    Entered once startup has built what the process keeps; on exit (shutdown) everything is
    collectable again, so a process that builds and discards apps (the tests) frees them.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
