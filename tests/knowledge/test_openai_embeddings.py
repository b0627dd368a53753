"""The ``openai`` embeddings provider against a local server speaking the real /v1/embeddings protocol."""

from __future__ import annotations

import socket
from collections.abc import Callable

import numpy as np
import pytest
from openai_standin import EMBEDDING_DIM, OpenAIStandIn, hashed_embedding

from backend.core.config import Settings
from backend.core.errors import ServiceUnavailable
from backend.knowledge.embeddings import OpenAIEmbedder, build_embedder
from backend.knowledge.indexer import build_index
from backend.knowledge.service import KnowledgeBase


def embedder(base_url: str, max_retries: int = 2) -> OpenAIEmbedder:
    return OpenAIEmbedder(api_key="k", base_url=base_url, model="hash-64", timeout=5, max_retries=max_retries)


def test_batches_of_at_most_128_in_order(fresh_standin: OpenAIStandIn) -> None:
    texts = [f"текст номер {i} про заявки" for i in range(300)]
    vectors = embedder(fresh_standin.base_url).embed(texts)
    assert [len(r["input"]) for r in fresh_standin.embedding_requests] == [128, 128, 44]
    assert all(r["model"] == "hash-64" for r in fresh_standin.embedding_requests)
    assert vectors.shape == (300, EMBEDDING_DIM) and vectors.dtype == np.float32
    expected = np.array([hashed_embedding(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-6)  # normalised, rows in input order
    assert embedder(fresh_standin.base_url).embed([]).shape[0] == 0


def test_retries_on_429_and_5xx(fresh_standin: OpenAIStandIn) -> None:
    fresh_standin.embedding_failures.extend([429, 503])
    vectors = embedder(fresh_standin.base_url, max_retries=2).embed(["как вернуть деньги"])
    assert vectors.shape == (1, EMBEDDING_DIM)
    assert len(fresh_standin.embedding_requests) == 3


def test_gives_up_with_a_clear_error_after_the_retries(fresh_standin: OpenAIStandIn) -> None:
    fresh_standin.embedding_failures.extend([500, 500, 500])
    with pytest.raises(ServiceUnavailable) as info:
        embedder(fresh_standin.base_url, max_retries=2).embed(["текст"])
    assert info.value.error_code == "EMBEDDINGS_FAILED" and info.value.status_code == 503
    assert "hash-64" in info.value.detail and len(fresh_standin.embedding_requests) == 3


def test_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nobody listens there
    base_url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ServiceUnavailable) as info:
        embedder(base_url, max_retries=0).embed(["текст"])
    assert info.value.error_code == "EMBEDDINGS_UNAVAILABLE"
    assert "недоступен" in info.value.detail and base_url in info.value.detail


async def test_index_and_search_with_the_openai_provider(
    fresh_standin: OpenAIStandIn, own_index: Callable[..., Settings]
) -> None:
    settings = own_index(
        EMBEDDINGS_PROVIDER="openai",
        OPENAI_BASE_URL=fresh_standin.base_url,
        OPENAI_API_KEY="k",
        EMBEDDINGS_MODEL="hash-64",
    )
    provider = build_embedder(settings)
    assert isinstance(provider, OpenAIEmbedder) and provider.model_id == f"openai:{fresh_standin.base_url}:hash-64"
    summary = build_index(settings)
    assert summary.embedded > 0 and all(len(r["input"]) <= 128 for r in fresh_standin.embedding_requests)
    kb = await KnowledgeBase.open(settings)
    assert (await kb.faq_search("удаление аккаунта", mode="dense"))[0].article_id == "902"
    assert (await kb.faq_search("вернуть деньги"))[0].article_id == "901"
    assert (await kb.resolve_niche("натяжные потолки")).niche == "Натяжные потолки"
