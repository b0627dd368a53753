"""Queries embedded together: the query embeddings that threads ask for while the encoder is busy are
encoded as one batch.

A local encoder streams all its weight matrices from memory for every batch, whatever its size, which
is most of what a short query costs: measured with USE on the 2-core machine, 2.2 ms of CPU per query
one at a time, 1.2 ms in batches of 4, 0.9 ms in batches of 8 (BENCHMARKS.md, "Turn cost").

A query that finds the encoder idle is encoded at once by its own thread, alone, as before. A query that
finds it busy waits for the coalescer's own thread, which encodes everything waiting as one batch when
the encoder is free, hands each thread its rows, and goes on while queries keep waiting. Only that thread
encodes batches, so only its heap grows to their working arrays (when the worker threads encoded the
batches in turn, each kept a heap as large as the largest batch it had met: measurably more resident
memory).

A row of a batch can differ from the same text encoded alone in the last bits of float32 (the matrix
products are blocked differently), about 1e-7: no routing or ranking decision reads that far.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import numpy as np

Encode = Callable[[list[str]], np.ndarray]


class _Request:
    __slots__ = ("done", "error", "rows", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.rows: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class Coalescer:
    def __init__(self, encode: Encode) -> None:
        self._encode = encode
        self._busy = threading.Lock()  # held while anything is encoded
        self._waiting: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self._busy.acquire(blocking=False):  # idle: this thread encodes its own query
            try:
                return self._encode(texts)
            finally:
                self._busy.release()
        self._started()
        request = _Request(texts)
        self._waiting.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.rows is not None
        return request.rows

    def _started(self) -> None:
        if self._thread is None:
            with self._start:
                if self._thread is None:  # on first use (a Celery worker forks before that)
                    self._thread = threading.Thread(target=self._serve, name="query-embeddings", daemon=True)
                    self._thread.start()

    def _serve(self) -> None:
        while True:
            batch = [self._waiting.get()]
            with self._busy:
                while True:  # everything that waits by the time the encoder is free
                    try:
                        batch.append(self._waiting.get_nowait())
                    except queue.Empty:
                        break
                try:
                    rows = self._encode([text for request in batch for text in request.texts])
                except Exception:  # one query's failure is not the others': each again alone
                    for request in batch:
                        self._alone(request)
                else:
                    start = 0
                    for request in batch:
                        request.rows = rows[start : start + len(request.texts)]
                        start += len(request.texts)
            for request in batch:
                request.done.set()

    def _alone(self, request: _Request) -> None:
        try:
            request.rows = self._encode(request.texts)
        except Exception as exc:
            request.error = exc
