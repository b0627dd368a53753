"""Builds an index generation beside the live one and switches to it atomically.

A running server keeps answering from the old generation during a reindex and picks up the new one
on its next query (it watches ``current.json``; with ``INDEX_STORE=redis`` the manifest published in
Redis, see ``shared_index.py``). Corpus errors abort before anything is touched.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from backend.core.config import Settings
from backend.knowledge.corpus import parse_analytics, parse_faq
from backend.knowledge.embedding_cache import EmbeddingCache, content_hash
from backend.knowledge.embeddings import Embedder, build_embedder
from backend.knowledge.index_files import INDEX_FORMAT, IndexPaths, Manifest
from backend.knowledge.lexical import LexicalIndex
from backend.knowledge.schemas import FaqRecord, NicheRecord
from backend.knowledge.shared_index import SharedIndex
from backend.knowledge.units import (
    Unit,
    faq_lexical_document,
    faq_units,
    niche_lexical_document,
    niche_units,
    record_hash_text,
)
from backend.knowledge.vector_store import VectorStore

EMBED_BATCH = 64


@dataclass
class IndexSummary:
    generation: str
    faq_articles: int
    niches: int
    new: int
    changed: int
    removed: int
    embedded: int
    seconds: float
    unchanged: bool = False

    def describe(self) -> str:
        if self.unchanged:
            return f"no changes: {self.faq_articles} FAQ articles, {self.niches} niches ({self.seconds:.1f} s)"
        return (
            f"generation {self.generation}: {self.faq_articles} FAQ articles, {self.niches} niches; "
            f"records new {self.new}, changed {self.changed}, removed {self.removed}; "
            f"{self.embedded} texts embedded; {self.seconds:.1f} s"
        )


def load_corpora(faq_dir: Path, analytics_dir: Path) -> tuple[list[FaqRecord], list[NicheRecord]]:
    """Parse and validate both corpora (raises CorpusError with file:line)."""
    return parse_faq(faq_dir), parse_analytics(analytics_dir)


def _hashes(faq: list[FaqRecord], niches: list[NicheRecord]) -> dict[str, str]:
    hashes = {f"faq:{r.article_id}": content_hash(record_hash_text(r)) for r in faq}
    hashes.update({f"niche:{r.niche}": content_hash(record_hash_text(r)) for r in niches})
    return hashes


def _embed(cache: EmbeddingCache, units: list[Unit], label: str, progress: bool) -> np.ndarray:
    texts = [u.text for u in units]
    parts = []
    for start in tqdm(range(0, len(texts), EMBED_BATCH), desc=f"embedding {label}", disable=not progress, unit="batch"):
        parts.append(cache.embed(texts[start : start + EMBED_BATCH]))
    return np.vstack(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def build_index(
    settings: Settings,
    *,
    faq_dir: Path | None = None,
    analytics_dir: Path | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    force: bool = False,
) -> IndexSummary:
    started = time.perf_counter()
    faq, niches = load_corpora(faq_dir or settings.FAQ_CORPUS_DIR, analytics_dir or settings.ANALYTICS_CORPUS_DIR)
    paths = IndexPaths.from_settings(settings)
    shared = SharedIndex.from_settings(settings)
    embedder = embedder or build_embedder(settings)
    old = shared.manifest() if shared is not None else paths.read_manifest()
    hashes = _hashes(faq, niches)
    current = old is not None and old.model_id == embedder.model_id and old.index_format == INDEX_FORMAT
    if old is not None and current and not force and old.hashes == hashes:
        return IndexSummary(old.generation, len(faq), len(niches), 0, 0, 0, 0, time.perf_counter() - started, True)
    previous = old.hashes if old is not None and old.model_id == embedder.model_id else {}
    generation = datetime.now(UTC).strftime("g%Y%m%dt%H%M%S") + uuid.uuid4().hex[:6]
    directory = paths.generation(generation)
    directory.mkdir(parents=True, exist_ok=True)
    store = VectorStore(settings)
    cache = EmbeddingCache(paths.cache, embedder)

    faq_unit_list = [u for r in faq for u in faq_units(r)]
    niche_unit_list = [u for i, r in enumerate(niches) for u in niche_units(i, r)]
    faq_vectors = _embed(cache, faq_unit_list, "faq", progress)
    niche_vectors = _embed(cache, niche_unit_list, "analytics", progress)

    faq_collection = f"{settings.CHROMA_FAQ_COLLECTION}__{generation}"
    analytics_collection = f"{settings.CHROMA_ANALYTICS_COLLECTION}__{generation}"
    store.write_collection(
        faq_collection,
        [u.id for u in faq_unit_list],
        faq_vectors,
        [{"key": u.key, "kind": u.kind} for u in faq_unit_list],
        [u.text for u in faq_unit_list],
    )
    store.write_collection(
        analytics_collection,
        [u.id for u in niche_unit_list],
        niche_vectors,
        [{"key": u.key, "kind": u.kind} for u in niche_unit_list],
        [u.text for u in niche_unit_list],
    )
    LexicalIndex.build([faq_lexical_document(r) for r in faq]).save(directory / "faq_bm25")
    LexicalIndex.build([niche_lexical_document(r) for r in niches]).save(directory / "analytics_bm25")
    (directory / "faq.json").write_text(json.dumps([r.model_dump() for r in faq], ensure_ascii=False), "utf-8")
    (directory / "analytics.json").write_text(json.dumps([r.model_dump() for r in niches], ensure_ascii=False), "utf-8")

    manifest = Manifest(
        generation=generation,
        model_id=embedder.model_id,
        faq_collection=faq_collection,
        analytics_collection=analytics_collection,
        created_at=datetime.now(UTC).isoformat(),
        counts={"faq": len(faq), "niches": len(niches), "faq_units": len(faq_unit_list)},
        hashes=hashes,
        index_format=INDEX_FORMAT,
    )
    if shared is not None:
        shared.publish(manifest, directory)  # the atomic moment for every host
        paths.switch(manifest)
        if old is not None:
            shared.retire(old)  # deleted by a later reindex, after INDEX_GRACE_SECONDS
        for expired in shared.expired():
            if expired.generation != generation:
                _remove_generation(store, paths, expired)
            shared.forget(expired)
    else:
        paths.switch(manifest)  # the atomic moment: servers pick this up on their next query
    cache.save(keep=[u.text for u in faq_unit_list + niche_unit_list])
    if old is not None and shared is None:
        _remove_generation(store, paths, old)
    return IndexSummary(
        generation=generation,
        faq_articles=len(faq),
        niches=len(niches),
        new=sum(1 for k in hashes if k not in previous),
        changed=sum(1 for k, h in hashes.items() if k in previous and previous[k] != h),
        removed=sum(1 for k in previous if k not in hashes),
        embedded=cache.misses,
        seconds=time.perf_counter() - started,
    )


def _remove_generation(store: VectorStore, paths: IndexPaths, manifest: Manifest) -> None:
    for name in (manifest.faq_collection, manifest.analytics_collection):
        store.delete_collection(name)
    shutil.rmtree(paths.generation(manifest.generation), ignore_errors=True)


def ensure_index(settings: Settings, progress: bool = True) -> IndexSummary | None:
    """Index the configured corpora on first start (no live index yet). Returns None if one exists."""
    shared = SharedIndex.from_settings(settings)
    live = shared.manifest() if shared is not None else IndexPaths.from_settings(settings).read_manifest()
    if live is not None:
        return None
    return build_index(settings, progress=progress)
