"""Queries embedded together: the query embeddings that threads ask for at the same moment are encoded
as one batch.

A local encoder streams all its weight matrices from memory for every batch, whatever its size, which
is most of what a short query costs: measured with USE on the 2-core machine, 2.2 ms of CPU per query
one at a time, 1.2 ms in batches of 4, 0.9 ms in batches of 8 (BENCHMARKS.md, "Turn cost"). While one
batch is encoded, the queries that arrive wait, and go together in the next; a query that finds the
encoder idle goes at once, alone (no waiting for company, so a quiet server is as fast as before).

No thread of its own: the thread whose query finds the encoder idle encodes (its batch, then no more:
it hands the queries that arrived meanwhile to one of their threads, which encodes them next).
A row of a batch can differ from the same text encoded alone in the last bits of float32 (the
matrix products are blocked differently), about 1e-7: no routing or ranking decision reads that far.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

Encode = Callable[[list[str]], np.ndarray]


class _Request:
    __slots__ = ("done", "error", "lead", "rows", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.rows: np.ndarray | None = None
        self.error: BaseException | None = None
        self.lead = False  # this request's thread encodes the next batch
        self.done = threading.Event()  # rows or error set, or told to lead


class Coalescer:
    def __init__(self, encode: Encode) -> None:
        self._encode = encode
        self._lock = threading.Lock()
        self._waiting: list[_Request] = []
        self._busy = False  # a thread is encoding, or was told to

    def __call__(self, texts: list[str]) -> np.ndarray:
        request = _Request(texts)
        with self._lock:
            self._waiting.append(request)
            request.lead = not self._busy
            self._busy = True
        if not request.lead:
            request.done.wait()
            request.done.clear()  # set again when a batch delivers this request's rows
        if request.lead:  # this thread encodes everything waiting, its own query included
            self._run()
        if request.error is not None:
            raise request.error
        assert request.rows is not None
        return request.rows

    def _run(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            rows = self._encode([text for request in batch for text in request.texts])
        except BaseException as exc:  # every query of the batch fails as its own would have
            for request in batch:
                request.error = exc
        else:
            start = 0
            for request in batch:
                request.rows = rows[start : start + len(request.texts)]
                start += len(request.texts)
        for request in batch:
            request.lead = False
            if request.rows is not None or request.error is not None:
                request.done.set()
        with self._lock:  # the queries that arrived meanwhile: one of their threads encodes them next
            if self._waiting:
                following = self._waiting[0]
                following.lead = True
                following.done.set()
            else:
                self._busy = False
