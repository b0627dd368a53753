"""Concurrent query embeddings go in one batch, and each thread gets its own rows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from backend.knowledge.coalescing import Coalescer
from backend.knowledge.embeddings import LocalEmbedder


def test_concurrent_queries_share_batches_and_get_their_own_rows() -> None:
    embedder = LocalEmbedder()
    batches: list[int] = []
    started = threading.Event()

    def encode(texts: list[str]) -> np.ndarray:
        batches.append(len(texts))
        started.set()
        return embedder.embed(texts)

    coalescer = Coalescer(encode)
    texts = [f"сколько стоит подписка {n}" for n in range(24)]
    with ThreadPoolExecutor(8) as pool:
        rows = list(pool.map(lambda n: coalescer([texts[n], texts[n + 12]]), range(12)))
    alone = {text: embedder.embed([text])[0] for text in texts}
    for n, pair in enumerate(rows):
        assert pair.shape == (2, 512)
        assert np.allclose(pair[0], alone[texts[n]], atol=1e-5) and np.allclose(
            pair[1], alone[texts[n + 12]], atol=1e-5
        )
    assert sum(batches) == 24 and len(batches) < 12  # some requests waited and went together


def test_a_query_on_an_idle_encoder_goes_alone_and_errors_reach_every_query_of_the_batch() -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        if "bad" in texts:
            raise ValueError("cannot encode")
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    coalescer = Coalescer(encode)
    assert coalescer(["abc"]).tolist() == [[3.0]] and calls == [["abc"]]
    with pytest.raises(ValueError, match="cannot encode"):
        coalescer(["bad"])
    assert coalescer(["ab", "abcd"]).tolist() == [[2.0], [4.0]]  # the failure left nothing behind


def test_a_failing_query_in_a_batch_fails_alone() -> None:
    """Queries that waited together: one that cannot be encoded fails, the others get their rows."""
    busy, go = threading.Event(), threading.Event()
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        if texts == ["slow"]:
            busy.set()
            go.wait(5)
        if "bad" in texts:
            raise ValueError("cannot encode")
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    coalescer = Coalescer(encode)
    with ThreadPoolExecutor(3) as pool:
        slow = pool.submit(coalescer, ["slow"])  # finds the encoder idle: encoded by its own thread
        assert busy.wait(5)
        bad, good = pool.submit(coalescer, ["bad"]), pool.submit(coalescer, ["good", "ok"])
        time.sleep(0.3)  # both are waiting for the encoder
        go.set()
        assert slow.result(5).tolist() == [[4.0]]
        assert good.result(5).tolist() == [[4.0], [2.0]]
        with pytest.raises(ValueError, match="cannot encode"):
            bad.result(5)
    assert sorted(map(len, calls)) == [1, 1, 2, 3]  # slow; the batch of three; then bad and good alone
