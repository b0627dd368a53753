"""The knowledge tools as an async API over the live index generation.

Blocking work (Chroma, BM25, embeddings) runs in worker threads, never on the event loop. What costs
well under a millisecond against a generation checked within the last ``RELOAD_CHECK_SECONDS`` (an
article by id, a remembered lookup, the niche probe's first test) runs inline: a thread hop costs more
CPU than such a call (BENCHMARKS.md, "Turn cost"). The service notices a new generation
(``current.json`` changed) and reloads without a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis

from backend.core.config import Settings
from backend.knowledge.calibration import RIGHT_ARTICLE, Calibration, load_calibration
from backend.knowledge.chat_words import QUESTION_WORDS, REQUEST_FORMS
from backend.knowledge.corpus import parse_faq
from backend.knowledge.embeddings import Embedder, build_embedder
from backend.knowledge.exceptions import ArticleNotFound, IndexMismatch, IndexMissing
from backend.knowledge.faq_ranking import FaqTerms, candidate_features
from backend.knowledge.hybrid import normalise, rrf, weighted_sum
from backend.knowledge.index_files import IndexPaths, Manifest
from backend.knowledge.lexical import LexicalIndex
from backend.knowledge.memo import Memo
from backend.knowledge.niches import NicheResolver, niche_terms
from backend.knowledge.normalize import STOP_WORDS, is_english, stem, to_cyrillic
from backend.knowledge.schemas import (
    FaqHit,
    FaqRecord,
    FaqResult,
    NicheAnalytics,
    NicheHit,
    NicheLookup,
    NicheRecord,
    NicheResolution,
    QuerySignals,
)
from backend.knowledge.shared_index import SharedIndex
from backend.knowledge.units import sentences
from backend.knowledge.vector_store import VectorStore, VectorStoreUnavailable

logger = logging.getLogger(__name__)

DENSE_UNITS = 60  # nearest units (title, summary, body chunks) pooled to their articles
LEXICAL_POOL = 32
DENSE_WEIGHT = 0.5  # hybrid score = 0.5 * scaled cosine + 0.5 * scaled BM25
RELOAD_CHECK_SECONDS = 1.0
# Query vectors kept by text (least recently used out): one turn embeds the same normalised text for
# the router, the niche resolver and the FAQ search. 512 x 512 float32 = 1 MiB.
QUERY_CACHE_SIZE = 512
SIGNAL_HITS = 3
MAX_HITS = 20  # faq_search / faq_lookup return at most this many
MEMO_SIZE = 256  # questions whose FAQ lookup and niche resolution each generation remembers
TOPIC_WORD = 6  # letters: a longer word the FAQ never uses names a topic it does not cover
# Words of any chat message that name no topic (request verbs, fillers), never counted as unknown.
CHAT_WORDS = (
    frozenset(REQUEST_FORMS) | QUESTION_WORDS
)  # FAQ articles whose coverage of the message counts as routing evidence


@dataclass
class _Generation:
    manifest: Manifest
    mtime: float
    faq: list[FaqRecord]
    faq_by_id: dict[str, FaqRecord]
    faq_lexical: LexicalIndex
    niches: list[NicheRecord]
    niche_by_name: dict[str, NicheRecord]
    niche_lexical: LexicalIndex
    resolver: NicheResolver
    faq_terms: FaqTerms  # the word stems of each article, its head and its sentences; their rarity
    faq_vocabulary: frozenset[str]  # every stem of the articles
    # Niche resolution runs on every analytics turn, so the analytics unit vectors (a few MB) are
    # searched in memory, well under a millisecond, instead of a Chroma round trip each time.
    niche_vectors: np.ndarray | None = None
    niche_vector_keys: list[str] = field(default_factory=list)  # the niche of each row
    niche_title_rows: dict[str, int] = field(default_factory=dict)  # the row of each niche's title
    # The FAQ unit vectors too, when the collection is small enough (VECTOR_EXACT_MAX_UNITS): an exact
    # search in memory costs microseconds where a Chroma query costs milliseconds.
    faq_vectors: np.ndarray | None = None
    faq_vector_keys: list[str] = field(default_factory=list)  # the article of each row
    faq_vector_kinds: list[str] = field(default_factory=list)  # the unit kind of each row (title, summary, body)
    faq_rows: dict[str, list[int]] = field(default_factory=dict)  # the rows of each article
    faq_exact: bool | None = None  # None: not decided yet (the store was unreachable)
    lookups: Memo[FaqResult] = field(default_factory=lambda: Memo(MEMO_SIZE))
    resolutions: Memo[NicheResolution] = field(default_factory=lambda: Memo(MEMO_SIZE))


class KnowledgeBase:
    def __init__(self, settings: Settings, embedder: Embedder, store: VectorStore) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.paths = IndexPaths.from_settings(settings)
        self.shared = SharedIndex.from_settings(settings)
        self._generation: _Generation | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()
        self.calibration = load_calibration(settings.CALIBRATION_PATH, embedder.model_id)

    @classmethod
    async def open(cls, settings: Settings, embedder: Embedder | None = None) -> KnowledgeBase:
        def build() -> KnowledgeBase:
            kb = cls(settings, embedder or build_embedder(settings), VectorStore(settings))
            kb._current()
            return kb

        return await asyncio.to_thread(build)

    async def aclose(self) -> None:
        return None

    def recalibrate(self, calibration: Calibration) -> None:
        """Apply other fitted decisions from now on (``scripts.eval.calibrate`` fits them in stages);
        what the generation remembered under the old ones is dropped."""
        self.calibration = calibration
        generation = self._generation
        if generation is not None:
            generation.lookups = Memo(MEMO_SIZE)
            generation.resolutions = Memo(MEMO_SIZE)
            generation.resolver.ranker = calibration.niche_ranker
            generation.resolver.confidence = calibration.niche_confidence
            generation.resolver.confident_at = calibration.niche_confident_at

    # --- generations ------------------------------------------------------------------------------
    def _load(self, manifest: Manifest, mtime: float) -> _Generation:
        if manifest.model_id != self.embedder.model_id:
            raise IndexMismatch(
                f"the index was built with {manifest.model_id} but the configured embedder is "
                f"{self.embedder.model_id}; rebuild it: python -m scripts.reindex index"
            )
        directory = self.paths.generation(manifest.generation)
        faq = [FaqRecord(**r) for r in json.loads((directory / "faq.json").read_text("utf-8"))]
        niches = [NicheRecord(**r) for r in json.loads((directory / "analytics.json").read_text("utf-8"))]

        def semantic(text: str, k: int) -> list[tuple[str, float]]:
            return self._semantic_niches(generation, text, k)

        def lexical(text: str, k: int) -> list[tuple[str, float]]:
            return [(generation.niches[i].niche, score) for i, score in generation.niche_lexical.search(text, k)]

        def closeness(niche: str, rivals: list[str]) -> float:
            return self._niche_closeness(generation, niche, rivals)

        generation = _Generation(
            manifest=manifest,
            mtime=mtime,
            faq=faq,
            faq_by_id={r.article_id: r for r in faq},
            faq_lexical=LexicalIndex.load(directory / "faq_bm25", len(faq)),
            niches=niches,
            niche_by_name={r.niche: r for r in niches},
            niche_lexical=LexicalIndex.load(directory / "analytics_bm25", len(niches)),
            resolver=NicheResolver(
                niches,
                semantic,
                lexical,
                closeness,
                ranker=self.calibration.niche_ranker,
                confidence=self.calibration.niche_confidence,
                confident_at=self.calibration.niche_confident_at,
            ),
            faq_terms=(
                terms := FaqTerms.build(
                    body={r.article_id: _article_stems(r) for r in faq},
                    head={r.article_id: _content_stems(" ".join([r.title, *r.tags, r.summary])) for r in faq},
                    sentences={
                        r.article_id: tuple(_content_stems(s) for s in sentences(f"{r.summary}\n{r.text}")) for r in faq
                    },
                )
            ),
            faq_vocabulary=frozenset().union(*terms.body.values()),
        )
        self._niche_space(generation)  # fetch the niche vectors now, not on the first question
        self._faq_space(generation)
        return generation

    def _current(self, force: bool = False) -> _Generation:
        generation = None if force else self._fresh()
        if generation is not None:
            return generation
        with self._lock:
            self._checked_at = time.monotonic()
            self._sync_shared()
            try:
                mtime = self.paths.current.stat().st_mtime
            except FileNotFoundError as exc:
                raise IndexMissing from exc
            if self._generation is None or force or mtime != self._generation.mtime:
                manifest = self.paths.read_manifest()
                if manifest is None:
                    raise IndexMissing
                if self._generation is None or manifest.generation != self._generation.manifest.generation:
                    self._generation = self._load(manifest, mtime)
                    logger.info("knowledge index loaded", extra={"generation": manifest.generation})
            assert self._generation is not None
            return self._generation

    def _sync_shared(self) -> None:
        """``INDEX_STORE=redis``: mirror the generation published in Redis into the local cache."""
        if self.shared is None:
            return
        try:
            if self.shared.sync():
                logger.info("knowledge index generation received from the shared store")
        except (redis.RedisError, OSError) as exc:  # keep answering from the generation we have
            if self._generation is None and not self.paths.current.exists():
                raise
            logger.warning("shared index not reachable, keeping the loaded generation", extra={"error": str(exc)})

    def _fresh(self) -> _Generation | None:
        """The live generation if it was checked within ``RELOAD_CHECK_SECONDS`` (then using it needs no
        file or Redis access, so a cheap call can run on the event loop), else None."""
        generation = self._generation
        if generation is not None and time.monotonic() - self._checked_at < RELOAD_CHECK_SECONDS:
            return generation
        return None

    def _with_retry(self, action: Any) -> Any:
        """Run against the live generation; if it was switched mid-call, reload once and retry."""
        try:
            return action(self._current())
        except Exception:
            if self.paths.read_manifest() is None:
                raise
            return action(self._current(force=True))

    # --- embeddings -----------------------------------------------------------------------------------
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, each distinct text embedded once while it stays among the last
        ``QUERY_CACHE_SIZE`` texts; the rows returned are copies."""
        keys = [to_cyrillic(t) or t for t in texts]
        if not keys:
            return self.embedder.embed_queries(keys)
        found: dict[str, np.ndarray] = {}
        with self._query_lock:
            for key in keys:
                row = self._query_vectors.get(key)
                if row is not None:
                    self._query_vectors.move_to_end(key)
                    found[key] = row
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            fresh = self.embedder.embed_queries(missing)
            with self._query_lock:
                for key, row in zip(missing, fresh, strict=True):
                    found[key] = self._query_vectors[key] = row
                    self._query_vectors.move_to_end(key)
                while len(self._query_vectors) > QUERY_CACHE_SIZE:
                    self._query_vectors.popitem(last=False)
        return np.stack([found[key] for key in keys])

    def cached_query(self, text: str) -> np.ndarray | None:
        """The query vector of ``text`` if ``encode_queries`` still remembers it (a copy), else None."""
        with self._query_lock:
            row = self._query_vectors.get(to_cyrillic(text) or text)
            return None if row is None else row.copy()

    def _dense_units(self, gen: _Generation, text: str) -> tuple[dict[str, dict[str, float]], float]:
        """The nearest FAQ units pooled per article and unit kind (article -> kind -> best cosine),
        and the lowest cosine retrieved. In memory, the candidates' every unit is scored; from
        Chroma, only the ``DENSE_UNITS`` nearest."""
        vector = self.encode_queries([text])[0]
        vectors, keys = self._faq_space(gen)
        if keys:
            similarities = vectors @ vector
            nearest = np.argsort(-similarities)[:DENSE_UNITS]
            rows = [row for key in dict.fromkeys(keys[r] for r in nearest) for row in gen.faq_rows[key]]
            units = [(keys[r], gen.faq_vector_kinds[r], float(similarities[r])) for r in rows]
            floor = float(similarities.min())
        else:
            try:
                dense_hits = self.store.query(gen.manifest.faq_collection, vector, DENSE_UNITS)
            except VectorStoreUnavailable as exc:  # degrade to the lexical half; /health reports the store down
                logger.warning("vector store unavailable, lexical retrieval only", extra={"error": exc.detail})
                return {}, 0.0
            units = [(str(h.metadata.get("key")), str(h.metadata.get("kind")), 1.0 - h.distance) for h in dense_hits]
            floor = min((cosine for _, _, cosine in units), default=0.0)
        by_kind: dict[str, dict[str, float]] = {}
        for key, kind, cosine in units:
            kinds = by_kind.setdefault(key, {})
            kinds[kind] = max(kinds.get(kind, -1.0), cosine)
        return by_kind, floor

    def _semantic(self, vectors: np.ndarray, keys: list[str], text: str, k: int) -> list[tuple[str, float]]:
        """Nearest records by cosine over in-memory unit vectors, pooled by record (max): the best
        ``max(3k, 30)`` units, at most ``k`` records."""
        if not keys:
            return []
        similarities = vectors @ self.encode_queries([text])[0]
        best: dict[str, float] = {}
        for row in np.argsort(-similarities)[: max(k * 3, 30)]:
            key = keys[row]
            best.setdefault(key, float(similarities[row]))
        return sorted(best.items(), key=lambda item: item[1], reverse=True)[:k]

    def _faq_space(self, gen: _Generation) -> tuple[np.ndarray, list[str]]:
        """The FAQ unit vectors in memory, or nothing when the collection is above the size limit
        (or the store is unreachable now: tried again on the next question)."""
        if gen.faq_exact is None:
            name = gen.manifest.faq_collection
            try:
                gen.faq_exact = self.store.count(name) <= self.settings.VECTOR_EXACT_MAX_UNITS
                if gen.faq_exact:
                    metadatas, gen.faq_vectors = self.store.vectors(name)
                    gen.faq_vector_keys = [str(m.get("key")) for m in metadatas]
                    gen.faq_vector_kinds = [str(m.get("kind")) for m in metadatas]
                    for row, key in enumerate(gen.faq_vector_keys):
                        gen.faq_rows.setdefault(key, []).append(row)
            except VectorStoreUnavailable as exc:
                gen.faq_exact = None
                logger.warning("vector store unavailable, FAQ vectors not loaded", extra={"error": exc.detail})
        if gen.faq_vectors is None:
            return np.zeros((0, 1), dtype=np.float32), []
        return gen.faq_vectors, gen.faq_vector_keys

    def _niche_space(self, gen: _Generation) -> tuple[np.ndarray, list[str]]:
        if gen.niche_vectors is None:
            try:
                metadatas, vectors = self.store.vectors(gen.manifest.analytics_collection)
            except VectorStoreUnavailable as exc:  # fuzzy matching still works; retried on the next question
                logger.warning("vector store unavailable, niche matching by name only", extra={"error": exc.detail})
                return np.zeros((0, 1), dtype=np.float32), []
            gen.niche_vector_keys = [str(m.get("key")) for m in metadatas]
            gen.niche_title_rows = {
                str(m.get("key")): row for row, m in enumerate(metadatas) if m.get("kind") == "title"
            }
            gen.niche_vectors = vectors
        return gen.niche_vectors, gen.niche_vector_keys

    def _niche_closeness(self, gen: _Generation, niche: str, rivals: list[str]) -> float:
        """The best cosine between the title vector of ``niche`` and those of ``rivals``."""
        vectors, _ = self._niche_space(gen)
        row = gen.niche_title_rows.get(niche)
        others = [gen.niche_title_rows[r] for r in rivals if r in gen.niche_title_rows]
        if row is None or not others:
            return 0.0
        return float((vectors[others] @ vectors[row]).max())

    def niche_closeness(self, niche: str, rivals: list[str]) -> float:
        result: float = self._with_retry(lambda g: self._niche_closeness(g, niche, rivals))
        return result

    def _semantic_niches(self, gen: _Generation, text: str, k: int) -> list[tuple[str, float]]:
        vectors, keys = self._niche_space(gen)
        return self._semantic(vectors, keys, text, k)

    # --- FAQ -------------------------------------------------------------------------------------------
    def _faq_search(
        self, gen: _Generation, query: str, n: int, exclude: str | None, mode: str = "hybrid"
    ) -> list[FaqHit]:
        by_kind: dict[str, dict[str, float]] = {}
        floor = 0.0
        lexical: list[tuple[str, float]] = []
        if mode != "lexical":
            by_kind, floor = self._dense_units(gen, query)
        dense = sorted(((a, max(kinds.values())) for a, kinds in by_kind.items()), key=lambda i: i[1], reverse=True)
        if mode != "dense":
            lexical = [(gen.faq[i].article_id, score) for i, score in gen.faq_lexical.search(query, LEXICAL_POOL)]
        features = candidate_features(by_kind, dict(lexical), _content_stems(query), gen.faq_terms, floor)
        ranker = self.calibration.faq_ranker
        if mode == "hybrid" and ranker is not None and dense:
            # The fitted ranker: the probability that each candidate answers the question.
            probabilities = ranker.probability_of(RIGHT_ARTICLE, list(features.values()))
            fused = sorted(zip(features, probabilities, strict=True), key=lambda item: item[1], reverse=True)
        elif mode == "hybrid":
            # Convex fusion: dense cosines scaled over the retrieved pool, BM25 scaled by its best score.
            fused = weighted_sum([normalise(dense), normalise(lexical, floor=0.0)], [DENSE_WEIGHT, 1 - DENSE_WEIGHT])
        else:
            fused = dense or lexical
        raw_dense, raw_lexical = dict(dense), dict(lexical)
        hits: list[FaqHit] = []
        for article_id, score in fused:
            if len(hits) == n:  # the rest would be cut off
                break
            if article_id == exclude or article_id not in gen.faq_by_id:
                continue
            record = gen.faq_by_id[article_id]
            evidence = features[article_id]
            hits.append(
                FaqHit(
                    article_id=article_id,
                    title=record.title,
                    summary=record.summary,
                    tags=record.tags,
                    meta_tags=record.meta_tags,
                    score=round(score, 6),
                    dense=round(raw_dense.get(article_id, 0.0), 6),
                    lexical=round(raw_lexical.get(article_id, 0.0), 6),
                    coverage=round(evidence["coverage"], 4),
                    sentence_coverage=round(evidence["sentence_coverage"], 4),
                    weighted_coverage=round(evidence["weighted_coverage"], 4),
                )
            )
        return hits

    def faq_candidates(self, query: str) -> dict[str, dict[str, float]]:
        """The FAQ ranker's features of every candidate article (for fitting it on a labelled corpus)."""

        def collect(gen: _Generation) -> dict[str, dict[str, float]]:
            by_kind, floor = self._dense_units(gen, query)
            lexical = dict((gen.faq[i].article_id, s) for i, s in gen.faq_lexical.search(query, LEXICAL_POOL))
            wanted = _content_stems(query)
            return candidate_features(by_kind, lexical, wanted, gen.faq_terms, floor)

        found: dict[str, dict[str, float]] = self._with_retry(collect)
        return found

    def _signals(self, gen: _Generation, text: str) -> QuerySignals:
        found = self._faq_lookup(gen, text, SIGNAL_HITS, None)
        hits = found.hits
        niche_vectors, _ = self._niche_space(gen)
        semantic = self._semantic_niches(gen, text, 1) if len(niche_vectors) else []
        return QuerySignals(
            faq_dense=max((h.dense for h in hits), default=0.0),
            faq_lexical=max((h.lexical for h in hits), default=0.0),
            faq_coverage=max((h.coverage for h in hits), default=0.0),
            faq_known_share=found.known_share,
            niche_semantic=semantic[0][1] if semantic else 0.0,
            niche_name_share=gen.resolver.name_share(text),
        )

    async def signals(self, text: str) -> QuerySignals:
        """How well ``text`` matches the live FAQ and niche list (routing evidence from the index)."""
        result: QuerySignals = await asyncio.to_thread(self._with_retry, lambda g: self._signals(g, text))
        return result

    async def faq_search(
        self, query: str, n_results: int = 5, last_article_id: str | None = None, mode: str = "hybrid"
    ) -> list[FaqHit]:
        n = max(1, min(n_results, MAX_HITS))
        return await asyncio.to_thread(self._with_retry, lambda g: self._faq_search(g, query, n, last_article_id, mode))

    def _faq_lookup(self, gen: _Generation, query: str, n: int, exclude: str | None) -> FaqResult:
        """Remembered per generation (the router's signals and the FAQ tool ask the same question in
        one turn), except a lookup made while the vector store was down."""
        found = gen.lookups.get(
            (query, exclude), lambda: self._lookup(gen, query, exclude), keep=lambda r: not r.dense_missing
        )
        return found.model_copy(update={"hits": found.hits[:n]})

    def _lookup(self, gen: _Generation, query: str, exclude: str | None) -> FaqResult:
        words = [w for w in to_cyrillic(query).split() if w not in STOP_WORDS and len(w) > 1 and not w.isdigit()]
        corrected = [w for w in gen.faq_lexical.speller.correct_all(words) if w not in CHAT_WORDS]
        wanted = {stem(w) for w in corrected}
        known = len(wanted & gen.faq_vocabulary)
        hits = self._faq_search(gen, query, MAX_HITS, exclude)
        first = gen.faq_terms.body[hits[0].article_id] if hits else frozenset()
        return FaqResult(
            hits=hits,
            dense_missing=bool(hits) and all(h.dense == 0.0 for h in hits),
            known_share=round(known / len(wanted), 4) if wanted else 1.0,
            unknown_words=len(wanted) - known,
            unknown_topic_words=len({stem(w) for w in corrected if len(w) >= TOPIC_WORD} - gen.faq_vocabulary),
            content_words=len(wanted),
            missing_in_first=len((wanted & gen.faq_vocabulary) - first),
            english=is_english(query),
            sentence_count=len([s for s in re.split(r"[.!?]+", query) if len(s.strip()) > 3]),
        )

    async def faq_lookup(self, query: str, n_results: int = 5, last_article_id: str | None = None) -> FaqResult:
        """``faq_search`` plus how much of the question the FAQ knows (the answer gate's evidence)."""
        n = max(1, min(n_results, MAX_HITS))
        gen = self._fresh()
        remembered = gen.lookups.peek((query, last_article_id)) if gen is not None else None
        if remembered is not None:  # the router's signals looked it up in this turn: no thread needed
            return remembered.model_copy(update={"hits": remembered.hits[:n]})
        result: FaqResult = await asyncio.to_thread(
            self._with_retry, lambda g: self._faq_lookup(g, query, n, last_article_id)
        )
        return result

    async def faq_get_by_id(self, article_id: str) -> FaqRecord:
        def find(gen: _Generation) -> FaqRecord | None:
            return gen.faq_by_id.get(str(article_id).strip())

        gen = self._fresh()
        record = find(gen) if gen is not None else await asyncio.to_thread(self._with_retry, find)
        if record is None:  # not in the live index: the corpus files may be newer than the index
            records = await asyncio.to_thread(parse_faq, self.settings.FAQ_CORPUS_DIR)
            record = next((r for r in records if r.article_id == str(article_id).strip()), None)
        if record is None:
            raise ArticleNotFound(f"Статья {article_id} не найдена.")
        return record

    # --- analytics ----------------------------------------------------------------------------------------
    async def resolve_niche(self, text: str, show: int = 5) -> NicheResolution:
        return await asyncio.to_thread(self._with_retry, lambda g: self._resolve(g, text, show))

    async def niche_mention(self, text: str) -> NicheResolution:
        """``resolve_niche`` as far as the niche probe reads it. The probe keeps a resolution only when
        a word of the message is ``alike`` a word of the niche's title, or the message is that niche's
        exact title or alias; so when no word of it is alike any title word, the resolution stops after
        the exact step (the empty resolution if that finds nothing) instead of ranking all the niches,
        which most messages, naming no niche, used to pay for. That test and the exact step (tens of
        microseconds) run inline; a ranking goes to a worker thread."""
        gen = self._fresh()
        if gen is not None and not gen.resolver.alike_title_word(niche_terms(text)):
            return self._mention(gen, text)  # no ranking: inline
        return await asyncio.to_thread(self._with_retry, lambda g: self._mention(g, text))

    @classmethod
    def _mention(cls, gen: _Generation, text: str) -> NicheResolution:
        if gen.resolver.alike_title_word(niche_terms(text)):
            return cls._resolve(gen, text)
        return gen.resolver.exact(text) or NicheResolution()

    @staticmethod
    def _resolve(gen: _Generation, text: str, show: int = 5) -> NicheResolution:
        """Remembered per generation (the niche probe and the analytics tool often resolve the same
        words), except while the niche vectors are missing (the vector store was down)."""
        return gen.resolutions.get(
            (text, show), lambda: gen.resolver.resolve(text, show), keep=lambda _: gen.niche_vectors is not None
        )

    def niche_candidates(self, text: str) -> dict[str, dict[str, float]]:
        """The niche ranker's features of every candidate niche (for fitting it on a labelled corpus)."""
        found: dict[str, dict[str, float]] = self._with_retry(lambda g: g.resolver.candidates(text))
        return found

    async def analytics_titles_search(self, query: str, n_results: int = 5) -> list[NicheHit]:
        n = max(3, min(n_results, 25))

        def search(gen: _Generation) -> list[NicheHit]:
            resolution = self._resolve(gen, query, n)
            if resolution.niche:
                head = [NicheHit(niche=resolution.niche, category=gen.resolver.category(resolution.niche), score=1.0)]
                others = [
                    NicheHit(niche=name, category=gen.resolver.category(name), score=round(score, 4))
                    for name, score in self._semantic_niches(gen, query, n)
                    if name != resolution.niche
                ]
                return (head + others)[:n]
            return resolution.candidates[:n]

        return await asyncio.to_thread(self._with_retry, search)

    async def analytics_titles_random(self, n: int = 5) -> list[str]:
        gen: _Generation = await asyncio.to_thread(self._with_retry, lambda g: g)
        count = min(len(gen.niches), max(5, min(n, 30)))  # 5..30, never more than the corpus holds
        return [r.niche for r in random.sample(gen.niches, count)]

    async def analytics_search(self, query: str, n_results: int = 5) -> list[NicheHit]:
        def search(gen: _Generation) -> list[NicheHit]:
            dense = [name for name, _ in self._semantic_niches(gen, query, 25)]
            lexical = [gen.niches[i].niche for i, _ in gen.niche_lexical.search(query, 25)]
            return [
                NicheHit(niche=name, category=gen.resolver.category(name), score=round(score, 6))
                for name, score in rrf([dense, lexical])[: max(1, min(n_results, 25))]
            ]

        return await asyncio.to_thread(self._with_retry, search)

    async def analytics_get_by_niche(self, niche: str) -> NicheLookup:
        def lookup(gen: _Generation, resolution: NicheResolution | None = None) -> NicheLookup:
            if resolution is None:
                resolution = self._resolve(gen, niche)  # resolve and read in one generation
            if resolution.niche is None:
                return NicheLookup(candidates=resolution.candidates[: resolution.show])
            record = gen.niche_by_name[resolution.niche]
            found = NicheAnalytics(
                niche=record.niche, category=record.category, analytics=record.analytics, table=record.table
            )
            return NicheLookup(**found.model_dump())

        gen = self._fresh()
        # A niche title or alias (what the niche probe hands over) resolves in the exact step: inline.
        exact = gen.resolver.exact(niche) if gen is not None else None
        if gen is not None and exact is not None and exact.niche is not None:
            return lookup(gen, exact)
        result: NicheLookup = await asyncio.to_thread(self._with_retry, lookup)
        return result

    # --- health ------------------------------------------------------------------------------------------
    async def health_check(self) -> None:
        def check() -> None:
            self.store.heartbeat()
            gen = self._current()
            self.store.count(gen.manifest.faq_collection)

        await asyncio.to_thread(check)


def _content_stems(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in to_cyrillic(text).split() if w not in STOP_WORDS and len(w) > 1)


def _article_stems(record: FaqRecord) -> frozenset[str]:
    return _content_stems(" ".join([record.title, record.summary, " ".join(record.tags), record.text]))
