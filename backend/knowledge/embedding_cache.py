"""Embeddings of corpus texts cached by content hash, per model: a reindex of unchanged records
embeds nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from backend.knowledge.embeddings import Embedder


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    def __init__(self, directory: Path, embedder: Embedder) -> None:
        slug = re.sub(r"[^a-zA-Z0-9._-]+", "_", embedder.model_id)
        self._path = directory / f"{slug}.npz"
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}
        self.misses = 0
        if self._path.exists():
            data = np.load(self._path)
            self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [content_hash(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._vectors]
        if missing:
            vectors = self._embedder.embed([texts[i] for i in missing])
            for i, vector in zip(missing, vectors, strict=True):
                self._vectors[keys[i]] = vector
            self.misses += len(missing)
        if not keys:
            return np.zeros((0, 1), dtype=np.float32)
        return np.vstack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self, keep: Sequence[str] | None = None) -> None:
        vectors = self._vectors
        if keep is not None:
            wanted = {content_hash(t) for t in keep}
            vectors = {k: v for k, v in vectors.items() if k in wanted}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(vectors)), vectors=np.array(list(vectors.values()), dtype=np.float32))
        tmp.replace(self._path)
