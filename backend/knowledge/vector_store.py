"""Chroma, the only module that imports ``chromadb``.

Embedded ``PersistentClient`` under VAR_DIR by default; ``HttpClient`` to a ``chroma run`` server
when CHROMA_HOST is set. Calls are synchronous here; the service runs them in worker threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings

from backend.core.config import Settings
from backend.core.errors import ServiceUnavailable

MAX_HANDLES = 16  # collection handles kept (two per index generation)


@dataclass(frozen=True)
class VectorHit:
    id: str
    distance: float
    metadata: dict[str, Any]


class VersionSkew(ServiceUnavailable):
    error_code = "VECTOR_STORE_VERSION_SKEW"


class VectorStoreUnavailable(ServiceUnavailable):
    """The Chroma server cannot be reached (refused, reset, timed out)."""

    error_code = "VECTOR_STORE_UNAVAILABLE"


class VectorStoreRefused(ServiceUnavailable):
    """The Chroma server (its nginx) refused our bearer token: a configuration error, found at start-up."""

    error_code = "VECTOR_STORE_REFUSED"


class VectorStore:
    def __init__(self, settings: Settings) -> None:
        options = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if settings.CHROMA_HOST:
            token = settings.CHROMA_TOKEN
            where = f"{settings.CHROMA_HOST}:{settings.CHROMA_PORT}"
            try:
                self._client: Any = chromadb.HttpClient(
                    host=settings.CHROMA_HOST,
                    port=settings.CHROMA_PORT,
                    settings=options,
                    headers={"Authorization": f"Bearer {token}"} if token else None,
                )
                self._check_version()
            except VersionSkew:
                raise
            except Exception as exc:
                if not _refused(exc):
                    raise
                problem = "refused CHROMA_TOKEN" if token else "requires a token and CHROMA_TOKEN is empty"
                raise VectorStoreRefused(
                    f"The Chroma server at {where} {problem} (HTTP 401/403); "
                    "set CHROMA_TOKEN to the token its nginx site expects."
                ) from exc
        else:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=options)
        # A generation's collections never change under their name, so a query reuses the handle
        # (get_collection is a round trip to the server, or a catalogue read when embedded).
        self._handles: dict[str, Any] = {}
        self._handles_lock = threading.Lock()

    def _collection(self, name: str) -> Any:
        handle = self._handles.get(name)
        if handle is None:
            handle = self._client.get_collection(name, embedding_function=None)
            with self._handles_lock:
                if len(self._handles) >= MAX_HANDLES:
                    self._handles.clear()
                self._handles[name] = handle
        return handle

    def _forget(self, name: str) -> None:
        with self._handles_lock:
            self._handles.pop(name, None)

    def _check_version(self) -> None:
        """Refuse a server of another major version (0.x speaks the v1 API, 1.x the v2 API).

        Only the major version can be compared: every 1.x server (Rust) reports "1.0.0" on
        /api/v2/version whatever its release (chroma-core/chroma#4849)."""
        server = str(self._client.get_version())
        client = chromadb.__version__
        if server.split(".")[0] != client.split(".")[0]:
            raise VersionSkew(
                f"Chroma server {server} and client {client} differ in major version; "
                f"run a {client} server (`chroma run`) or install a client matching the server."
            )

    def heartbeat(self) -> None:
        self._client.heartbeat()

    def write_collection(
        self, name: str, ids: list[str], embeddings: np.ndarray, metadatas: list[dict[str, Any]], documents: list[str]
    ) -> None:
        """Create ``name`` afresh and fill it (callers use a new name per index generation)."""
        self.delete_collection(name)
        collection = self._client.create_collection(name, embedding_function=None, metadata={"hnsw:space": "cosine"})
        for start in range(0, len(ids), 1000):
            end = start + 1000
            collection.add(
                ids=ids[start:end],
                embeddings=embeddings[start:end],
                metadatas=metadatas[start:end],
                documents=documents[start:end],
            )

    def query(self, name: str, embedding: np.ndarray, n_results: int) -> list[VectorHit]:
        def run() -> Any:
            return self._collection(name).query(
                query_embeddings=[embedding], n_results=n_results, include=["distances", "metadatas"]
            )

        try:
            try:
                result = run()
            except (httpx.TransportError, ConnectionError):
                raise
            except Exception:  # a stale handle: the collection was dropped or rebuilt under its name
                self._forget(name)
                result = run()
        except (httpx.TransportError, ConnectionError) as exc:
            raise VectorStoreUnavailable(f"Chroma is unreachable: {type(exc).__name__}: {exc}") from exc
        return [
            VectorHit(id=str(i), distance=float(d), metadata=dict(m or {}))
            for i, d, m in zip(result["ids"][0], result["distances"][0], result["metadatas"][0], strict=True)
        ]

    def vectors(self, name: str) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Every vector of a collection with its metadata (for small collections kept in memory)."""
        try:
            collection = self._client.get_collection(name, embedding_function=None)
            result = collection.get(include=["embeddings", "metadatas"])
        except (httpx.TransportError, ConnectionError) as exc:
            raise VectorStoreUnavailable(f"Chroma is unreachable: {type(exc).__name__}: {exc}") from exc
        metadatas = [dict(m or {}) for m in result["metadatas"]]
        return metadatas, np.asarray(result["embeddings"], dtype=np.float32).reshape(len(metadatas), -1)

    def count(self, name: str) -> int:
        try:
            return int(self._client.get_collection(name, embedding_function=None).count())
        except (httpx.TransportError, ConnectionError) as exc:
            raise VectorStoreUnavailable(f"Chroma is unreachable: {type(exc).__name__}: {exc}") from exc

    def delete_collection(self, name: str) -> None:
        self._forget(name)
        if name in self.collection_names():
            self._client.delete_collection(name)

    def collection_names(self) -> list[str]:
        return [c if isinstance(c, str) else c.name for c in self._client.list_collections()]


def _refused(exc: BaseException) -> bool:
    """Whether a client error is the server (its nginx) refusing our credentials."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (401, 403)
    text = f"{type(exc).__name__} {exc}"
    return any(mark in text for mark in ("401", "403", "Unauthorized", "Forbidden", "AuthError"))
